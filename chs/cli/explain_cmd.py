"""`chs explain ACCOUNT`: the drill-down a CSM reads before a call (DESIGN 4).

Parses, calls `chs.explain.explain` on the read-only database, renders with Rich (or prints
one JSON document). Colour is decoration only: every number carries its sign and every
band its text label, so the view reads the same with --no-color, NO_COLOR or in a pipe.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chs.cli import common
from chs.cli.common import handle_errors, out, parse_date

if TYPE_CHECKING:
    from chs.explain import Explanation, NodeExplanation

BAND_LABELS = {"green": "healthy", "yellow": "watch", "red": "at risk", "unknown": "no score"}
BAND_STYLES = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "unknown": "dim"}
SPARKS = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 10
HISTORY_POINTS = 52  # a year of weekly snapshots in the sparkline
MINUS = "−"


@handle_errors
def explain_cmd(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Account id or exact account name (case-insensitive).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Snapshot to explain (default: the latest).")] = None,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="Compare with this snapshot date (default: the previous snapshot).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Compare with the latest snapshot at least this long before, e.g. 7d or 4w.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the view.")] = False,
) -> None:
    """Show an account's tree: raw values, sub-scores, weights, contributions, change, open actions."""
    from chs.db import connect
    from chs.durations import parse_days
    from chs.explain import explain

    if compare is not None and since is not None:
        raise typer.BadParameter("use either --compare or --since", param_hint="--since")
    since_days = None
    if since is not None:
        try:
            since_days = parse_days(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    day, compare_day = parse_date(as_of, "--as-of"), parse_date(compare, "--compare")
    loaded = common.load()
    con = connect(loaded.database, read_only=True)
    try:
        result = explain(con, account, as_of=day, compare=compare_day, since_days=since_days)
    finally:
        con.close()
    for warning in result.warnings:
        common.log(f"warning: {warning}")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    render(out(), result)


# ---------------------------------------------------------------- rendering
def render(console: Console, result: Explanation) -> None:
    """The terminal view: header, what changed, the tree, history, open actions."""
    if not console.is_terminal:
        console.width = max(console.width, 120)
    plain = console.no_color or not console.is_terminal
    console.print(_header(result))
    movers = result.movers()
    if movers:
        console.print(Text(f"\nWhat changed since {result.previous_as_of}", style="bold"))
        for node in movers:
            console.print(Text("  ") + _mover(node))
    console.print(_tree(result, plain, narrow=console.width < 100))
    _history(console, result)
    _actions(console, result)


def _num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    if text.lstrip("+-").strip("0.") == "":
        text = f"{0:.{digits}f}"  # no "−0.0"
    return text.replace("-", MINUS)


def _raw(value: float | str | None) -> str:
    """A raw value as a person writes it: 12, 0.42, 1,250.5."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        return value
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}".replace("-", MINUS)
    text = f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return text.replace("-", MINUS)


def _band(band: str | None) -> Text:
    name = band or "unknown"
    label = BAND_LABELS.get(name)
    return Text(f"{name.upper()} ({label})" if label else name.upper(), style=BAND_STYLES.get(name, "bold"))


def _header(r: Explanation) -> Text:
    title = Text()
    title.append(r.account_name or r.account_id, style="bold")
    title.append(f"  ({r.account_id})", style="dim")
    facts = [f"owner {r.owner}" if r.owner else None, f"segment {r.segment}" if r.segment else None,
             f"as of {r.as_of}"]
    title.append("\n" + " · ".join(f for f in facts if f))
    line = Text("\nScore ")
    line.append(_num(r.score), style="bold")
    line.append("  ")
    line.append_text(_band(r.band))
    line.append("  ")
    if r.delta is not None:
        arrow = "▲" if r.delta > 0.05 else "▼" if r.delta < -0.05 else "="
        style = "green" if r.delta > 0.05 else "red" if r.delta < -0.05 else ""
        line.append(f"{arrow} {_num(r.delta, signed=True)} since {r.previous_as_of}", style=style)
    elif r.previous_as_of is not None:
        line.append(f"no change to show (no score on {r.previous_as_of})", style="dim")
    else:
        if r.comparison.startswith("since:"):
            limit = r.as_of - dt.timedelta(days=int(r.comparison[6:].rstrip("d")))
            line.append(f"no snapshot on or before {limit} to compare with", style="dim")
        else:
            line.append("first snapshot: nothing to compare", style="dim")
    if r.coverage is not None:
        line.append(f"  · coverage {r.coverage * 100:.0f}%")
    return title + line


def _mover(node: NodeExplanation) -> Text:
    """E.g. `Usage trend: raw −0.42 (was 0.10): −6.1 pts`."""
    part = node.delta_part or 0.0
    text = Text(f"{node.label}: ")
    if not node.in_snapshot:
        text.append(f"removed from the tree (was raw {_raw(node.previous_raw_value)})")
    elif node.in_previous is False:
        text.append(f"raw {_raw(node.raw_value)}, new in the tree")
    elif node.raw_value != node.previous_raw_value:
        was = _raw(node.previous_raw_value)
        text.append(f"{_missing_text(node)}, was {was}" if node.missing else f"raw {_raw(node.raw_value)} (was {was})")
    elif (node.previous_effective_weight or 0.0) != node.effective_weight:
        text.append(f"weight {node.effective_weight * 100:.0f}% (was {(node.previous_effective_weight or 0) * 100:.0f}%)")
    else:
        text.append(f"sub-score {_num(node.score, 0)} (was {_num(node.previous_score, 0)})")
    text.append(": ")
    text.append(f"{_num(part, signed=True)} pts", style="green" if part > 0 else "red")
    return text


def _missing_text(node: NodeExplanation) -> str:
    if not node.in_snapshot:
        return "not in this snapshot's tree"
    if node.imputed:
        return f"missing (imputed {_raw(node.score)})"
    return "missing (skipped)"


def _bar(value: float, scale: float, plain: bool, full: int) -> Text:
    """A small bar (the largest driver is `full` wide): ▇ red/green, or -/+ without colour."""
    width = max(1, round(abs(value) / scale * full)) if scale > 0 and abs(value) >= 0.05 else 0
    if plain:
        return Text(("-" if value < 0 else "+") * width)
    return Text("▇" * width, style="red" if value < 0 else "green")


def _contribution(node: NodeExplanation, scale: float, plain: bool, width: int) -> Text:
    """`  −8.4 ▇▇▇▇` : the signed points, then (for leaves) the bar."""
    text = Text(f"{_num(node.contribution, signed=True):>6} ")
    if node.is_leaf:
        text.append_text(_bar(node.contribution, scale, plain, width))
    return text


def _tree(r: Explanation, plain: bool, narrow: bool) -> Table:
    """The tree in node order; on a narrow terminal the headers and bars are shorter."""
    has_delta = r.delta is not None
    bar_width = BAR_WIDTH // 2 if narrow else BAR_WIDTH
    heads = ["Sub", "Wt", "Eff%", "Points", "Δ"] if narrow else \
        ["Sub-score", "Weight", "Eff. %", "Contribution", "Δ pts"]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=narrow)
    table.add_column("Node", overflow="fold", max_width=28)
    table.add_column("Raw value — variable", overflow="fold", min_width=12)
    for head in heads[:3]:
        table.add_column(head, justify="right", no_wrap=True, min_width=len(head))
    table.add_column(heads[3], no_wrap=True, min_width=7 + bar_width)
    if has_delta:
        table.add_column(heads[4], justify="right", no_wrap=True, min_width=len(heads[4]))
    scale = max((abs(n.contribution) for n in r.leaves), default=0.0)
    for node in r.nodes:
        label = Text("  " * max(node.depth - 1, 0) + node.label,
                     style="" if node.is_leaf else "bold")
        if node.is_leaf:
            raw = Text(_missing_text(node) if node.missing or not node.in_snapshot else _raw(node.raw_value))
            if node.description:
                raw.append(f" — {node.description}", style="dim")
            if node.weight == 0:
                raw.append(" (weight 0: off)", style="dim")
        else:
            raw = Text("")
        row = [label, raw, _num(node.score), _num(node.weight, 0) if node.path else "",
               f"{node.effective_weight * 100:.1f}", _contribution(node, scale, plain, bar_width)]
        if has_delta:
            row.append(_num(node.delta_part, signed=True))
        table.add_row(*row)
    return table


def sparkline(values: list[float | None]) -> str:
    """▁▂▃▄▅▆▇█ over 0..100 (a fixed scale, so two accounts compare); a gap for no score."""
    out = []
    for v in values:
        out.append(" " if v is None else SPARKS[min(len(SPARKS) - 1, int(max(0.0, v) / 100 * len(SPARKS)))])
    return "".join(out)


def _history(console: Console, r: Explanation) -> None:
    points = r.history[-HISTORY_POINTS:]
    if len(points) < 2:
        return
    line = Text("History  ", style="bold")
    line.append(f"{points[0].as_of} ")
    line.append(sparkline([p.score for p in points]))
    line.append(f" {points[-1].as_of}  ({len(points)} snapshots, {_num(points[0].score)} → {_num(points[-1].score)})")
    console.print(line)
    for day, before, after in r.band_changes()[-5:]:
        change = Text(f"  {day}: ")
        change.append_text(_band(before))
        change.append(" → ")
        change.append_text(_band(after))
        console.print(change)


def _actions(console: Console, r: Explanation) -> None:
    if not r.actions:
        console.print(Text("Open actions: none", style="dim"))
        return
    console.print(Text(f"Open actions ({len(r.actions)})", style="bold"))
    for a in r.actions:
        line = Text(f"  #{a.action_id} [{a.priority or '-'}] due {a.due_date or '-'}: {a.title or a.rule}")
        if a.reason:
            line.append(f" — {a.reason}", style="dim")
        console.print(line)
