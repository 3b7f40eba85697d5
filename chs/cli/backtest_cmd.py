"""`chs backtest`: how well the score ranked the accounts that churned next (DESIGN 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chs.cli import common
from chs.cli.common import handle_errors, log, out, parse_date


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _horizon_tables(label: str, h: dict[str, Any], labels: dict[str, str]) -> list[Any]:
    from rich.table import Table
    ci = h["auc_ci"]
    head = Table(title=f"Horizon {label}: churn within {label} of each snapshot", title_justify="left")
    head.add_column("measure")
    head.add_column("value", justify="right")
    head.add_column("reads as")
    rows = [
        ("AUC", _f(h["auc"]), "0.5 = chance, 1.0 = every churner ranked below every stayer"),
        ("95% interval", f"{_f(ci[0])} – {_f(ci[1])}" if ci else "–", "bootstrap over accounts"),
        ("pairs / churned", f"{h['n']:,} / {h['positives']:,}", f"base rate {_pct(h['base_rate'])}"),
        ("lift 10%", _f(h["lift_10"], 2), f"lowest-scored 10% catch {_pct(h['recall_10'])} of churners"),
        ("lift 20%", _f(h["lift_20"], 2), f"lowest-scored 20% catch {_pct(h['recall_20'])} of churners"),
    ]
    for row in rows:
        head.add_row(*row)
    bands = Table(title="Churn rate per band (well ordered: worst band churns most)", title_justify="left")
    for col in ("band", "pairs", "churned", "rate"):
        bands.add_column(col, justify="left" if col == "band" else "right")
    for band, row in h["bands"].items():
        bands.add_row(band, f"{row['n']:,}", f"{row['churned']:,}", _pct(row["rate"]))
    dec = Table(title="Calibration by score decile (1 = lowest scores)", title_justify="left")
    for col in ("decile", "scores", "pairs", "churned", "rate"):
        dec.add_column(col, justify="right")
    for d in h["deciles"]:
        dec.add_row(str(d["decile"]), f"{d['min_score']:.1f}–{d['max_score']:.1f}", f"{d['n']:,}",
                    f"{d['churned']:,}", _pct(d["rate"]))
    nodes = Table(title="AUC of every node (sub-score alone; < 0.5 points the wrong way)", title_justify="left")
    for col in ("node", "label", "AUC", ""):
        nodes.add_column(col, justify="right" if col == "AUC" else "left")
    for path, value in h["nodes"].items():
        depth = path.count(".") + 1 if path else 0
        flag = "" if value is None else ("wrong way" if value < 0.48 else ("no signal" if abs(value - 0.5) <= 0.02 else ""))
        nodes.add_row("  " * depth + (path or "(score)"), labels.get(path, ""), _f(value), flag)
    return [head, bands, dec, nodes]


@handle_errors
def backtest_cmd(
    start: Annotated[str | None, typer.Option("--from", help="First snapshot date (default: the first stored).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last snapshot date (default: the last stored).")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="Comma-separated horizons, e.g. 30d,90d or 3m.")] = "30d,90d",
    rescore: Annotated[bool, typer.Option(
        "--rescore", help="Recompute snapshots with the current config in a scratch database (history untouched).")] = False,
    every: Annotated[str, typer.Option("--every", help="With --rescore: step between snapshots, e.g. 7d or 1m.")] = "7d",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap replicates for the AUC interval.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write a self-contained HTML page.")] = None,
) -> None:
    """Check the score against what happened: AUC, lift, churn per band, per-node signal."""
    from chs.backtest.html import write_backtest_html
    from chs.backtest.run import BacktestOptions, backtest, parse_horizons, to_json
    from chs.durations import parse_step
    try:
        horizons = parse_horizons(horizon)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--horizon") from None
    try:
        parse_step(every)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from None
    opts = BacktestOptions(start=parse_date(start, "--from"), end=parse_date(end, "--to"), horizons=horizons,
                           rescore=rescore, every=every, bootstrap=bootstrap)
    loaded = common.load()
    progress = log if (common.show_progress() or common.OPTIONS.verbose) else None
    result = backtest(loaded, opts, progress=progress)
    for warning in result["warnings"]:
        log(f"warning: {warning}")
    if output is not None:
        path = write_backtest_html(result, dict(loaded.config.score.bands), output, title=loaded.config.name)
        log(f"wrote {path}")
    if as_json:
        typer.echo(json.dumps(to_json(result), default=str))
        return
    console = out()
    if not console.is_terminal:
        console.width = max(console.width, 120)  # tables stay readable in a pipe or a log file
    snaps = result["snapshots"]
    console.print(f"{loaded.config.name}: {len(snaps)} snapshots {snaps[0]} .. {snaps[-1]} "
                  f"({'rescored with the current config' if result['mode'] == 'rescore' else 'stored'}); "
                  f"outcomes observed until {result['outcomes']['observed_until']}", markup=False)
    for label, h in result["horizons"].items():
        for table in _horizon_tables(label, h, result["node_labels"]):
            console.print(table)
