"""`chs scores`: the stored snapshot as a list — who is reddest, whose score fell most.

Parses, calls `chs.scores_list.list_scores` (filters, sort and limit run in DuckDB) and
formats the frame: a Rich table (text cut with …, ids never cut or wrapped), CSV (RFC 4180,
formula-like text cells neutralised as in actions.csv) or one JSON array. The stats line
goes to stderr, so stdout holds only the result.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.cells import cell_len

from chs.cli import common
from chs.cli.common import handle_errors, log, out, parse_date

if TYPE_CHECKING:
    import polars as pl
    from rich.table import Table

    from chs.scores_list import ScoreList

FORMATS = ("table", "csv", "json")
BAND_STYLES = {"green": "green", "yellow": "yellow", "red": "bold red", "unknown": "dim"}


@handle_errors
def scores_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="The latest snapshot on or before this date (default: the latest).")] = None,
    band: Annotated[list[str] | None, typer.Option(
        "--band", metavar="BAND", help="Only this band; repeat (or comma-separate) for several.")] = None,
    owner: Annotated[list[str] | None, typer.Option(
        "--owner", metavar="OWNER", help="Only accounts of this owner (case-insensitive); repeat for several.")] = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", metavar="SEGMENT", help="Only this segment (case-insensitive).")] = None,
    sort: Annotated[str, typer.Option(
        "--sort", metavar="KEY", help="score (lowest first), revenue (highest first; needs accounts.revenue) "
                                      "or delta (largest fall first). Missing values come last.")] = "score",
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=0, metavar="N", help="Show at most N accounts.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", help="table, csv or json (one array).")] = "table",
    redact: Annotated[bool | None, typer.Option(
        "--redact/--no-redact", show_default=False,
        help="Pseudonymise names and owners (key: $CHS_REDACT_SALT; default: privacy.redact).")] = None,
) -> None:
    """List the accounts of a stored snapshot: filter by band, owner, segment; sort; limit.

    Columns: account_id, account_name, owner, segment, score, band, delta (vs the previous snapshot), delta_7d, coverage, top_risks, and revenue (monthly, from the current accounts export) when `accounts.revenue` is declared. The result goes to stdout, "N accounts, shown M" to stderr.
    """
    from chs.scores_list import SORTS, list_scores

    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(FORMATS)}", param_hint="--format")
    if sort not in SORTS:
        raise typer.BadParameter(f"'{sort}' is not one of {', '.join(SORTS)}", param_hint="--sort")
    bands = [b for value in band or [] for b in value.split(",") if b.strip()]
    day = parse_date(as_of, "--as-of")
    loaded = common.load()
    from chs.privacy import redactor_for
    redactor = redactor_for(loaded, redact)
    result = list_scores(loaded, as_of=day, bands=bands, owners=owner or [], segment=segment,
                         sort=sort, limit=limit)
    if redactor is not None:
        result.frame = redactor.frame(result.frame)
    for warning in result.warnings:
        common.warn(f"warning: {warning}")  # a data problem: shown even with --quiet
    with reader_may_leave():
        if fmt == "csv":
            sys.stdout.write(to_csv(result.frame))
        elif fmt == "json":
            typer.echo(to_json(result.frame))
        elif result.shown:
            console = out()
            console.print(table(result, console.width))
    log(stats(result, filtered=bool(bands or owner or segment is not None)))


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """`chs scores -f csv | head`: a reader that stops early is not an error. Exit 0 without a
    message, and point stdout at /dev/null so nothing is flushed into the closed pipe at exit."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


def stats(result: ScoreList, filtered: bool) -> str:
    match = f", {result.matched} match" if filtered else ""
    return f"{result.as_of}: {result.total} accounts{match}, shown {result.shown}"


# ---------------------------------------------------------------- machine formats
def to_csv(frame: pl.DataFrame) -> str:
    """Header + rows, CRLF (RFC 4180); a text cell starting with = + - @ tab or CR gets a `'`."""
    import polars as pl

    from chs.actions.export import FORMULA_STARTS
    from chs.scores_list import TEXT_COLUMNS
    text_columns = [c for c in TEXT_COLUMNS if c in frame.columns]
    frame = frame.with_columns(  # no terminal escapes from data, before the formula check
        pl.col(c).map_elements(common.clean, return_dtype=pl.String) for c in text_columns)
    safe = frame.with_columns(
        pl.when(pl.col(c).str.slice(0, 1).is_in(list(FORMULA_STARTS)))
        .then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in TEXT_COLUMNS if c in frame.columns)
    text = safe.write_csv(line_terminator="\r\n", null_value="")
    return text if text.endswith("\r\n") else text + "\r\n"  # polars ends a header-only file bare


def to_json(frame: pl.DataFrame) -> str:
    """One JSON array of objects: numbers as numbers, null for missing (NaN too)."""
    import polars as pl
    clean = frame.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None))
    return json.dumps(clean.to_dicts(), ensure_ascii=False, default=str)


# ---------------------------------------------------------------- table
def _num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return f"{0:.{digits}f}" if text.lstrip("+-").strip("0.") == "" else text


def fit(natural: list[int], weights: list[int], minimum: list[int], room: int) -> list[int]:
    """Widths for the text columns within `room`: each its natural width when all fit, else
    shares of `room` by weight (a column needing less than its share keeps its width), raised
    to its minimum (or natural width, if smaller) while the minimums fit; never below 1."""
    floor = [min(m, n) for m, n in zip(minimum, natural)]
    if sum(floor) > room:
        floor = [1 if n else 0 for n in natural]
    widths = list(natural)
    open_ = [i for i, n in enumerate(natural) if n > 0]
    left = room
    while open_ and sum(widths[i] for i in open_) > left:
        total = sum(weights[i] for i in open_)
        share = {i: left * weights[i] / total for i in open_}
        narrow = [i for i in open_ if natural[i] <= share[i] or floor[i] >= share[i]]
        if not narrow:
            for i in open_:
                widths[i] = int(share[i])
            break
        for i in narrow:
            widths[i] = natural[i] if natural[i] <= share[i] else floor[i]
            left -= widths[i]
            open_.remove(i)
    return [max(w, f) for w, f in zip(widths, floor)]


def _cells(r: dict[str, Any], has_revenue: bool) -> list[Any]:
    from rich.text import Text
    band = r["band"] or "unknown"
    # Text(), never markup: names and owners are data and may contain [brackets].
    cells: list[Any] = [
        Text(r["account_id"] or ""), Text(r["account_name"] or ""), Text(r["owner"] or ""),
        Text(r["segment"] or ""), Text(_num(r["score"])), Text(band, style=BAND_STYLES.get(band, "")),
        Text(_num(r["delta"], signed=True)), Text(_num(r["delta_7d"], signed=True)),
        Text("–" if r["coverage"] is None else f"{r['coverage'] * 100:.0f}%")]
    if has_revenue:
        cells.append(Text("–" if r["revenue"] is None else f"{r['revenue']:,.0f}"))
    cells.append(Text(_leaves(r["top_risks"])))
    return cells


def _leaves(risks: str | None) -> str:
    """`success.adoption.seat_use (-5.9); loyalty.nps (-4.7)` -> `seat_use (-5.9); nps (-4.7)`:
    the table is narrow; CSV and JSON keep the full node paths."""
    if not risks:
        return ""
    parts = []
    for part in risks.split("; "):
        path, sep, rest = part.partition(" (")
        parts.append(path.rsplit(".", 1)[-1] + sep + rest)
    return "; ".join(parts)


def table(result: ScoreList, width: int) -> Table:
    """One line per account in `width` columns: the id (what `chs explain` takes) and the
    numbers keep their full width; name, owner, segment and top risks share the rest, cut with …."""
    from rich import box
    from rich.table import Table
    heads = ["Account", "Name", "Owner", "Segment", "Score", "Band", "Δ", "Δ7d", "Cov"]
    heads += ["Rev/mo", "Top risks"] if result.has_revenue else ["Top risks"]
    text = [1, 2, 3, len(heads) - 1]  # name, owner, segment, top risks
    rows = [_cells(r, result.has_revenue) for r in result.frame.to_dicts()]
    natural = [max([cell_len(h)] + [r[i].cell_len for r in rows]) for i, h in enumerate(heads)]
    gap = 2 if sum(natural) + 2 * (len(heads) - 1) <= width else 1
    room = width - gap * (len(heads) - 1) - sum(n for i, n in enumerate(natural) if i not in text)
    limit = dict(zip(text, fit([natural[i] for i in text], [3, 2, 1, 4], [8, 6, 4, 10], room)))
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, gap - 1),
                 collapse_padding=True)
    for i, head in enumerate(heads):
        numeric = 4 <= i < len(heads) - 1 and head != "Band"
        grid.add_column(head, justify="right" if numeric else "left", no_wrap=True, overflow="ellipsis",
                        min_width=None if i in text else natural[i], max_width=limit.get(i))
    for cells in rows:
        grid.add_row(*cells)
    return grid
