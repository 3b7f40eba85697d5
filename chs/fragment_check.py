"""Fragments against the real data: types and values, at validate time and while scoring.

`bind_check` binds every `where`/`expr`/`when` on empty inputs (LIMIT 0). DuckDB casts a
string literal, converts text or calls `error()` only when a row is evaluated, so a fragment
that binds can still fail on the first real row, and a `where: amount` binds (DuckDB casts
DOUBLE to BOOLEAN) but is not a condition. This module closes that gap in two ways:

* Prevention (`check_fragments`, from `prepare`: validate and the start of score):
  - every `where` and segment/action `when` must be BOOLEAN;
  - every source-level fragment (`where`/`expr` of a variable with a `source`) is evaluated
    on the source's rows: all of them when the source has at most `FULL_SCAN_ROWS` rows (a
    cheap scan: CSV exports are already loaded in memory), else on a system sample of about
    `SAMPLE_ROWS` rows spread over the whole export. All problems are reported together;
  - when every needed source together has at most `PLAN_RUN_ROWS` rows, the plan itself is
    run once (as of the prepare date) and every action `when` evaluated, so derived-variable
    exprs, segment and action `when`s are checked on real values too.
* Safety net (`run_step`, `check_action_values`, from `_run_one`): a plan step that fails
  with a conversion / invalid-input / binder error is traced back to the fragment that
  caused it (by re-running the step with the other fragments of that step replaced by NULL)
  and reported as a ConfigError at its YAML line (exit 78), never as an internal error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from chs.compiler import Plan, Step
from chs.config import LoadedConfig
from chs.config.checks import referenced_names
from chs.errors import ConfigError
from chs.sources import SourceInfo, relation_name
from chs.sql import ident

FULL_SCAN_ROWS = 2_000_000  # a source up to this size is evaluated whole
SAMPLE_ROWS = 200_000  # else about this many rows, sampled by vector over the whole export
PLAN_RUN_ROWS = 2_000_000  # all needed sources together up to this size: run the plan at prepare

# What a fragment can raise on real rows (a chs bug raising one of these is never blamed on
# the config: it is blamed only if a fragment is shown to cause it, else re-raised as is).
DATA_ERRORS = (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.BinderException,
               duckdb.OutOfRangeException, duckdb.TypeMismatchException,
               duckdb.PermissionException)  # a fragment reading a file after the run's lock-down

_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_SOURCE_COLUMN = re.compile(r"\s*when casting from source column (\S+)")
_COLUMN_HINT = re.compile(r'[Cc]olumn "?([^"\s]+)"?')
_STRING_HINT = re.compile(r"string '((?:[^']|'')*)'")


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


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0].removeprefix("Binder Error: ")


# ---------------------------------------------------------------- which fragments where
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
def _columns_hint(message: str, fragment: str, columns: dict[str, str]) -> str:
    """`(column 'priority' is BIGINT)` when the message or the fragment tells which column."""
    if not message.startswith(("Conversion Error", "Out of Range Error", "Type Mismatch Error")):
        return ""  # e.g. a user `error('...')`: no column to blame
    lower = {c.lower(): c for c in columns}
    named = _SOURCE_COLUMN.search(message)
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
    message = _first_line(exc)
    hint = _columns_hint(message, fragment.text, columns)
    return f"{loaded.at(*fragment.path)}: {_SOURCE_COLUMN.sub('', message)}{hint}"


def _not_condition(loaded: LoadedConfig, fragment: Fragment, got: str) -> str:
    got = got.strip('"')
    hint = ""
    if got.startswith(_NUMBERS):
        hint = f"; compare the value, e.g. `({fragment.text}) > 0`"
    elif got == "VARCHAR":
        hint = f"; compare the value, e.g. `({fragment.text}) = 'yes'`"
    return f"{loaded.at(*fragment.path)}: must be a condition (BOOLEAN), got {got}{hint}"


def _describe(con: duckdb.DuckDBPyConnection, select: str) -> str:
    return con.execute(f"DESCRIBE {select}").fetchall()[0][1]


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    try:
        return {r[0]: r[1] for r in con.execute(f"DESCRIBE {ident(table)}").fetchall()}
    except duckdb.Error:
        return {}


# ---------------------------------------------------------------- prevention (prepare)
def _rows_sql(relation: str, rows: int) -> str:
    """The rows a source-level fragment is evaluated on: all, or a bounded sample (whole
    vectors drawn over the entire export, so the rows are not just its first lines)."""
    if rows <= FULL_SCAN_ROWS:
        return f"{ident(relation)} AS s"
    percent = min(max(100.0 * SAMPLE_ROWS / rows, 0.001), 100.0)
    return f"(SELECT * FROM {ident(relation)} USING SAMPLE {percent:.4f}% (system)) AS s"


def _value_sql(fragment: Fragment) -> str:
    """An aggregate that needs the fragment's value on every row: a bare projection could be
    pruned by DuckDB, an aggregate over it cannot."""
    if fragment.condition:
        return f"count(*) FILTER (WHERE ({fragment.text}))"
    return f"max(hash(({fragment.text})))"


def _check_source_level(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig,
                        sources: dict[str, SourceInfo]) -> list[str]:
    problems: list[str] = []
    by_source: dict[str, list[Fragment]] = {}
    for frag in source_fragments(loaded):
        relation = relation_name(frag.source)  # type: ignore[arg-type]
        if frag.kind == "where":
            got = _describe(con, f"SELECT ({frag.text}) AS __v FROM {ident(relation)} AS s, __params AS p")
            if got != "BOOLEAN":
                problems.append(_not_condition(loaded, frag, got))
                continue
        by_source.setdefault(frag.source, []).append(frag)  # type: ignore[arg-type]
    for source, frags in by_source.items():
        info = sources[source]
        rows = _rows_sql(info.relation, info.rows)
        sampled = info.rows > FULL_SCAN_ROWS and _sample(con, info.relation, rows, frags)
        try:
            problems += _evaluate(con, loaded, frags, "__fragment_sample AS s" if sampled else rows,
                                  info.columns)
        finally:
            if sampled:
                con.execute("DROP TABLE IF EXISTS __fragment_sample")
    return problems


def _sample(con: duckdb.DuckDBPyConnection, relation: str, rows: str, frags: list[Fragment]) -> bool:
    """Keep one sample (only the columns the fragments name), so that the batch and the
    one-by-one queries see the same rows. False when the fragments do not bind on it (a name
    `referenced_names` missed): then each query draws its own sample."""
    refs = {r.lower() for f in frags for r in referenced_names(f.text)}
    keep = [c for c in _table_columns(con, relation) if c.lower() in refs]
    cols = ", ".join(f"s.{ident(c)}" for c in keep) or "1 AS __row"
    con.execute(f"CREATE OR REPLACE TEMP TABLE __fragment_sample AS SELECT {cols} FROM {rows}")
    try:
        con.execute(f"SELECT {', '.join(_value_sql(f) for f in frags)} FROM __fragment_sample AS s, "
                    f"__params AS p LIMIT 0")
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS __fragment_sample")
        return False
    return True


def _evaluate(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, frags: list[Fragment], rows: str,
              columns: dict[str, str]) -> list[str]:
    """All fragments of one source in one scan; one by one only when that scan fails."""
    batch = ", ".join(_value_sql(f) for f in frags)
    try:
        con.execute(f"SELECT {batch} FROM {rows}, __params AS p").fetchall()
        return []
    except DATA_ERRORS:
        pass
    problems = []
    for frag in frags:  # to name every fragment that fails
        try:
            con.execute(f"SELECT {_value_sql(frag)} FROM {rows}, __params AS p").fetchall()
        except DATA_ERRORS as exc:
            problems.append(problem(loaded, frag, exc, columns))
    return problems


def _check_condition_types(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> list[str]:
    """Segment `when`s over `vars`, action `when`s over `action_input` (bound, maybe empty)."""
    problems = []
    for frag in segment_fragments(loaded):
        got = _describe(con, f"SELECT ({frag.text}) AS __v FROM vars AS v, __params AS p")
        if got != "BOOLEAN":
            problems.append(_not_condition(loaded, frag, got))
    if loaded.config.actions:
        for frag in action_fragments(loaded):
            got = _describe(con, f"SELECT ({frag.text}) AS __v FROM action_input")
            if got != "BOOLEAN":
                problems.append(_not_condition(loaded, frag, got))
    return problems


def check_action_values(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, plan: Plan,
                        check: bool = False) -> None:
    """Evaluate every action `when` on the real `action_input` rows; all failures at once (78).

    In `_run_one` (after out_scores, before the snapshot transaction: an error inside the
    transaction would abort it), and in `prepare` after a plan run (`check`: no history).
    """
    if not loaded.config.actions:
        return
    from chs.actions.rules import build_action_input
    build_action_input(con, plan.nodes, check=check)
    columns = _table_columns(con, "action_input")
    problems = []
    for frag in action_fragments(loaded):
        try:
            con.execute(f"SELECT {_value_sql(frag)} FROM action_input").fetchall()
        except DATA_ERRORS as exc:
            problems.append(problem(loaded, frag, exc, columns))
    if problems:
        raise ConfigError(problems)


def _cheap_plan(sources: dict[str, SourceInfo]) -> bool:
    return sum(info.rows for info in sources.values()) <= PLAN_RUN_ROWS


def check_fragments(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
                    plan: Plan) -> None:
    """After the dry run: condition types, source-level fragments on real rows and, when the
    data is small, one real plan run with every action `when` evaluated. ConfigError (78)."""
    problems = _check_source_level(con, loaded, sources) + _check_condition_types(con, loaded)
    if problems:
        raise ConfigError(problems)
    if _cheap_plan(sources):
        for step in plan.steps:
            run_step(con, loaded, sources, step)
        check_action_values(con, loaded, plan, check=True)


# ---------------------------------------------------------------- safety net (every run)
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
    source_col = _SOURCE_COLUMN.search(text)
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
    vars_types = _table_columns(con, "vars")  # from the dry run or an earlier date
    out = {}
    for frag in fragments:
        if frag.condition:
            out[frag] = "BOOLEAN"
        elif not frag.aggregate and frag.variable in vars_types:
            out[frag] = vars_types[frag.variable]  # type: ignore[index]
        elif frag.source is not None:
            try:
                out[frag] = _describe(con, f"SELECT ({frag.text}) AS __v FROM "
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
        columns = _table_columns(con, "vars")
    return problem(loaded, frag, exc, columns)
