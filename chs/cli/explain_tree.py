"""The node table of `chs explain` and the number and text formats the rest of the view shares.

Wide (100 columns and more): every column, descriptions wrapped between words. Narrow: one
line per node within the width; the Weight column is dropped and bars get shorter (when the
raw value column would get too narrow, the bars go, then Eff. %), descriptions and labels are
shortened with "…" at a word boundary, never wrapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from chs.explain import Explanation, NodeExplanation

BAR_WIDTH = 10
MINUS = "−"
WIDE = 100  # from here on the full tree with wrapped descriptions
RAW_MIN = 24  # narrow: the raw value column's least room before columns are dropped
NODE_WIDTH = 28  # longest node label shown in full (wide); narrow: 20
NODE_MIN = 12
ELLIPSIS = "…"


def num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    if text.lstrip("+-").strip("0.") == "":
        text = f"{0:.{digits}f}"  # no "−0.0"
    return text.replace("-", MINUS)


def raw(value: float | str | None) -> str:
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


def missing_text(node: NodeExplanation) -> str:
    if not node.in_snapshot:
        return "not in this snapshot's tree"
    if node.imputed:
        return f"missing (imputed {raw(node.score)})"
    return "missing (skipped)"


def _bar(value: float, scale: float, plain: bool, full: int) -> Text:
    """A small bar (the largest driver is `full` wide): ▇ red/green, or -/+ without colour."""
    width = max(1, round(abs(value) / scale * full)) if scale > 0 and abs(value) >= 0.05 else 0
    if plain:
        return Text(("-" if value < 0 else "+") * width)
    return Text("▇" * width, style="red" if value < 0 else "green")


def _contribution(node: NodeExplanation, scale: float, plain: bool, width: int) -> Text:
    """`  −8.4 ▇▇▇▇` : the signed points, then (for leaves) the bar."""
    text = Text(f"{num(node.contribution, signed=True):>6}")
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
    value = missing_text(node) if node.missing or not node.in_snapshot else raw(node.raw_value)
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


def tree(r: Explanation, plain: bool, width: int) -> Table:
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
            row = [label, _raw_cell(node, None), num(node.score), num(node.weight, 0) if node.path else "",
                   f"{node.effective_weight * 100:.1f}", _contribution(node, scale, plain, BAR_WIDTH)]
            if has_delta:
                row.append(num(node.delta_part, signed=True))
            if has_weights:
                row.append(num(node.delta_weight, signed=True))
            table.add_row(*row)
        return table

    # Narrow: every column gets an exact width, so the raw column's room is known and its
    # descriptions are shortened at a word boundary instead of wrapped. No Weight column
    # (Eff. % carries the share) and shorter bars; when the raw column would get fewer than
    # RAW_MIN cells, the bars go, then Eff. %, then long labels are shortened further.
    def columns(bars: int, eff: bool) -> list[tuple[str, list[Text | str], str]]:
        cells: list[tuple[str, list[Text | str], str]] = [("Sub", [num(n.score) for n in r.nodes], "right")]
        if eff:
            cells.append(("Eff%", [f"{n.effective_weight * 100:.1f}" for n in r.nodes], "right"))
        cells.append(("Points", [_contribution(n, scale, plain, bars) for n in r.nodes], "left"))
        if has_delta:
            cells.append(("Δ", [num(n.delta_part, signed=True) for n in r.nodes], "right"))
        if has_weights:
            cells.append(("Δwt", [num(n.delta_weight, signed=True) for n in r.nodes], "right"))
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
