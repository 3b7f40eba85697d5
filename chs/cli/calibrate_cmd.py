"""`chs calibrate`: propose weights fitted on past churn, checked on a later period (DESIGN 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chs.cli import common
from chs.cli.common import handle_errors, log, out, parse_date


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(m: dict) -> str:
    ci = m.get("auc_ci")
    return f"{_f(ci[0])}–{_f(ci[1])}" if ci else "–"


def _tables(result: dict) -> list[Any]:
    from rich.table import Table
    labels = result["labels"]
    weights = Table(title="Weights (hand -> proposed; siblings keep their hand total)", title_justify="left")
    for col in ("node", "label", "hand", "proposed", "train AUC", "note"):
        weights.add_column(col, justify="right" if col in ("hand", "proposed", "train AUC") else "left")
    wrong = set(result["wrong_way"])
    for path, (old, new) in result["weights"].items():
        note = "points the wrong way" if path in wrong else ("switched off" if new == 0 and old > 0 else "")
        weights.add_row("  " * path.count(".") + path, labels.get(path, ""), f"{old:g}", f"{new:.2f}",
                        _f(result["train"]["nodes"].get(path)), note)
    out_tables = [weights]
    test = result["test"]
    compare = Table(title=f"Hand vs proposed, horizon {result['horizon']}", title_justify="left")
    for col in ("period", "config", "pairs", "churned", "AUC", "95% interval", "lift 10%", "lift 20%"):
        compare.add_column(col, justify="left" if col in ("period", "config") else "right")
    train = result["train"]
    period = f"train {train['from']}..{train['to']} (in sample)"
    for name, m in (("hand", train["hand"]), ("proposed", train["proposed_in_sample"])):
        compare.add_row(period, name, f"{m['n']:,}", f"{m['positives']:,}", _f(m["auc"]), "–",
                        _f(m["lift_10"], 2), _f(m["lift_20"], 2))
    if test:
        period = f"test {test['from']}..{test['to']} (held out)"
        for name in ("hand", "proposed"):
            m = test[name]
            compare.add_row(period, name, f"{m['n']:,}", f"{m['positives']:,}", _f(m["auc"]), _ci(m),
                            _f(m["lift_10"], 2), _f(m["lift_20"], 2))
    out_tables.append(compare)
    if result["screened"]:
        cand = Table(title="Declared variables not in the tree (train AUC; >= 0.55 worth adding)",
                     title_justify="left")
        for col in ("variable", "AUC", "direction", "coverage", "proposed scale"):
            cand.add_column(col, justify="right" if col in ("AUC", "coverage") else "left")
        for c in result["screened"]:
            cand.add_row(c["variable"] + (" *" if c["worth_adding"] else ""), _f(c["auc"]), c["direction"],
                         f"{100 * c['coverage']:.0f}%", json.dumps(c["scale"]))
        out_tables.append(cand)
    return out_tables


@handle_errors
def calibrate_cmd(
    train_from: Annotated[str, typer.Option("--train-from", help="First training snapshot date.")],
    train_to: Annotated[str, typer.Option("--train-to", help="Last training snapshot date.")],
    test_from: Annotated[str | None, typer.Option(
        "--test-from", help="First held-out snapshot (default: train-to + horizon).")] = None,
    test_to: Annotated[str | None, typer.Option(
        "--test-to", help="Last held-out snapshot (default: as late as outcomes allow).")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="Churn within this long after a snapshot.")] = "90d",
    every: Annotated[str, typer.Option("--every", help="Step between snapshots, e.g. 7d or 1m.")] = "7d",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Proposed config (default: <config>.calibrated.yaml beside it).")] = None,
    l1: Annotated[float | None, typer.Option("--l1", min=0, help="L1 penalty (default: chosen per group by cross-validation over accounts).")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap replicates for intervals.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Fit non-negative weights on past churn; write them beside the hand config; compare on held-out data."""
    from chs.calibrate.run import CalibrateOptions, calibrate, to_json
    from chs.durations import parse_step
    for value, hint in ((horizon, "--horizon"), (every, "--every")):
        try:
            parse_step(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None
    first, last = parse_date(train_from, "--train-from"), parse_date(train_to, "--train-to")
    assert first is not None and last is not None
    if last < first:
        raise typer.BadParameter(f"--train-to {last} is before --train-from {first}", param_hint="--train-to")
    opts = CalibrateOptions(train_from=first, train_to=last, test_from=parse_date(test_from, "--test-from"),
                            test_to=parse_date(test_to, "--test-to"), horizon=horizon, every=every,
                            output=output, l1=l1, bootstrap=bootstrap)
    loaded = common.load()
    progress = log if (common.show_progress() or common.OPTIONS.verbose) else None
    result = calibrate(loaded, opts, progress=progress)
    for warning in result["warnings"]:
        log(f"warning: {warning}")
    if as_json:
        typer.echo(json.dumps(to_json(result), default=str))
        return
    console = out()
    if not console.is_terminal:
        console.width = max(console.width, 120)  # tables stay readable in a pipe or a log file
    for table in _tables(result):
        console.print(table)
    if result["wrong_way"]:
        console.print("points the wrong way (weight 0): " + ", ".join(result["wrong_way"]), markup=False)
    console.print(f"proposed config: {result['output']} (only weights changed; review with "
                  f"`chs diff {common.OPTIONS.config or 'chs.yaml'} {result['output']}`)", markup=False)
