"""The user SQL fragments (`where`, `expr`, `when`) of a config: which plan step each is
compiled into, and how a problem with one is worded (at its YAML line, with the column types
that explain it). Shared by the checks before a run (chs/fragment_check.py), the safety net
during it (chs/fragment_locate.py) and the other engines (chs/engines)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.config.checks import referenced_names
from chs.sql import ident

# What a fragment can raise on real rows (a chs bug raising one of these is never blamed on
# the config: it is blamed only if a fragment is shown to cause it, else re-raised as is).
DATA_ERRORS = (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.BinderException,
               duckdb.OutOfRangeException, duckdb.TypeMismatchException,
               duckdb.PermissionException)  # a fragment reading a file after the run's lock-down

# The column a DuckDB error message names (`when casting from source column x`).
SOURCE_COLUMN = re.compile(r"\s*when casting from source column (\S+)")


@dataclass(frozen=True)
class Fragment:
    """One user SQL fragment and where it lives in the YAML."""

    path: tuple[Any, ...]  # YAML key path, e.g. ("variables", "urgent", "where")
    text: str
    kind: str  # "where" | "expr" | "when"
    source: str | None = None  # source-level fragments: the source whose rows it reads
    variable: str | None = None  # a variable's expr: the variable it belongs to
    aggregate: bool = False  # part of an `agg` (in an agg_<source> step), not a `vars` column

    @property
    def condition(self) -> bool:
        return self.kind in ("where", "when")


def first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0].removeprefix("Binder Error: ")


def source_fragments(loaded: LoadedConfig) -> list[Fragment]:
    """`where`/`expr` of every variable that reads a source (aggregates and account attributes)."""
    out = []
    for name, var in loaded.config.variables.items():
        if var.source is None:
            continue
        for key in ("where", "expr"):
            text = getattr(var, key)
            if text is not None:
                out.append(Fragment(("variables", name, key), text, key, var.source, name,
                                    var.agg is not None))
    return out


def derived_fragments(loaded: LoadedConfig) -> list[Fragment]:
    return [Fragment(("variables", n, "expr"), v.expr, "expr", None, n)
            for n, v in loaded.config.variables.items() if v.source is None and v.expr]


def segment_fragments(loaded: LoadedConfig) -> list[Fragment]:
    return [Fragment(("segments", n, "when"), s.when, "when") for n, s in loaded.config.segments.items()]


def action_fragments(loaded: LoadedConfig) -> list[Fragment]:
    return [Fragment(("actions", i, "when"), r.when, "when") for i, r in enumerate(loaded.config.actions)]


def step_fragments(loaded: LoadedConfig, table: str) -> list[Fragment]:
    """The user fragments compiled into the plan step that creates `table`."""
    if table.startswith("agg_"):
        source = table.removeprefix("agg_")
        return [f for f in source_fragments(loaded) if f.source == source and f.aggregate]
    if table == "vars":
        attributes = [f for f in source_fragments(loaded) if not f.aggregate]
        return attributes + derived_fragments(loaded) + segment_fragments(loaded)
    return []


# ---------------------------------------------------------------- messages
def columns_hint(message: str, fragment: str, columns: dict[str, str]) -> str:
    """`(column 'priority' is BIGINT)` when the message or the fragment tells which column."""
    if not message.startswith(("Conversion Error", "Out of Range Error", "Type Mismatch Error")):
        return ""  # e.g. a user `error('...')`: no column to blame
    lower = {c.lower(): c for c in columns}
    named = SOURCE_COLUMN.search(message)
    if named and named.group(1).lower() in lower:
        col = lower[named.group(1).lower()]
        return f" (column '{col}' is {columns[col]})"
    refs = [lower[r.lower()] for r in sorted(referenced_names(fragment)) if r.lower() in lower]
    refs = list(dict.fromkeys(refs))
    if "Could not convert string" in message:
        # A text that should have been a number/date/...: the non-text columns are the suspects.
        typed = [c for c in refs if not columns[c].startswith("VARCHAR")]
        refs = typed or refs
    if len(refs) == 1:
        return f" (column '{refs[0]}' is {columns[refs[0]]})"
    if 1 < len(refs) <= 4:
        return " (columns: " + ", ".join(f"'{c}' {columns[c]}" for c in refs) + ")"
    return ""


def problem(loaded: LoadedConfig, fragment: Fragment, exc: Exception, columns: dict[str, str]) -> str:
    message = first_line(exc)
    hint = columns_hint(message, fragment.text, columns)
    return f"{loaded.at(*fragment.path)}: {SOURCE_COLUMN.sub('', message)}{hint}"


def describe(con: duckdb.DuckDBPyConnection, select: str) -> str:
    return con.execute(f"DESCRIBE {select}").fetchall()[0][1]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    try:
        return {r[0]: r[1] for r in con.execute(f"DESCRIBE {ident(table)}").fetchall()}
    except duckdb.Error:
        return {}
