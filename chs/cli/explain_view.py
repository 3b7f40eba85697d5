"""The terminal view of `chs explain` (chs/cli/explain_cmd.py parses and calls it).

Colour is decoration only: every number carries its sign, every band its text label and an
overdue action the word OVERDUE, so the view reads the same with --no-color, NO_COLOR or in
a pipe.

Width: a terminal's width, else `COLUMNS`, else 120 in a pipe. Below 100 columns the tree
keeps one line per node: the Weight column is dropped and bars get shorter (when the raw
value column would get too narrow, the bars go, then Eff. %), descriptions and labels are
shortened with "…" at a word boundary, never wrapped; the other lines wrap between words.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from chs.explain import Explanation, NodeExplanation, WeightsChange

BAND_LABELS = {"green": "healthy", "yellow": "watch", "red": "at risk", "unknown": "no score"}
BAND_STYLES = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "unknown": "dim"}
SPARKS = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 10
HISTORY_POINTS = 52  # a year of weekly snapshots in the sparkline
MINUS = "−"
PIPE_WIDTH = 120  # off a terminal without COLUMNS
WIDE = 100  # from here on the full tree with wrapped descriptions
RAW_MIN = 24  # narrow: the raw value column's least room before columns are dropped
NODE_WIDTH = 28  # longest node label shown in full (wide); narrow: 20
NODE_MIN = 12
ELLIPSIS = "…"


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
    console.print(_tree(result, plain, console.width))
    _history(console, result)
    _actions(console, result)


def _say(console: Console, text: Text, indent: int = 0) -> None:
    """Print wrapped between words at the console width, continuation lines indented too
    (a word longer than a whole line is folded, the only way to keep it within the width)."""
    for line in text.wrap(console, max(console.width - indent, 8), overflow="fold"):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


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


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` cells: cut at a word boundary and marked with "…".

    A single word longer than `width` is cut inside (still marked), never wrapped.
    """
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    cut = text
    while cell_len(cut) > width - 1:
        cut = cut[:-1]
    if text[len(cut)] != " ":  # the cut fell inside a word: back off to the word's start
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip(" —-/,;:(=") + ELLIPSIS


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


def _points(value: float) -> Text:
    return Text(f"{_num(value, signed=True)} pts", style="green" if value > 0 else "red" if value < 0 else "")


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
        text.append(f"removed from the tree (was raw {_raw(node.previous_raw_value)})")
    elif node.in_previous is False:
        text.append(f"raw {_raw(node.raw_value)}, new in the tree")
    elif node.raw_value != node.previous_raw_value:
        was = _raw(node.previous_raw_value)
        text.append(f"{_missing_text(node)}, was {was}" if node.missing else f"raw {_raw(node.raw_value)} (was {was})")
    elif abs(was_eff - eff) > 1e-9:
        # eff is e*: the weight at the compared snapshot's configured weights (module
        # chs.explain.change); it differs from the tree's Eff. % only when those changed.
        old = " at the old weights" if abs(eff - node.effective_weight) > 1e-9 else ""
        text.append(f"weight {eff * 100:.0f}% (was {was_eff * 100:.0f}%){old}")
    else:
        text.append(f"sub-score {_num(node.score, 0)} (was {_num(node.previous_score, 0)})")
    text.append(": ")
    text.append_text(_points(part))
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
    text = Text(f"{_num(node.contribution, signed=True):>6}")
    if width:
        text.append(" ")
        if node.is_leaf:
            text.append_text(_bar(node.contribution, scale, plain, width))
    return text


def _raw_cell(node: NodeExplanation, width: int | None) -> Text:
    """`800 — account mrr`: the value (and `(weight 0: off)`), then the variable's description,
    shortened at a word boundary to `width` cells (None: wrapped by the table)."""
    if not node.is_leaf:
        return Text("")
    value = _missing_text(node) if node.missing or not node.in_snapshot else _raw(node.raw_value)
    if node.weight == 0:
        value += " (weight 0: off)"
    text = Text(value if width is None else shorten(value, width))
    if node.description:
        sep = " — "
        room = None if width is None else width - cell_len(text.plain) - len(sep)
        if room is None:
            text.append(sep + node.description, style="dim")
        elif room >= 2:
            desc = shorten(node.description, room)
            if desc != ELLIPSIS:
                text.append(sep + desc, style="dim")
    return text


def _tree(r: Explanation, plain: bool, width: int) -> Table:
    """The tree in node order. Wide: every column, descriptions wrapped between words.
    Narrow (< 100 columns): one line per node within `width`, less important columns dropped.
    When configured weights changed, a `Δ weights` column shows each node's weight part
    (Δ pts = what changed in the data + Δ weights)."""
    has_delta = r.delta is not None
    has_weights = has_delta and r.weights_changed.shown
    narrow = width < WIDE
    scale = max((abs(n.contribution) for n in r.leaves), default=0.0)
    node_w = NODE_WIDTH if not narrow else min(max(cell_len(n.label) + 2 * max(n.depth - 1, 0) for n in r.nodes),
                                               NODE_WIDTH - 8) + 1
    if not narrow:
        labels = [Text("  " * max(n.depth - 1, 0) + shorten(n.label, NODE_WIDTH - 2 * max(n.depth - 1, 0)),
                       style="" if n.is_leaf else "bold") for n in r.nodes]
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("Node", no_wrap=True, max_width=NODE_WIDTH)
        table.add_column("Raw value — variable", overflow="fold", min_width=12)
        for head in ("Sub-score", "Weight", "Eff. %"):
            table.add_column(head, justify="right", no_wrap=True, min_width=len(head))
        table.add_column("Contribution", no_wrap=True, min_width=7 + BAR_WIDTH)
        if has_delta:
            table.add_column("Δ pts", justify="right", no_wrap=True, min_width=5)
        if has_weights:
            table.add_column("Δ weights", justify="right", no_wrap=True)
        for label, node in zip(labels, r.nodes, strict=True):
            row = [label, _raw_cell(node, None), _num(node.score), _num(node.weight, 0) if node.path else "",
                   f"{node.effective_weight * 100:.1f}", _contribution(node, scale, plain, BAR_WIDTH)]
            if has_delta:
                row.append(_num(node.delta_part, signed=True))
            if has_weights:
                row.append(_num(node.delta_weight, signed=True))
            table.add_row(*row)
        return table

    # Narrow: every column gets an exact width, so the raw column's room is known and its
    # descriptions are shortened at a word boundary instead of wrapped. No Weight column
    # (Eff. % carries the share) and shorter bars; when the raw column would get fewer than
    # RAW_MIN cells, the bars go, then Eff. %, then long labels are shortened further.
    def columns(bars: int, eff: bool) -> list[tuple[str, list[Text | str], str]]:
        cells: list[tuple[str, list[Text | str], str]] = [("Sub", [_num(n.score) for n in r.nodes], "right")]
        if eff:
            cells.append(("Eff%", [f"{n.effective_weight * 100:.1f}" for n in r.nodes], "right"))
        cells.append(("Points", [_contribution(n, scale, plain, bars) for n in r.nodes], "left"))
        if has_delta:
            cells.append(("Δ", [_num(n.delta_part, signed=True) for n in r.nodes], "right"))
        if has_weights:
            cells.append(("Δwt", [_num(n.delta_weight, signed=True) for n in r.nodes], "right"))
        return cells

    for bars, eff in ((BAR_WIDTH // 2, True), (0, True), (0, False)):
        cells = columns(bars, eff)
        widths = [max(cell_len(head), *(cell_len(c.plain if isinstance(c, Text) else c) for c in col))
                  for head, col, _ in cells]
        fixed = sum(widths) + len(cells) + 1  # one space between columns
        if width - node_w - fixed >= RAW_MIN:
            break
    node_w = max(min(node_w, width - fixed - RAW_MIN), NODE_MIN)
    raw_w = max(width - node_w - fixed, 4)
    labels = []
    for n in r.nodes:
        indent = "  " * max(n.depth - 1, 0)
        labels.append(Text(indent + shorten(n.label, max(node_w - len(indent) - 1, 1)),
                           style="" if n.is_leaf else "bold"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0))
    table.add_column("Node", no_wrap=True, width=node_w)
    table.add_column("Raw — variable" if raw_w >= 14 else "Raw", no_wrap=True, width=raw_w)
    for (head, _, justify), w in zip(cells, widths, strict=True):
        table.add_column(head, justify=justify, no_wrap=True, width=w)  # type: ignore[arg-type]
    for i, (label, node) in enumerate(zip(labels, r.nodes, strict=True)):
        table.add_row(label, _raw_cell(node, raw_w), *(col[i] for _, col, _ in cells))
    return table


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
        cells: list[Text | str] = [name, _num(c.score), _band(c.band) if c.level else Text(""),
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
        return f"({len(shown)} snapshots, {_num(shown[0].score)} → {_num(shown[-1].score)})"

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
