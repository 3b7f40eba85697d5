"""The aggregate steps as portable SQL, transpiled by sqlglot to another engine's dialect.

The plan's `agg_<source>` SELECTs are DuckDB SQL. They are parsed once (read='duckdb') and
rewritten into forms every target dialect runs the same way, then printed for the dialect:

* `agg(x) FILTER (WHERE c)` becomes `agg(CASE WHEN c THEN x END)` (`count(*)` counts
  `CASE WHEN c THEN 1 END`): same value, and BigQuery, Snowflake and older engines have no FILTER;
* `latest` (`arg_max`) becomes the largest value among the rows at the newest time, found with a
  window `max(...) OVER (PARTITION BY __key)` in a subquery: arg_max picks any of two rows
  with the same time, so engines could disagree; "newest time, then the largest value" cannot;
* decimal literals (`100.0`) become DOUBLE casts: a DECIMAL literal types and rounds
  differently per engine;
* `date_column - 14` becomes `date_column - INTERVAL '14' DAY` (only DuckDB and Spark subtract
  an integer from a date).

The source relation each query reads is `src_<source>` with the export's columns (after
`columns:` renames) plus `__key` (the account key in the export's type), `__account` (its text),
`__ts` (the row's UTC TIMESTAMP), `__date` and, for `valid:` sources, `__vfrom`/`__vto` (DATEs):
an engine creates that view before running the queries.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from chs.compiler import Plan, Step
from chs.config import LoadedConfig
from chs.errors import ConfigError
from chs.fragments import Fragment, step_fragments

DIALECTS = ("duckdb", "spark", "trino", "snowflake", "bigquery")
TIME_TYPES = ("DATE", "TIMESTAMP")  # DuckDB type prefixes that `x - n` means days for


def _day_interval(node: exp.Expression) -> exp.Expression:
    return exp.Interval(this=exp.Literal.string(node.name), unit=exp.var("DAY"))


def _is_date(node: exp.Expression, date_columns: set[str]) -> bool:
    return isinstance(node, exp.Column) and (node.name == "as_of" or node.name in date_columns)


def _rewrite_scalars(tree: exp.Expression, date_columns: set[str]) -> None:
    """DOUBLE casts for decimal literals and INTERVAL for days added to / taken from a date."""
    for lit in list(tree.find_all(exp.Literal)):
        if lit.is_number and any(c in lit.name for c in ".eE") and not isinstance(lit.parent, exp.Cast):
            lit.replace(exp.cast(lit.copy(), exp.DataType.build("DOUBLE")))
    for op in list(tree.find_all(exp.Sub, exp.Add)):
        left, right = op.this, op.expression
        if _is_date(left, date_columns) and isinstance(right, exp.Literal) and right.is_int:
            right.replace(_day_interval(right))
        elif isinstance(op, exp.Add) and _is_date(right, date_columns) and isinstance(left, exp.Literal) \
                and left.is_int:
            left.replace(_day_interval(left))


def _case(cond: exp.Expression, value: exp.Expression) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=cond.copy(), true=value.copy())])


def _rewrite_latest(select: exp.Select) -> None:
    """arg_max(v, s.__ts) FILTER (WHERE c) -> max(v) over the rows at the newest time (see top)."""
    windows: list[exp.Expression] = []
    for flt in list(select.find_all(exp.Filter)):
        agg = flt.this
        if not isinstance(agg, exp.ArgMax) or flt.find_ancestor(exp.Select) is not select:
            continue
        cond, value, order = flt.expression.this, agg.this, agg.expression
        if isinstance(order, exp.Struct):  # {'t': s.__ts, 'v': value}: the time, ties by value
            order = order.expressions[0].expression
        # arg_max skips rows whose value is NULL: the newest row *with* a value wins.
        cond = exp.and_(cond.copy(), exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())))
        if not (isinstance(order, exp.Column) and order.name == "__ts"):
            # No time column: any row may be "latest"; the largest value is the portable choice.
            flt.replace(exp.Max(this=_case(cond, value)))
            continue
        alias = f"__newest_{len(windows)}"
        windows.append(exp.alias_(exp.Window(this=exp.Max(this=_case(cond, order)),
                                             partition_by=[exp.column("__key", "s")]), alias))
        at_newest = exp.and_(cond, exp.EQ(this=order.copy(), expression=exp.column(alias, "s")))
        flt.replace(exp.Max(this=_case(at_newest, value)))
    if not windows:
        return
    table = (select.args.get("from_") or select.args.get("from")).this
    inner = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s")), *windows).from_(table.copy())
    for join in select.args.get("joins") or []:
        inner = inner.join(join.copy())
    if select.args.get("where"):
        inner = inner.where(select.args["where"].this.copy())
    table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("s"))))


def _rewrite_filters(tree: exp.Expression) -> None:
    """agg(x) FILTER (WHERE c) -> agg(CASE WHEN c THEN x END): aggregates skip the NULLs."""
    for flt in list(tree.find_all(exp.Filter)):
        agg, cond = flt.this, flt.expression.this
        if isinstance(agg, exp.Count) and isinstance(agg.this, exp.Star):
            flt.replace(exp.Count(this=_case(cond, exp.Literal.number(1))))
            continue
        if isinstance(agg.this, exp.Distinct):  # count(DISTINCT CASE ...): NULLs are not counted
            agg.this.set("expressions", [_case(cond, e) for e in agg.this.expressions])
        else:
            agg.set("this", _case(cond, agg.this))
        flt.replace(agg.copy())


def portable(select_sql: str, date_columns: set[str]) -> exp.Expression:
    """The aggregate SELECT (DuckDB SQL) rewritten into portable forms, as a sqlglot tree."""
    tree = sqlglot.parse_one(select_sql, read="duckdb")
    for select in list(tree.find_all(exp.Select)):
        _rewrite_latest(select)
    _rewrite_filters(tree)
    _rewrite_scalars(tree, date_columns)
    return tree


def render(tree: exp.Expression, dialect: str) -> str:
    """Print for `dialect`; a construct the dialect lacks raises (no silent approximation)."""
    if dialect == "spark":
        # DuckDB's TIMESTAMP is sqlglot's TIMESTAMPNTZ; Spark's __ts (UTC session) is TIMESTAMP.
        tree = tree.copy()
        for dtype in tree.find_all(exp.DataType):
            if dtype.this == exp.DataType.Type.TIMESTAMPNTZ:
                dtype.set("this", exp.DataType.Type.TIMESTAMP)
    return tree.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)


def transpile_fragment(text: str, dialect: str, date_columns: set[str]) -> str:
    """One user fragment (DuckDB SQL) in `dialect`; raises SqlglotError when it cannot be."""
    tree = sqlglot.parse_one(text, read="duckdb")
    _rewrite_scalars(tree, date_columns)
    return render(tree, dialect)


def date_columns_of(columns: dict[str, str]) -> set[str]:
    return {c for c, t in columns.items() if t.upper().startswith(TIME_TYPES)} | {"__ts", "__date", "__vfrom", "__vto"}


def check_fragments_transpile(loaded: LoadedConfig, plan: Plan, columns: dict[str, dict[str, str]],
                              dialect: str, engine_word: str = "dialect") -> None:
    """Every fragment compiled into an aggregate step transpiles to `dialect`, else a ConfigError
    at the fragment's YAML line naming the dialect."""
    problems = []
    for step in aggregate_steps(plan):
        source = step.table.removeprefix("agg_")
        for frag in step_fragments(loaded, step.table):
            try:
                transpile_fragment(frag.text, dialect, date_columns_of(columns.get(source, {})))
            except SqlglotError as exc:
                problems.append(fragment_problem(loaded, frag, f"{engine_word} {dialect}", exc))
    if problems:
        raise ConfigError(problems)


def fragment_problem(loaded: LoadedConfig, frag: Fragment, engine: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{loaded.at(*frag.path)}: not runnable on {engine}: {first}"


def aggregate_steps(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.table in plan.aggregate_tables.values()]


def render_plan(loaded: LoadedConfig, plan: Plan, columns: dict[str, dict[str, str]], dialect: str) -> str:
    """`chs compile --dialect`: each aggregate query for `dialect`, with the relation it reads."""
    check_fragments_transpile(loaded, plan, columns, dialect)
    out = [f"-- chs aggregate queries as of {plan.as_of.isoformat()}, dialect {dialect}.\n"
           f"-- Each reads src_<source>: the export's columns plus __key (account key), __account (its text),\n"
           f"-- __ts (UTC TIMESTAMP), __date, and __vfrom/__vto for `valid:` sources; the result is agg_<source>."]
    for step in aggregate_steps(plan):
        source = step.table.removeprefix("agg_")
        try:
            sql = render(portable(step.select, date_columns_of(columns.get(source, {}))), dialect)
        except SqlglotError as exc:
            raise ConfigError([f"{loaded.path}: aggregate query of source '{source}' cannot be written "
                               f"for dialect {dialect}: {str(exc).splitlines()[0]}"]) from None
        out.append(f"-- {step.table}\n{sql};")
    return "\n\n".join(out) + "\n"
