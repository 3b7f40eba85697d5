"""`chs diff OLD.yaml [NEW.yaml]`: what publishing NEW would change (DESIGN 6).

Parses, calls `chs.diff.diff_configs` (scratch databases only; the history is read, never
written) and renders Rich tables, or prints one JSON document with `--json`. Every number
is printed as text (signs, band names), so the view reads the same without colour.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chs.cli import common
from chs.cli.common import handle_errors, log, out, parse_date

if TYPE_CHECKING:
    from chs.diff import DiffResult

BAR_WIDTH = 30


@handle_errors
def diff_cmd(
    old: Annotated[str, typer.Argument(metavar="OLD.yaml", help="The config to compare against, e.g. "
                                       "`git show HEAD:chs.yaml > old.yaml`.")],
    new: Annotated[str | None, typer.Argument(metavar="NEW.yaml", help="The proposed config "
                                              "(default: the current one: --config / $CHS_CONFIG / ./chs.yaml).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score both as of this date "
                                              "(default: NEW's latest snapshot, else today, UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    top: Annotated[int, typer.Option("--top", min=0, help="How many changed accounts / action examples to list.")] = 20,
    redact: Annotated[bool | None, typer.Option(
        "--redact/--no-redact", show_default=False,
        help="Pseudonymise account names (key: $CHS_REDACT_SALT; default: NEW's privacy.redact).")] = None,
) -> None:
    """Score OLD and NEW on the same data and show what publishing NEW would change."""
    from chs.config import load_config
    from chs.diff import default_as_of, diff_configs

    day = parse_date(as_of, "--as-of")
    old_cfg = load_config(old)
    new_cfg = load_config(new) if new is not None else common.load()
    day = day or default_as_of(new_cfg)
    from chs.privacy import redactor_for
    redactor = redactor_for(new_cfg, redact)
    log(f"scoring {old_cfg.path} and {new_cfg.path} as of {day}")
    result = diff_configs(old_cfg, new_cfg, day, top=top)
    if redactor is not None:
        result.changed = redactor.rows(result.changed)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, default=str))
        return
    render(out(), result)


# ---------------------------------------------------------------- rendering
def _num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return f"{0:.{digits}f}" if text.lstrip("+-").strip("0.") == "" else text


def _money(value: float) -> str:
    return f"{value:,.0f}"


def render(console: Console, r: DiffResult) -> None:
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(Text(f"chs diff as of {r.as_of}", style="bold"))
    for name, side in (("old", r.old), ("new", r.new)):
        bands = ", ".join(f"{b} {n}" for b, n in side.bands.items())
        console.print(f"  {name}: {side.config}: {side.accounts} accounts ({bands})", markup=False)
    console.print(_matrix(r, "Band transitions (rows: old, columns: new): accounts", r.counts, str))
    if r.revenue is not None:
        console.print(_matrix(r, "Band transitions: monthly revenue", r.revenue, _money))
    total = sum(map(sum, r.counts))
    console.print(Text(f"{r.changed_total} of {total} accounts change band", style="bold"))
    if r.changed:
        console.print(_changed(r.changed))
    _delta(console, r.delta)
    if r.actions:
        console.print(_actions(r.actions))


def _matrix(r: DiffResult, title: str, cells: list[list[Any]], fmt: Any) -> Table:
    """Rows/columns that are empty `unknown` / `absent` are left out of the view (not the JSON)."""
    keep = [k for k, b in enumerate(r.bands)
            if b not in ("unknown", "absent") or sum(r.counts[k]) or sum(row[k] for row in r.counts)]
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("old \\ new")
    for k in keep:
        table.add_column(r.bands[k], justify="right")
    for i in keep:
        table.add_row(r.bands[i], *[Text(fmt(cells[i][k]), style="bold" if i != k and r.counts[i][k] else "")
                                    for k in keep])
    return table


def _changed(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Accounts that change band (largest score change first)", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False)
    for head, justify in (("Account", "left"), ("Old", "right"), ("New", "right"), ("Δ", "right"),
                          ("Band", "left"), ("Moved most by", "left")):
        table.add_column(head, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        name = row["account_name"] or ""
        who = f"{row['account_id']} {name}".strip() if name != row["account_id"] else row["account_id"]
        moved = "" if row["moved_by"] is None else f"{row['moved_by']} ({_num(row['moved_by_points'], signed=True)})"
        table.add_row(who, _num(row["old_score"]), _num(row["new_score"]), _num(row["delta"], signed=True),
                      f"{row['old_band']} → {row['new_band']}", moved)
    return table


def _delta(console: Console, d: dict[str, Any]) -> None:
    if not d["n"]:
        console.print("Score change: no account is scored by both configs", markup=False)
        return
    console.print(Text("Score change (new − old)", style="bold"))
    console.print(f"  n {d['n']} · mean {_num(d['mean'], 2, True)} · median {_num(d['median'], 2, True)} · "
                  f"p10 {_num(d['p10'], 2, True)} · p90 {_num(d['p90'], 2, True)} · "
                  f"min {_num(d['min'], 2, True)} · max {_num(d['max'], 2, True)}", markup=False)
    widest = max(b["count"] for b in d["histogram"]) or 1
    for b in d["histogram"]:
        bar = "#" * (round(b["count"] / widest * BAR_WIDTH) if b["count"] else 0)
        console.print(f"  {b['bucket']:>9} {b['count']:>7} {bar}", markup=False)


def _actions(actions: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Actions (rule matches on this date; cooldowns and open actions not applied)",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for head in ("Rule", "Old", "New", "Start", "Stop", "Examples"):
        table.add_column(head, justify="left" if head in ("Rule", "Examples") else "right")
    for rule, a in actions.items():
        examples = "; ".join(filter(None, [
            "start: " + ", ".join(a["start_examples"]) if a["start_examples"] else "",
            "stop: " + ", ".join(a["stop_examples"]) if a["stop_examples"] else ""]))
        table.add_row(rule, str(a["old"]), str(a["new"]), f"+{a['start']}", f"-{a['stop']}", examples)
    return table
