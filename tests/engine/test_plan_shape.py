"""What the plan materialises: `scored` keeps only what the snapshot reads (SQL generation),
and the stored values do not change for it."""

from __future__ import annotations

import copy
from pathlib import Path

import duckdb
import pytest

from tests.engine.conftest import BASE_CONFIG, BASE_FILES, run_chs, write_project


def _scored_columns(cfg: Path) -> list[str]:
    plan = run_chs("--config", str(cfg), "compile", "--as-of", "2026-11-20")
    assert plan.returncode == 0, plan.stderr
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # The compiled scored step over an empty `vars` of the plan's own columns.
    vars_step = plan.stdout.split('CREATE OR REPLACE TEMP TABLE "scored" AS\n', 1)[1].split(";\n", 1)[0]
    con.execute("CREATE TABLE vars (__account VARCHAR, __name VARCHAR, __owner VARCHAR, __segment VARCHAR, "
                "__rule VARCHAR, account_id VARCHAR, tier VARCHAR, seats BIGINT, events_30d BIGINT)")
    return [r[0] for r in con.execute(f"DESCRIBE {vars_step}").fetchall()]


@pytest.mark.parametrize("override", [False, True])
def test_scored_keeps_only_what_the_snapshot_reads(tmp_path: Path, override: bool) -> None:
    config = copy.deepcopy(BASE_CONFIG)
    if override:
        config["segments"] = {"big": {"when": "seats >= 20", "weights": {"size": 5}}}
    cfg = write_project(tmp_path, config, dict(BASE_FILES))
    cols = _scored_columns(cfg)
    # Account columns other than the roles stay in `vars`, not in scored.
    assert "account_id" not in cols and "tier" not in cols and "__rule" not in cols
    assert {"__account", "__name", "__owner", "__segment", "seats", "events_30d", "score", "band"} <= set(cols)
    # A weight no segment changes is a literal, not a column; an overridden one is a column.
    assert "__w_1" not in cols  # usage
    assert ("__w_2" in cols) == override  # size


def test_weights_stored_with_and_without_segment_overrides(tmp_path: Path) -> None:
    config = copy.deepcopy(BASE_CONFIG)
    config["segments"] = {"big": {"when": "seats >= 20", "weights": {"size": 5}}}
    cfg = write_project(tmp_path, config, dict(BASE_FILES))
    done = run_chs("--config", str(cfg), "score", "--as-of", "2026-11-20")
    assert done.returncode == 0, done.stderr
    drivers = duckdb.sql(f"SELECT account_id, node, weight, raw_text FROM '{tmp_path}/out/drivers.parquet' "
                         "ORDER BY 1, 2").fetchall()
    assert drivers == [("A1", "size", 5.0, None), ("A1", "usage", 2.0, None), ("A2", "size", 1.0, None),
                       ("A2", "usage", 2.0, None), ("A3", "size", 1.0, None), ("A3", "usage", 2.0, None)]
    con = duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True)
    stored = con.execute("SELECT account_id, node, weight, raw_text FROM node_scores WHERE node <> '' "
                         "ORDER BY 1, 2").fetchall()
    # No map scale: raw_text is stored as one NULL per account, and reads as NULL per node.
    assert stored == drivers
    assert con.execute("SELECT count(*) FROM node_values WHERE raw_text IS NOT NULL").fetchall() == [(0,)]


def test_changes_join_one_stored_snapshot_each_by_literal_date() -> None:
    """The reference snapshots are named by literal dates, so the scan reads their row groups
    only and each hash table holds one snapshot, however long the history (with the date a
    join column, every stored row was hashed three times: out of memory at 1M accounts after a
    few nights)."""
    import datetime as dt

    from chs.history import change_joins, reference_dates
    con = duckdb.connect()
    con.execute("CREATE TABLE scores (account_id VARCHAR, as_of DATE, score DOUBLE)")
    con.execute("CREATE TABLE __params AS SELECT DATE '2026-11-20' AS as_of")
    assert reference_dates(con) == {"prev": None, "h7": None, "h30": None}
    con.execute("INSERT INTO scores VALUES ('A', DATE '2026-10-01', 40), ('A', DATE '2026-11-12', 50), "
                "('A', DATE '2026-11-19', 60), ('A', DATE '2026-11-21', 70)")
    refs = reference_dates(con)
    assert refs == {"prev": dt.date(2026, 11, 19), "h7": dt.date(2026, 11, 12), "h30": dt.date(2026, 10, 1)}
    joins = change_joins("s", refs)
    assert "WHERE as_of = DATE '2026-11-19'" in joins and "DATE '2026-10-01'" in joins
    assert ".as_of =" not in joins  # no join on the date column
    got = con.execute(f"SELECT prev.score, h7.score, h30.score FROM (SELECT 'A' AS account_id) AS s {joins}")
    assert got.fetchall() == [(60.0, 50.0, 40.0)]
    none = change_joins("s", {"prev": None, "h7": None, "h30": None})
    assert con.execute(f"SELECT prev.score FROM (SELECT 'A' AS account_id) AS s {none}").fetchall() == [(None,)]


def test_percentile_window_sorts_a_narrow_row(tmp_path: Path) -> None:
    """A percentile leaf's window reads only the row id, segment and value of `vars` and is
    joined back by row id (over the full input row the window cost a third of `scored` at 1M
    accounts); the sub-scores are those of percent_rank within the segment."""
    config = copy.deepcopy(BASE_CONFIG)
    config["score"]["tree"]["size"]["scale"] = {"percentile": {"within": "segment"}}
    cfg = write_project(tmp_path, config, dict(BASE_FILES))
    plan = run_chs("--config", str(cfg), "compile", "--as-of", "2026-11-20")
    assert plan.returncode == 0, plan.stderr
    scored = plan.stdout.split('CREATE OR REPLACE TEMP TABLE "scored" AS\n', 1)[1].split(";\n", 1)[0]
    window = scored.split("percent_rank()", 1)[1]
    assert "FROM (SELECT rowid AS __rid, __segment, " in window and " FROM vars)) AS __p USING (__rid)" in window
    assert scored.count("percent_rank()") == 1
    done = run_chs("--config", str(cfg), "score", "--as-of", "2026-11-20")
    assert done.returncode == 0, done.stderr
    subs = duckdb.sql(f"SELECT account_id, sub_score FROM '{tmp_path}/out/drivers.parquet' WHERE node = 'size' "
                      "ORDER BY 1").fetchall()
    # seats: A1 20 (ent, alone: rank 0), A2 10 and A3 5 (smb: A3 lowest 0, A2 highest 100).
    assert subs == [("A1", 0.0), ("A2", 100.0), ("A3", 0.0)]
