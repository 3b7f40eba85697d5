"""The terminal view of `chs explain` (chs/cli/explain_cmd.py parses and calls it).

Colour is decoration only: every number carries its sign, every band its text label and an
overdue action the word OVERDUE, so the view reads the same with --no-color, NO_COLOR or in
a pipe.

Width: a terminal's width, else `COLUMNS`, else 120 in a pipe. The node table fits it
(chs/cli/explain_tree.py); the other lines wrap between words.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chs.cli.explain_tree import missing_text, num, raw, tree

if TYPE_CHECKING:
    from chs.explain import Explanation, NodeExplanation, WeightsChange

BAND_LABELS = {"green": "healthy", "yellow": "watch", "red": "at risk", "unknown": "no score"}
BAND_STYLES = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "unknown": "dim"}
SPARKS = "▁▂▃▄▅▆▇█"
HISTORY_POINTS = 52  # a year of weekly snapshots in the sparkline
PIPE_WIDTH = 120  # off a terminal without COLUMNS


def render(console: Console, result: Explanation) -> None:
    """The terminal view: header, what changed, the tree, history, open actions."""
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console.width = max(console.width, PIPE_WIDTH)
    plain = console.no_color or not console.is_terminal
    _say(console, _header(result))
    if result.level == "parent":
        _say(console, _rollup_line(result))
        console.print(_children(result))
        _history(console, result)
        _actions(console, result)
        return
    movers = result.movers()
    weights = result.weights_changed
    if movers or weights.shown:
        _say(console, Text(f"\nWhat changed since {result.previous_as_of}", style="bold"))
        if weights.shown:
            _say(console, _weights_line(weights), indent=2)
        for node in movers:
            _say(console, _mover(node), indent=2)
    console.print(tree(result, plain, console.width))
    _history(console, result)
    _actions(console, result)


def _say(console: Console, text: Text, indent: int = 0) -> None:
    """Print wrapped between words at the console width, continuation lines indented too
    (a word longer than a whole line is folded, the only way to keep it within the width)."""
    for line in text.wrap(console, max(console.width - indent, 8), overflow="fold"):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


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
    line.append(num(r.score), style="bold")
    line.append("  ")
    line.append_text(_band(r.band))
    line.append("  ")
    if r.delta is not None:
        arrow = "▲" if r.delta > 0.05 else "▼" if r.delta < -0.05 else "="
        style = "green" if r.delta > 0.05 else "red" if r.delta < -0.05 else ""
        line.append(f"{arrow} {num(r.delta, signed=True)} since {r.previous_as_of}", style=style)
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


def _points(value: float) -> Text:
    return Text(f"{num(value, signed=True)} pts", style="green" if value > 0 else "red" if value < 0 else "")


def _weights_line(change: WeightsChange) -> Text:
    """E.g. `weights changed: segment onboarding → default, −8.0 pts` (Σ of the weight parts)."""
    def short(digest: str | None) -> str:
        return digest[:8] if digest else "?"

    segment = f"segment {change.segment_from or 'none'} → {change.segment_to or 'none'}"
    if change.segment_from == change.segment_to:
        # Same config, other weights, but the rule names cannot be told from the history.
        segment = "another weight segment applied (same config)"
    config = (f"config edited between the snapshots (hash {short(change.config_from)} → "
              f"{short(change.config_to)})")
    why = {"segment": segment, "config": config, "both": f"{segment} and {config}"}.get(
        change.reason or "", "between the snapshots (the history does not say why)")
    text = Text(f"weights changed: {why}, ")
    text.append_text(_points(change.points or 0.0))
    return text


def _mover(node: NodeExplanation) -> Text:
    """E.g. `Usage trend: raw −0.42 (was 0.10): −6.1 pts` — the leaf's value part only."""
    part = node.delta_value if node.delta_value is not None else (node.delta_part or 0.0)
    eff = node.value_effective_weight if node.value_effective_weight is not None else node.effective_weight
    was_eff = node.previous_effective_weight or 0.0
    text = Text(f"{node.label}: ")
    if not node.in_snapshot:
        text.append(f"removed from the tree (was raw {raw(node.previous_raw_value)})")
    elif node.in_previous is False:
        text.append(f"raw {raw(node.raw_value)}, new in the tree")
    elif node.raw_value != node.previous_raw_value:
        was = raw(node.previous_raw_value)
        text.append(f"{missing_text(node)}, was {was}" if node.missing else f"raw {raw(node.raw_value)} (was {was})")
    elif abs(was_eff - eff) > 1e-9:
        # eff is e*: the weight at the compared snapshot's configured weights (module
        # chs.explain.change); it differs from the tree's Eff. % only when those changed.
        old = " at the old weights" if abs(eff - node.effective_weight) > 1e-9 else ""
        text.append(f"weight {eff * 100:.0f}% (was {was_eff * 100:.0f}%){old}")
    else:
        text.append(f"sub-score {num(node.score, 0)} (was {num(node.previous_score, 0)})")
    text.append(": ")
    text.append_text(_points(part))
    return text


def _rollup_line(r: Explanation) -> Text:
    """How a parent's score is made: `Parent of 3 accounts, weighed by revenue (family MRR 4,600)`."""
    scored = sum(c.score is not None for c in r.children if c.level is not None)
    how = {"revenue": "weighed by revenue", "equal (no revenue)": "weighed equally (no scored child has revenue)"}
    line = Text(f"\nParent of {sum(c.level is not None for c in r.children)} accounts ({scored} scored), "
                f"{how.get(r.rollup_basis or '', 'weighed equally')}")
    if r.family_revenue is not None:
        line.append(f"; family revenue {r.family_revenue:,.0f}/month")
    line.append("\nscore = 50 + Σ share × (child score − 50)", style="dim")
    return line


def _children(r: Explanation) -> Table:
    """A parent's children, the biggest risks first: score, band, weight, share, points."""
    has_delta = any(c.delta_part is not None for c in r.children)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Child")
    for head in ("Score", "Band", "Weight", "Share", "Pts"):
        table.add_column(head, justify="left" if head == "Band" else "right", no_wrap=True)
    if has_delta:
        table.add_column("Δ pts", justify="right", no_wrap=True)
    for c in r.children:
        name = Text(c.account_name or c.account_id)
        if c.account_name:
            name.append(f" ({c.account_id})", style="dim")
        if c.level == "parent":
            name.append(" [parent]", style="dim")
        if c.level is None:
            name.append(" — no longer a child", style="dim")
        cells: list[Text | str] = [name, num(c.score), _band(c.band) if c.level else Text(""),
                                   f"{c.weight:,.2f}".rstrip("0").rstrip("."), f"{c.share * 100:.1f}%",
                                   _points(c.contribution)]
        if has_delta:
            cells.append(_points(c.delta_part) if c.delta_part is not None else "")
        table.add_row(*cells)
    return table


def sparkline(values: list[float | None]) -> str:
    """▁▂▃▄▅▆▇█ over 0..100 (a fixed scale, so two accounts compare); a gap for no score."""
    out = []
    for v in values:
        out.append(" " if v is None else SPARKS[min(len(SPARKS) - 1, int(max(0.0, v) / 100 * len(SPARKS)))])
    return "".join(out)


def _history(console: Console, r: Explanation) -> None:
    """`History  D0 ▅▅▇ D1  (3 snapshots, 62.0 → 80.0)`, as many points as fit the width."""
    points = r.history[-HISTORY_POINTS:]
    if len(points) < 2:
        return
    def summary(shown: list) -> str:
        return f"({len(shown)} snapshots, {num(shown[0].score)} → {num(shown[-1].score)})"

    fixed = len("History  ") + 2 * 11
    # The summary goes below when it would leave fewer than 12 points (or all of them) room.
    own_line = fixed + 2 + len(summary(points)) + min(12, len(points)) > console.width
    room = console.width - fixed - (0 if own_line else 2 + len(summary(points)))
    points = points[-max(2, room):]
    line = Text("History  ", style="bold")
    line.append(f"{points[0].as_of} ")
    line.append(sparkline([p.score for p in points]))
    line.append(f" {points[-1].as_of}")
    if own_line:
        _say(console, line)
        _say(console, Text(summary(points)), indent=2)
    else:
        _say(console, line + Text("  " + summary(points)))
    for day, before, after in r.band_changes()[-5:]:
        change = Text(f"{day}: ")
        change.append_text(_band(before))
        change.append(" → ")
        change.append_text(_band(after))
        _say(console, change, indent=2)


def _actions(console: Console, r: Explanation) -> None:
    """Open actions, each overdue one marked OVERDUE (due before the snapshot's as_of)."""
    if not r.actions:
        _say(console, Text("Open actions: none", style="dim"))
        return
    overdue = sum(a.overdue for a in r.actions)
    head = Text(f"Open actions ({len(r.actions)}", style="bold")
    if overdue:
        head.append(f", {overdue} overdue on {r.as_of}")
    head.append(")")
    _say(console, head)
    for a in r.actions:
        line = Text(f"#{a.action_id} [{a.priority or '-'}] due {a.due_date or '-'}")
        if a.overdue:
            line.append(" ")
            days = "day" if a.days_overdue == 1 else "days"
            line.append(f"OVERDUE ({a.days_overdue} {days})", style="bold red")
        line.append(f": {a.title or a.rule}")
        if a.reason:
            line.append(f" — {a.reason}", style="dim")
        _say(console, line, indent=2)
