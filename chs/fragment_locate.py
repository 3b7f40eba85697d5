"""The safety net of every run: a plan step that fails with a conversion, invalid-input or
binder error is traced back to the user fragment that caused it (by re-running the step with
the other fragments of that step replaced by typed NULLs) and reported as a ConfigError at
its YAML line (exit 78), never as an internal error. Prevention before the run is
chs/fragment_check.py."""

from __future__ import annotations

import re

import duckdb

from chs.compiler import Step
from chs.config import LoadedConfig
from chs.config.checks import referenced_names
from chs.errors import ConfigError
from chs.fragments import (
    DATA_ERRORS,
    SOURCE_COLUMN,
    Fragment,
    describe,
    problem,
    step_fragments,
    table_columns,
)
from chs.sources import SourceInfo, relation_name
from chs.sql import ident

_COLUMN_HINT = re.compile(r'[Cc]olumn "?([^"\s]+)"?')
_STRING_HINT = re.compile(r"string '((?:[^']|'')*)'")


def run_step(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
             step: Step) -> None:
    """Execute one plan step; a data error caused by a user fragment becomes a ConfigError
    naming that fragment's YAML line. Must run outside an explicit transaction (it re-runs the
    step to find the culprit)."""
    try:
        con.execute(step.sql)
    except DATA_ERRORS as exc:
        found = locate_step_error(con, loaded, sources, step, exc)
        if found is None:
            raise
        as_of = con.execute("SELECT as_of FROM __params").fetchone()[0]  # type: ignore[index]
        raise ConfigError([f"{found} (as of {as_of})"]) from None


def _rank(fragments: list[Fragment], exc: Exception) -> list[Fragment]:
    """Most likely culprit first, from what the message names: the SQL line shown, a column,
    a string literal, an `error()` call."""
    text = str(exc)
    shown = " ".join(line.split(":", 1)[1] for line in text.splitlines() if line.startswith("LINE "))
    shown = " ".join(shown.split())
    columns = {m.group(1).lower() for m in _COLUMN_HINT.finditer(text)}
    source_col = SOURCE_COLUMN.search(text)
    if source_col:
        columns.add(source_col.group(1).lower())
    literals = {m.group(1) for m in _STRING_HINT.finditer(text)}

    def score(frag: Fragment) -> int:
        s = 0
        body = " ".join(frag.text.split())
        if body and body in shown:
            s += 8
        if columns & {r.lower() for r in referenced_names(frag.text)}:
            s += 4
        if any(f"'{lit}'" in frag.text for lit in literals):
            s += 4
        if isinstance(exc, duckdb.InvalidInputException) and "error(" in frag.text.lower().replace(" ", ""):
            s += 2
        return s

    return sorted(fragments, key=lambda f: -score(f))


def _null_types(con: duckdb.DuckDBPyConnection, fragments: list[Fragment]) -> dict[Fragment, str]:
    """The type each fragment has in the plan, to stand in a typed NULL for it."""
    vars_types = table_columns(con, "vars")  # from the dry run or an earlier date
    out = {}
    for frag in fragments:
        if frag.condition:
            out[frag] = "BOOLEAN"
        elif not frag.aggregate and frag.variable in vars_types:
            out[frag] = vars_types[frag.variable]  # type: ignore[index]
        elif frag.source is not None:
            try:
                out[frag] = describe(con, f"SELECT ({frag.text}) AS __v FROM "
                                           f"{ident(relation_name(frag.source))} AS s, __params AS p")
            except duckdb.Error:
                continue
    return out


def _probe(con: duckdb.DuckDBPyConnection, step: Step, types: dict[Fragment, str],
           neutral: set[Fragment]) -> Exception | None:
    """Run the step with the fragments in `neutral` replaced by typed NULLs; the error, if any."""
    select = step.select
    for frag in sorted(neutral, key=lambda f: -len(f.text)):
        if frag not in types:
            continue
        select = select.replace(f"({frag.text})", f"(CAST(NULL AS {types[frag]}))")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __fragment_probe AS {select}")
    except duckdb.Error as exc:
        return exc
    finally:
        con.execute("DROP TABLE IF EXISTS __fragment_probe")
    return None


def locate_step_error(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
                      step: Step, exc: Exception) -> str | None:
    """`file:line: key.path: message` of the fragment that makes `step` fail, or None when no
    fragment of the step can be shown to cause it (then it is not a config problem)."""
    fragments = step_fragments(loaded, step.table)
    if not fragments:
        return None
    types = _null_types(con, fragments)
    # 0. With every fragment NULL the step must run, else the error is not the config's.
    if _probe(con, step, types, set(fragments)) is not None:
        return None
    ranked = _rank(fragments, exc)
    # 1. The fragment that fails on its own (every other fragment of the step NULL).
    for frag in ranked:
        error = _probe(con, step, types, set(fragments) - {frag})
        if isinstance(error, DATA_ERRORS):
            return _located(con, loaded, sources, frag, error)
    # 2. The fragment without which the step runs (it fails only on another fragment's value).
    for frag in ranked:
        if _probe(con, step, types, {frag}) is None:
            return _located(con, loaded, sources, frag, exc)
    return None


def _located(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
             frag: Fragment, exc: Exception) -> str:
    if frag.source is not None and frag.source in sources:
        columns = sources[frag.source].columns
    else:
        columns = table_columns(con, "vars")
    return problem(loaded, frag, exc, columns)
