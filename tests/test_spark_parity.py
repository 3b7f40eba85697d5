"""`storage.engine: spark` scores exactly as DuckDB does (DESIGN 7), on the telecom example.

The example covers every reader path the Spark engine has: Parquet exports (usage, invoices),
a German Excel CSV (`;`, decimal comma, dd.mm.yyyy dates, latin-1) and plain CSVs, and the
aggs count, count_distinct (split query), pct_change, days_since, avg, nps, latest, share, sum.
One SparkSession (local[1]) for the module; skipped when pyspark or Java is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chs.config import load_config
from chs.init_project import init_project
from chs.pipeline import prepare, score
from tests.engine.conftest import run_chs

DATES = [dt.date(2026, 10, 16), dt.date(2026, 11, 20)]
ENGINE_BLOCK = '  engine: spark\n  spark: {master: "local[1]", conf: {spark.sql.shuffle.partitions: 2}}\n'


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    # CI (.ci/run) installs both and sets CHS_REQUIRE_SPARK: there a missing piece fails the run
    # instead of skipping the parity check unnoticed.
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install -e '.[spark]')"
    if missing is None and shutil.which("java") is None:
        missing = "Java is not installed: Spark needs a JRE (apt-get install default-jre-headless)"
    if missing is not None:
        if os.environ.get("CHS_REQUIRE_SPARK"):
            pytest.fail(missing)
        pytest.skip(missing)
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[1]").appName("chs-tests")
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "2")
               .getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same generated example twice: scored by DuckDB alone, and with engine spark."""
    duck = tmp_path_factory.mktemp("duckdb")
    init_project(duck, example="telecom", accounts=40)
    on_spark = tmp_path_factory.mktemp("spark")
    shutil.copytree(duck / "data", on_spark / "data")
    text = (duck / "chs.yaml").read_text()
    assert "  output_dir: out\n" in text
    (on_spark / "chs.yaml").write_text(text.replace("  output_dir: out\n", "  output_dir: out\n" + ENGINE_BLOCK, 1))
    return duck / "chs.yaml", on_spark / "chs.yaml"


def _outputs(config: Path) -> dict[str, pl.DataFrame]:
    out = config.parent / "out"
    return {name: pl.read_parquet(out / f"{name}.parquet").drop("run_id", "config_hash", strict=False)
            for name in ("scores", "drivers")}


def test_spark_scores_equal_duckdb(spark: Any, projects: tuple[Path, Path]) -> None:
    duck, on_spark = projects
    assert load_config(on_spark).config.storage.engine == "spark"
    for as_of in DATES:
        score(load_config(duck), [as_of])
        score(load_config(on_spark), [as_of])
        timings = json.loads((on_spark.parent / "out" / "run.json").read_text())["timings_seconds"]
        assert "engine_aggregates" in timings and "agg_usage" not in timings  # Spark made the agg tables
        expected, actual = _outputs(duck), _outputs(on_spark)
        scores = expected["scores"]
        assert scores.height > 20 and scores["score"].drop_nulls().n_unique() > 10  # a real comparison
        assert scores["as_of"][0] == as_of
        for name in ("scores", "drivers"):
            assert_frame_equal(actual[name], expected[name], check_exact=False, rel_tol=0, abs_tol=1e-9)
        assert actual["scores"]["band"].to_list() == scores["band"].to_list()


def _sections(text: str) -> dict[str, str]:
    """`-- agg_<source>` header -> the query under it (without the closing `;`)."""
    parts = re.split(r"^-- (agg_\w+)\n", text, flags=re.M)
    return {parts[i]: parts[i + 1].strip().removesuffix(";") for i in range(1, len(parts), 2)}


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return a == b


def test_compiled_spark_sql_runs_unchanged_on_spark(spark: Any, projects: tuple[Path, Path]) -> None:
    from chs.engines.spark import register
    _, on_spark = projects
    as_of = DATES[-1]
    res = run_chs("compile", "--as-of", as_of.isoformat(), "--dialect", "spark", cwd=on_spark.parent)
    assert res.returncode == 0, res.stderr
    queries = _sections(res.stdout)
    assert set(queries) == {"agg_usage", "agg_tickets", "agg_nps", "agg_addons", "agg_invoices"}
    loaded = load_config(on_spark)
    con = duckdb.connect()
    prep = prepare(con, loaded, as_of)
    for table, sql in queries.items():
        source = table.removeprefix("agg_")
        register(spark, loaded, source, prep.sources[source])  # the view src_<source> the text reads
        got = sorted((tuple(r) for r in spark.sql(sql).collect()), key=lambda r: str(r[0]))
        step = next(s for s in prep.plan.steps if s.table == table)
        want = sorted(con.execute(step.select).fetchall(), key=lambda r: str(r[0]))
        assert len(got) == len(want) > 0, table
        for a, b in zip(got, want):
            assert all(_close(x, y) for x, y in zip(a, b)), (table, a, b)


def test_fragment_spark_cannot_run_is_a_config_error_at_its_line(spark: Any, projects: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    from chs.validate import validate
    _, on_spark = projects
    shutil.copytree(on_spark.parent / "data", tmp_path / "data")
    text = on_spark.read_text()
    old = "where: \"event_type = 'login'\""
    assert old in text
    # strip_accents is DuckDB's: sqlglot passes it through, Spark has no such function.
    text = text.replace(old, "where: \"strip_accents(event_type) = 'login'\"")
    (tmp_path / "chs.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "strip_accents" in t)
    loaded = load_config(tmp_path / "chs.yaml")
    result = validate(duckdb.connect(), loaded)
    assert result.exit_code == 78
    located = [p for _, p in result.problems if f"chs.yaml:{line}: variables.days_since_login.where" in p]
    assert located and "engine spark" in located[0] and "STRIP_ACCENTS" in located[0].upper()


def test_rows_spark_reads_differently_are_a_data_error(spark: Any, tmp_path: Path) -> None:
    """dd.mm.yyyy dates that DuckDB's sniffer recognises but Spark cannot cast: never silently
    fewer rows; with the format declared, both engines read the same rows and score alike."""
    import copy

    from chs.errors import DataError
    from tests.engine.conftest import BASE_CONFIG, BASE_FILES, write_project
    files = dict(BASE_FILES)
    files["data/usage.csv"] = ("account_id,ts\nA1,20.11.2026\nA1,01.11.2026\nA2,22.10.2026\n"
                               "A2,21.10.2026\nA3,19.11.2026\n")
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["storage"] = {"engine": "spark", "spark": {"master": "local[1]"}}
    undeclared = write_project(tmp_path / "undeclared", copy.deepcopy(cfg), files)
    with pytest.raises(DataError, match=r"Spark reads \d+ rows of source 'usage' where DuckDB reads 5"):
        score(load_config(undeclared), [dt.date(2026, 11, 20)])
    cfg["sources"]["usage"]["csv"] = {"date_format": "%d.%m.%Y"}
    declared = write_project(tmp_path / "declared", copy.deepcopy(cfg), files)
    score(load_config(declared), [dt.date(2026, 11, 20)])
    cfg["storage"] = {"engine": "duckdb"}
    on_duckdb = write_project(tmp_path / "duckdb", cfg, files)
    score(load_config(on_duckdb), [dt.date(2026, 11, 20)])
    expected, actual = _outputs(on_duckdb), _outputs(declared)
    assert expected["scores"]["score"].to_list() != [None] * 3
    for name in ("scores", "drivers"):
        assert_frame_equal(actual[name], expected[name], check_exact=False, rel_tol=0, abs_tol=1e-9)
