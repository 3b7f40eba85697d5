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
* Safety net (from `_run_one`): `check_action_values` here, and `run_step`
  (chs/fragment_locate.py), which traces a plan step's data error back to the fragment that
  caused it and reports it as a ConfigError at its YAML line (exit 78).
"""

from __future__ import annotations

import duckdb

from chs.compiler import Plan
from chs.config import LoadedConfig
from chs.config.checks import referenced_names
from chs.errors import ConfigError
from chs.fragment_locate import run_step
from chs.fragments import (
    DATA_ERRORS,
    Fragment,
    action_fragments,
    describe,
    problem,
    segment_fragments,
    source_fragments,
    table_columns,
)
from chs.sources import SourceInfo, relation_name
from chs.sql import ident

FULL_SCAN_ROWS = 2_000_000  # a source up to this size is evaluated whole
SAMPLE_ROWS = 200_000  # else about this many rows, sampled by vector over the whole export
PLAN_RUN_ROWS = 2_000_000  # all needed sources together up to this size: run the plan at prepare

_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def _not_condition(loaded: LoadedConfig, fragment: Fragment, got: str) -> str:
    got = got.strip('"')
    hint = ""
    if got.startswith(_NUMBERS):
        hint = f"; compare the value, e.g. `({fragment.text}) > 0`"
    elif got == "VARCHAR":
        hint = f"; compare the value, e.g. `({fragment.text}) = 'yes'`"
    return f"{loaded.at(*fragment.path)}: must be a condition (BOOLEAN), got {got}{hint}"


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
            got = describe(con, f"SELECT ({frag.text}) AS __v FROM {ident(relation)} AS s, __params AS p")
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
    keep = [c for c in table_columns(con, relation) if c.lower() in refs]
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
        got = describe(con, f"SELECT ({frag.text}) AS __v FROM vars AS v, __params AS p")
        if got != "BOOLEAN":
            problems.append(_not_condition(loaded, frag, got))
    if loaded.config.actions:
        for frag in action_fragments(loaded):
            got = describe(con, f"SELECT ({frag.text}) AS __v FROM action_input")
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
    columns = table_columns(con, "action_input")
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
