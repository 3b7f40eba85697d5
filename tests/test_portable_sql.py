"""`chs compile --dialect`: the portable aggregate queries (no Spark needed here).

The portable rewrite must not change a number: run on DuckDB (`--dialect duckdb`), each query
gives the same rows as the plan's own `agg_<source>` step, and `latest` breaks a tie of two
rows at the same time by the larger value, the same on every engine and in the default DuckDB
plan (`arg_max` ordered by time, then value).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import sys
from pathlib import Path

import duckdb
import pytest

from chs.config import load_config
from chs.engines.portable import DIALECTS, aggregate_steps, date_columns_of, portable, render
from chs.pipeline import prepare
from tests.engine.conftest import BASE_CONFIG, BASE_FILES, run_chs, write_project

AS_OF = dt.date(2026, 11, 21)

FILES = {
    **BASE_FILES,
    # A2 has two answers at the same time (score 3 and 8): `latest` must pick 8 on any engine.
    "data/nps.csv": "account_id,answered,score,comment\nA1,2026-11-01 10:00:00,9,fine\nA1,2026-10-01 10:00:00,4,meh\n"
                    "A2,2026-11-02 09:00:00,3,x\nA2,2026-11-02 09:00:00,8,y\nA3,2026-11-03 09:00:00,,none\n"
                    "A3,2026-09-03 09:00:00,6,old\nA1,2026-11-25 10:00:00,0,future\n",
}


def _config() -> dict:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sources"]["nps"] = {"path": "data/nps.csv", "account": "account_id", "time": "answered"}
    cfg["variables"].update({
        "last_answer": {"source": "nps", "agg": "latest", "column": "score"},
        "nps_365d": {"source": "nps", "agg": "nps", "column": "score", "window": "365d"},
        "detractor_share": {"source": "nps", "agg": "share", "where": "score <= 6", "window": "90d"},
        "median_score": {"source": "nps", "agg": "median", "column": "score"},
        "answers_before": {"source": "nps", "agg": "count", "where": "answered < as_of - 30"},
        "comments": {"source": "nps", "agg": "count_distinct", "column": "comment", "window": "30d"},
        "all_comments": {"source": "nps", "agg": "count_distinct", "column": "comment"},
        "days_since_answer": {"source": "nps", "agg": "days_since"},
        "trend": {"source": "usage", "agg": "pct_change", "window": "14d"},
    })
    return cfg


@pytest.fixture
def tied(tmp_path: Path) -> Path:
    return write_project(tmp_path, _config(), dict(FILES))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=lambda r: str(r[0]))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), abs_tol=1e-12)  # type: ignore[arg-type]
    return a == b


def test_portable_duckdb_queries_give_the_plan_s_rows(tied: Path) -> None:
    loaded = load_config(tied)
    con = duckdb.connect()
    prep = prepare(con, loaded, AS_OF)
    steps = aggregate_steps(prep.plan)
    assert {s.table for s in steps} == {"agg_usage", "agg_nps"}
    for step in steps:
        dates = date_columns_of(prep.sources[step.table.removeprefix("agg_")].columns)
        sql = render(portable(step.select, dates), "duckdb")
        assert "FILTER" not in sql.upper() and "ARG_MAX" not in sql.upper()
        mine, theirs = _rows(con, sql), _rows(con, step.select)
        assert len(mine) == len(theirs) > 0
        names = [c for c, *_ in con.execute(f"DESCRIBE {step.select}").fetchall()]
        for a, b in zip(mine, theirs):
            for name, x, y in zip(names, a, b):
                assert _same(x, y), (step.table, name, a, b)
    nps = next(s for s in steps if s.table == "agg_nps")
    latest = dict(con.execute(f"SELECT __key, last_answer FROM ({render(portable(nps.select, set()), 'duckdb')})")
                  .fetchall())
    # The tie at A2 goes to the larger value; A3's newest row has no score, so its older one counts.
    assert latest == {"A1": 9, "A2": 8, "A3": 6}
    own = dict(con.execute(f"SELECT __key, last_answer FROM ({nps.select})").fetchall())
    assert own == latest  # the default plan breaks the tie the same way


def test_compile_dialects(tied: Path) -> None:
    plain = run_chs("compile", "--as-of", "2026-11-21", cwd=tied.parent)
    assert plain.returncode == 0, plain.stderr
    assert "CREATE OR REPLACE TEMP TABLE" in plain.stdout  # the full DuckDB plan, as before
    for dialect in DIALECTS:
        res = run_chs("compile", "--as-of", "2026-11-21", "--dialect", dialect, cwd=tied.parent)
        assert res.returncode == 0, (dialect, res.stderr)
        assert "-- agg_usage" in res.stdout and "-- agg_nps" in res.stdout
        assert "CREATE" not in res.stdout and "FILTER(" not in res.stdout.replace(" ", "")
        # date - integer is DuckDB/Spark only: every dialect gets an interval of days.
        assert "as_of - 30" not in res.stdout and "as_of - INTERVAL '30" in res.stdout, dialect
    spark = run_chs("compile", "--as-of", "2026-11-21", "--dialect", "spark", cwd=tied.parent).stdout
    assert "`src_nps`" in spark and "CAST(100.0 AS DOUBLE)" in spark
    bad = run_chs("compile", "--dialect", "oracle", cwd=tied.parent)
    assert bad.returncode == 2 and "unknown dialect 'oracle'" in bad.stderr


def test_engine_config_keys(tied: Path) -> None:
    cfg = _config()
    cfg["storage"] = {"engine": "spark", "spark": {"master": "local[1]", "conf": {"spark.driver.memory": "1g"}}}
    path = write_project(tied.parent / "ok", cfg, dict(FILES))
    assert load_config(path).config.storage.spark.master == "local[1]"  # type: ignore[union-attr]
    cfg["storage"] = {"engine": "flink", "spark": {"masters": "local[1]"}}
    bad = write_project(tied.parent / "bad", cfg, dict(FILES))
    res = run_chs("validate", cwd=bad.parent)
    assert res.returncode == 78
    assert "storage.engine" in res.stderr and "storage.spark.masters: unknown key" in res.stderr


def test_engine_spark_without_pyspark_is_a_config_error(tied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chs.engines.spark import session
    from chs.errors import ConfigError
    cfg = _config()
    cfg["storage"] = {"engine": "spark"}
    loaded = load_config(write_project(tied.parent / "spark", cfg, dict(FILES)))
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError) as err:
        session(loaded)
    assert err.value.exit_code == 78
    assert "storage.engine: engine spark needs pyspark" in str(err.value) and "chs[spark]" in str(err.value)


def test_exports_spark_does_not_read_are_named(tied: Path) -> None:
    from chs.engines.spark import unsupported
    cfg = _config()
    cfg["storage"] = {"engine": "spark"}
    cfg["sources"]["nps"] = {"path": "data/nps.jsonl", "account": "account_id", "time": "answered",
                             "csv": {"footer": True}}
    files = {**FILES, "data/nps.jsonl": '{"account_id": "A1", "answered": "2026-11-01", "score": 9}\n'}
    loaded = load_config(write_project(tied.parent / "json", cfg, files))
    problems = unsupported(loaded, "nps")
    assert any("sources.nps: json exports are not read under engine spark" in p for p in problems), problems
    assert any("sources.nps.csv.footer: not supported under engine spark" in p for p in problems), problems
    assert unsupported(loaded, "usage") == []
