"""Small helpers that every SQL generator uses: quoting and literals."""

from __future__ import annotations

import math


def ident(name: str) -> str:
    """Quote an identifier for DuckDB, whatever characters it holds."""
    return '"' + str(name).replace('"', '""') + '"'


def string(value: str) -> str:
    """A SQL string literal (for values that come from the validated config)."""
    return "'" + str(value).replace("'", "''") + "'"


def number(value: float) -> str:
    """A DOUBLE literal; plain `0.12` would be DECIMAL in DuckDB and round differently."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return f"CAST({value!r} AS DOUBLE)"


def node_column(path: str) -> str:
    """The `score_<path>` column name of a tree node (DESIGN 3)."""
    return "score_" + path.replace(".", "_") if path else "score"
