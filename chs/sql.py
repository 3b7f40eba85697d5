"""Small helpers that every SQL generator uses: quoting and literals."""

from __future__ import annotations

import datetime as dt
import math


def ident(name: str) -> str:
    """Quote an identifier for DuckDB, whatever characters it holds."""
    return '"' + str(name).replace('"', '""') + '"'


def string(value: str) -> str:
    """A SQL string literal (for values that come from the validated config)."""
    return "'" + str(value).replace("'", "''") + "'"


def string_list(values: list[str]) -> str:
    """A list literal of quoted strings, e.g. the files of a glob for read_parquet([...])."""
    return "[" + ", ".join(string(v) for v in values) + "]"


def number(value: float) -> str:
    """A DOUBLE literal; plain `0.12` would be DECIMAL in DuckDB and round differently."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return f"CAST({value!r} AS DOUBLE)"


def node_column(path: str) -> str:
    """The `score_<path>` column name of a tree node (DESIGN 3)."""
    return "score_" + path.replace(".", "_") if path else "score"


def date_literal(day: dt.date) -> str:
    """A DATE literal: as_of is compiled into the plan so that filters reach the scans."""
    return f"DATE '{day.isoformat()}'"


def timestamp_literal(day: dt.date) -> str:
    """Midnight (UTC) starting `day`, to compare a TIMESTAMP column without casting each row."""
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def as_of_relation(as_of: dt.date) -> str:
    """The one-row relation `p` that gives config fragments their `as_of` name."""
    return f"(SELECT {date_literal(as_of)} AS as_of) AS p"


def one_decimal(x: str) -> str:
    """SQL text of `printf('%.1f', x)` (the number in `top_risks`), 2.6x cheaper per value.

    printf rounds the exact binary value, ties to even, and keeps the sign of a negative that
    rounds to zero (`-0.0`). A DECIMAL(18, 1) cast rounds `x * 10` to nearest, so it gives the
    same text wherever `x * 10` is clearly not a tie; printf is kept for ties and near-ties
    (within 1e-6: the double error of `x * 10` below 1e6 is under 2e-9), for |x| < 0.05 (the
    sign of zero), for |x| >= 1e6 and for NaN/inf. tests/engine/test_one_decimal.py compares
    both on millions of values, tie grids and the special cases."""
    fast = (f"abs({x}) >= 0.05 AND abs({x}) < 1e6 "
            f"AND abs(abs({x}) * 10 - floor(abs({x}) * 10) - 0.5) > 1e-6")
    return f"CASE WHEN {fast} THEN CAST(CAST({x} AS DECIMAL(18, 1)) AS VARCHAR) ELSE printf('%.1f', {x}) END"
