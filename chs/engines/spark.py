"""`storage.engine: spark`: the per-source aggregates run on Spark, everything else on DuckDB.

DuckDB still registers every source at `prepare` (columns, types, key checks, fragments bound on
real rows), so Spark reads each export with the column names and types DuckDB found: CSV cells
are read as text and converted to those types with the same header, delimiter, quote, null,
encoding, decimal/thousands and date/timestamp formats; a cell that does not convert drops its
row, as DuckDB rejects it. Each source becomes the view `src_<source>` with the columns the
portable queries read (`__key`, `__account`, `__ts` in UTC, `__date`, `__vfrom`/`__vto`).
The transpiled aggregate queries run there, write Parquet to a temp folder, and DuckDB loads
each result as `agg_<source>` cast to the types its own query would have produced, so the
later steps see the same table whichever engine made it.

pyspark is imported lazily: it is the optional extra `chs[spark]` and needs Java.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from chs.compiler import Plan, Step
from chs.config import LoadedConfig
from chs.config.models import CsvOptions, SparkSettings
from chs.engines.portable import (
    aggregate_steps,
    check_fragments_transpile,
    date_columns_of,
    fragment_problem,
    portable,
    render,
)
from chs.errors import ChsError, ConfigError, DataError
from chs.fragments import step_fragments
from chs.readers.files import file_format, source_files
from chs.sources import SourceInfo, relation_name, source_key, time_column
from chs.sql import ident

if TYPE_CHECKING:  # pyspark is optional: only type names here
    from pyspark.sql import DataFrame, SparkSession

ENGINE = "engine spark"
_INTEGERS = {"TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INT", "BIGINT": "BIGINT",
             "UTINYINT": "SMALLINT", "USMALLINT": "INT", "UINTEGER": "BIGINT", "UBIGINT": "DECIMAL(20,0)",
             "HUGEINT": "DECIMAL(38,0)", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN",
             "DATE": "DATE", "VARCHAR": "STRING"}
# strftime directives (DuckDB's date_format) -> Java DateTimeFormatter letters (Spark's).
_STRFTIME = {"%Y": "yyyy", "%y": "yy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss",
             "%f": "SSSSSS", "%b": "MMM", "%B": "MMMM", "%p": "a", "%I": "hh", "%z": "XX", "%%": "%"}
# Python codec name -> the charset names Spark's CSV reader accepts (Spark 4 takes no others).
_CHARSETS = {"utf-8": "utf-8", "iso8859-1": "iso-8859-1", "latin-1": "iso-8859-1", "ascii": "us-ascii",
             "utf-16": "utf-16", "utf-16-be": "utf-16be", "utf-16-le": "utf-16le", "utf-32": "utf-32"}
_cached: dict[str, tuple[Any, ...]] = {}  # view name -> what it was built from (one per session)


def spark_type(duck_type: str) -> str:
    """The Spark SQL type holding a DuckDB column's values."""
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return t
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return _INTEGERS.get(t, "STRING")


def java_format(strftime: str) -> str:
    out, i = [], 0
    while i < len(strftime):
        two = strftime[i:i + 2]
        if two.startswith("%"):
            if two not in _STRFTIME:
                raise ValueError(f"format directive {two} has no Spark equivalent")
            out.append(_STRFTIME[two])
            i += 2
        else:
            ch = strftime[i]
            out.append(f"'{ch}'" if ch.isalpha() else ch)  # letters are pattern letters in Java
            i += 1
    return "".join(out)


def _setting(loaded: LoadedConfig) -> SparkSettings:
    return loaded.config.storage.spark or SparkSettings()


def session(loaded: LoadedConfig) -> SparkSession:
    """The process's SparkSession (created once; later runs reuse it, as Spark allows one)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError([f"{loaded.at('storage', 'engine')}: engine spark needs pyspark, which is not "
                           f"installed: pip install 'chs[spark]' (and Java 17)"]) from None
    settings = _setting(loaded)
    conf = {"spark.sql.session.timeZone": "UTC",  # __ts is UTC, as DuckDB's session is
            "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.log.level": "ERROR",
            # 200 shuffle partitions of a few rows each dominate small local runs.
            "spark.sql.shuffle.partitions": "8" if settings.master.startswith("local") else "200"}
    conf.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.conf.items()})
    if settings.master.startswith("local"):
        # Local mode talks to itself only: bind the loopback, not the machine's network address.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(settings.master).appName("chs")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a bad master URL: pyspark raises several kinds
        raise ConfigError([f"{loaded.at('storage', 'spark')}: Spark did not start ({_first_line(exc)}); "
                           f"engine spark needs Java 17 and a reachable spark.master"]) from None
    # pyspark logs every failed analysis with its Java stack; chs reports those itself, located.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    # A session created earlier in this process (a test's) keeps its own settings: UTC is required.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------- sources
def unsupported(loaded: LoadedConfig, name: str) -> list[str]:
    """Why Spark cannot read source `name` as DuckDB does (empty: it can)."""
    src = loaded.config.sources[name]
    at = loaded.at("sources", name)
    out = []
    fmts = {file_format(f) for f in source_files(loaded, name, src)}
    if fmts - {"csv", "tsv", "parquet"}:
        out.append(f"{at}: {', '.join(sorted(fmts - {'csv', 'tsv', 'parquet'}))} exports are not read under "
                   f"{ENGINE} (CSV, TSV and Parquet are); use engine duckdb or convert the export to Parquet")
    elif len(fmts) > 1:
        out.append(f"{at}: mixed file formats ({', '.join(sorted(fmts))}) are not read under {ENGINE}")
    if src.preset is not None:
        out.append(f"{at}.preset: presets are not applied under {ENGINE}; declare the reader options instead")
    if src.account_via is not None:
        out.append(f"{at}.account.via: a key mapped through the account list is not supported under {ENGINE}")
    if src.time_unit is not None:
        out.append(f"{at}.time_unit: epoch times are not converted under {ENGINE}")
    if src.json_options is not None:
        out.append(f"{at}.json: JSON exports are not read under {ENGINE}")
    opts = src.csv
    if opts is not None:
        if opts.encoding and codecs.lookup(opts.encoding).name not in _CHARSETS:
            out.append(f"{at}.csv.encoding: {opts.encoding} is not read under {ENGINE} "
                       f"(utf-8, utf-16, utf-32, latin-1 and ascii are)")
        for key in ("skip", "header_rows"):
            if getattr(opts, key):
                out.append(f"{at}.csv.{key}: not supported under {ENGINE}")
        if opts.footer:
            out.append(f"{at}.csv.footer: not supported under {ENGINE}")
        for key in ("date_format", "timestamp_format"):
            fmt = getattr(opts, key)
            if fmt is not None:
                try:
                    java_format(fmt)
                except ValueError as exc:
                    out.append(f"{at}.csv.{key}: {exc} (under {ENGINE})")
    return out


def _convert(column: str, duck_type: str, opts: CsvOptions) -> str:
    """Spark SQL turning a CSV cell (text) into the DuckDB-detected type; NULL if it does not convert."""
    c = _q(column)
    target = spark_type(duck_type)
    upper = duck_type.upper()
    if target == "STRING":
        return c
    if upper.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "U", "FLOAT", "DOUBLE", "DECIMAL")):
        text = c
        if opts.thousands:
            text = f"replace({text}, {_lit(opts.thousands)}, '')"
        if opts.decimal and opts.decimal != ".":
            text = f"replace({text}, {_lit(opts.decimal)}, '.')"
        return f"TRY_CAST(trim({text}) AS {target})"
    if upper == "DATE" and opts.date_format:
        return f"CAST(try_to_timestamp({c}, {_lit(java_format(opts.date_format))}) AS DATE)"
    if upper.startswith("TIMESTAMP") and opts.timestamp_format:
        return f"try_to_timestamp({c}, {_lit(java_format(opts.timestamp_format))})"
    return f"TRY_CAST({c} AS {target})"


def _q(column: str) -> str:
    """A Spark SQL identifier, whatever characters the column name holds."""
    return "`" + column.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _time_expr(column: str, duck_type: str, timezone: str | None) -> str:
    """Spark SQL for the row's UTC TIMESTAMP, mirroring chs.sources._time_expr."""
    c = _q(column)
    t = duck_type.upper()
    if t in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "DOUBLE"):
        # Epoch seconds, or milliseconds when the numbers are too large for seconds.
        return (f"CASE WHEN abs({c}) > 100000000000 THEN timestamp_millis(CAST({c} AS BIGINT)) "
                f"ELSE timestamp_seconds(CAST({c} AS BIGINT)) END")
    base = f"TRY_CAST({c} AS TIMESTAMP)"
    if timezone is not None and not t.startswith("TIMESTAMP WITH") and t != "DATE":
        return f"to_utc_timestamp({base}, {_lit(timezone)})"
    return base


def _read(spark: SparkSession, loaded: LoadedConfig, name: str, info: SourceInfo) -> DataFrame:
    """The export with DuckDB's column names (after `columns:` renames) and types."""
    src = loaded.config.sources[name]
    files = source_files(loaded, name, src)
    names = list(info.columns)
    if file_format(files[0]) == "parquet":
        df = spark.read.parquet(*files)
        renames = dict(src.columns)
        df = df.toDF(*[renames.get(c, c) for c in df.columns])
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise DataError(f"{src.path}: Spark does not see column(s) {', '.join(missing)} (source '{name}')")
        typed = df.selectExpr(*[f"TRY_CAST({_q(c)} AS {spark_type(t)}) AS {_q(c)}" if spark_type(t) != "STRING"
                                else _q(c) for c, t in info.columns.items()],
                              *[f"{_q(c)} AS `__raw_{i}`" for i, c in enumerate(src.types) if c in names])
        # A declared type (`types:`) that a cell does not convert to rejects its row, as in DuckDB.
        keep = " AND ".join(f"(`__raw_{i}` IS NULL OR {_q(c)} IS NOT NULL)"
                            for i, c in enumerate(src.types) if c in names)
        return (typed.where(keep) if keep else typed).select(*names)
    opts = src.csv or CsvOptions()
    header = opts.header if opts.header is not None else names != [f"column{i}" for i in range(len(names))]
    reader = (spark.read.option("header", str(header).lower())
              .option("sep", opts.delimiter or ("\t" if file_format(files[0]) == "tsv" else ","))
              .option("quote", opts.quote or '"').option("escape", opts.quote or '"')
              .option("multiLine", "true").option("inferSchema", "false"))
    if opts.null is not None:
        reader = reader.option("nullValue", opts.null)
    if opts.encoding:
        reader = reader.option("encoding", _CHARSETS[codecs.lookup(opts.encoding).name])
    df = reader.csv(files)
    if len(df.columns) != len(names):
        raise DataError(f"{src.path}: Spark reads {len(df.columns)} columns, DuckDB read {len(names)} "
                        f"(source '{name}'); declare csv.delimiter / csv.header so both read the same")
    df = df.toDF(*names)
    typed = [(c, _convert(c, t, opts)) for c, t in info.columns.items()]
    converted = df.selectExpr(*[f"{e} AS {_q(c)}" for c, e in typed],
                              *[f"{_q(c)} AS `__raw_{i}`" for i, (c, e) in enumerate(typed) if e != _q(c)])
    # A cell that does not convert rejects its row, as DuckDB's reader does (never a silent NULL).
    keep = " AND ".join(f"(`__raw_{i}` IS NULL OR {_q(c)} IS NOT NULL)"
                        for i, (c, e) in enumerate(typed) if e != _q(c))
    if keep:
        converted = converted.where(keep)
    return converted.select(*names)


def register(spark: SparkSession, loaded: LoadedConfig, name: str, info: SourceInfo) -> None:
    """Create the view `src_<name>` that the portable aggregate queries read."""
    src = loaded.config.sources[name]
    files = source_files(loaded, name, src)
    stamp = (loaded.digest, tuple(files), tuple(Path(f).stat().st_mtime_ns for f in files), tuple(info.columns))
    view = relation_name(name)
    if _cached.get(view) == stamp and spark.catalog.tableExists(view):
        return
    problems = unsupported(loaded, name)
    if problems:
        raise ConfigError(problems)
    df = _read(spark, loaded, name, info)
    extra = []
    key = source_key(loaded, name)
    if key is not None:
        extra += [f"{_q(key)} AS __key", f"CAST({_q(key)} AS STRING) AS __account"]
    time_col = time_column(src)
    if time_col is not None:
        extra.append(f"{_time_expr(time_col, info.columns[time_col], src.timezone)} AS __ts")
    if src.valid is not None:
        for role, column in (("from", src.valid.from_), ("to", src.valid.to)):
            extra.append("CAST(NULL AS DATE) AS __v" + role if column is None else
                         f"CAST({_time_expr(column, info.columns[column], src.timezone)} AS DATE) AS __v{role}")
    df = df.selectExpr("*", *extra)
    if time_col is not None:
        df = df.selectExpr("*", "CAST(__ts AS DATE) AS __date")
    # Both engines must see the same rows: a value Spark cannot convert (a date format DuckDB's
    # sniffer recognised, say) drops its row here, which would change scores without a word.
    # One count per source and process (the view is reused for every date of a backfill).
    rows = df.count()
    if rows != info.rows:
        raise DataError(f"{src.path}: Spark reads {rows} rows of source '{name}' where DuckDB reads {info.rows}; "
                        f"declare csv.date_format / csv.timestamp_format / csv.decimal so both read the same")
    df.createOrReplaceTempView(view)
    _cached[view] = stamp


# ---------------------------------------------------------------- running the aggregates
def spark_sql(step: Step, sources: dict[str, SourceInfo]) -> str:
    source = step.table.removeprefix("agg_")
    return render(portable(step.select, date_columns_of(sources[source].columns)), "spark")


def _blame(spark: SparkSession, loaded: LoadedConfig, step: Step, sources: dict[str, SourceInfo],
           plan: Plan) -> list[str]:
    """The fragments of `step` that Spark cannot analyse on the source's view, located."""
    from chs.engines.portable import transpile_fragment
    from chs.sql import as_of_relation
    source = step.table.removeprefix("agg_")
    dates = date_columns_of(sources[source].columns)
    problems = []
    for frag in step_fragments(loaded, step.table):
        sql = transpile_fragment(frag.text, "spark", dates)
        probe = render(portable(f"SELECT ({frag.text}) FROM {ident(relation_name(source))} AS s, "
                                f"{as_of_relation(plan.as_of)}", dates), "spark")
        try:
            spark.sql(probe).schema  # noqa: B018 - analysis only, no job runs
        except Exception as exc:  # AnalysisException, ParseException: both are the fragment's
            problems.append(fragment_problem(loaded, frag, ENGINE, exc) + f" (as Spark SQL: {sql})")
    return problems


def register_needed(spark: SparkSession, loaded: LoadedConfig, plan: Plan, sources: dict[str, SourceInfo]) -> None:
    problems = []
    for step in aggregate_steps(plan):
        problems += unsupported(loaded, step.table.removeprefix("agg_"))
    if problems:
        raise ConfigError(problems)
    for step in aggregate_steps(plan):
        name = step.table.removeprefix("agg_")
        register(spark, loaded, name, sources[name])


def check_on_spark(loaded: LoadedConfig, plan: Plan, sources: dict[str, SourceInfo]) -> None:
    """`chs validate` under engine spark: fragments transpile and every aggregate query (so every
    fragment in it) is analysed by Spark on the real sources; problems at their YAML lines."""
    columns = {n: i.columns for n, i in sources.items()}
    check_fragments_transpile(loaded, plan, columns, "spark", "engine")
    spark = session(loaded)
    register_needed(spark, loaded, plan, sources)
    problems = []
    for step in aggregate_steps(plan):
        try:
            spark.sql(spark_sql(step, sources)).schema  # noqa: B018 - analysis only
        except Exception as exc:
            problems += _blame(spark, loaded, step, sources, plan) or [
                f"{loaded.path}: the aggregate query of source '{step.table.removeprefix('agg_')}' "
                f"fails on Spark: {_first_line(exc)}"]
    if problems:
        raise ConfigError(problems)


def run_aggregates(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
                   plan: Plan) -> set[str]:
    """Run the plan's aggregate steps on Spark; create each `agg_<source>` in `con` from the
    Parquet Spark wrote. Returns the tables created (the caller skips those steps)."""
    import pyarrow.parquet as pq
    steps = aggregate_steps(plan)
    if not steps:
        return set()
    check_fragments_transpile(loaded, plan, {n: i.columns for n, i in sources.items()}, "spark", "engine")
    spark = session(loaded)
    register_needed(spark, loaded, plan, sources)
    folder = tempfile.mkdtemp(prefix="chs-spark-")
    try:
        for step in steps:
            path = str(Path(folder) / step.table)
            try:
                spark.sql(spark_sql(step, sources)).write.parquet(path)
            except Exception as exc:
                blamed = _blame(spark, loaded, step, sources, plan)
                if blamed:
                    raise ConfigError(blamed) from None
                raise ChsError(f"Spark failed on the aggregates of source "
                               f"'{step.table.removeprefix('agg_')}': {_first_line(exc)}") from None
            # The types DuckDB's own step would give (binding only, nothing runs): the later
            # steps then see the same table whichever engine made it.
            types = con.execute(f"DESCRIBE {step.select}").fetchall()
            result = pq.read_table(path)
            name = f"__spark_{step.table}"
            con.register(name, result)
            try:
                cols = ", ".join(f"CAST({ident(c)} AS {t}) AS {ident(c)}" for c, t, *_ in types)
                con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(step.table)} AS SELECT {cols} FROM {ident(name)}")
            finally:
                con.unregister(name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {s.table for s in steps}
