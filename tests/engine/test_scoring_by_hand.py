"""Scores of a tiny dataset, computed by hand (see the arithmetic beside each number)."""

from __future__ import annotations

import copy
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.engine.conftest import BASE_CONFIG, BASE_FILES, run_chs, write_project


def scores(cfg: Path) -> dict[str, dict]:
    df = pl.read_parquet(cfg.parent / "out" / "scores.parquet")
    return {r["account_id"]: r for r in df.to_dicts()}


def test_window_edges_steps_and_weights(project: Path) -> None:
    res = run_chs("--config", str(project), "score", "--as-of", "2026-11-20")
    assert res.returncode == 0, res.stderr
    s = scores(project)
    # A1: events in (2026-10-21, 2026-11-20]: 11-20 and 11-01 = 2 (11-21 is after as_of) -> 2/4*100 = 50
    #     seats 20 -> step 100. score = (2*50 + 1*100)/3 = 66.666...
    assert s["A1"]["score_usage"] == pytest.approx(50.0)
    assert s["A1"]["score_size"] == pytest.approx(100.0)
    assert s["A1"]["score"] == pytest.approx(200 / 3, abs=1e-9)
    assert s["A1"]["band"] == "yellow"
    # A2: 2026-10-22 is D-29 -> in; 2026-10-21 is exactly D-30 -> out. 1 event -> 25; seats 10 -> 50
    #     score = (2*25 + 50)/3 = 33.333 -> red
    assert s["A2"]["score"] == pytest.approx(100 / 3, abs=1e-9)
    assert s["A2"]["band"] == "red"
    # A3: no rows at all: count = 0 -> 0; seats 5 < 10 -> 0. score 0.
    assert s["A3"]["score"] == pytest.approx(0.0)
    assert s["A3"]["coverage"] == pytest.approx(1.0)


def test_drivers_add_up(project: Path) -> None:
    assert run_chs("--config", str(project), "score", "--as-of", "2026-11-20").returncode == 0
    drivers = pl.read_parquet(project.parent / "out" / "drivers.parquet")
    sums = drivers.group_by("account_id").agg(pl.col("contribution").sum(), pl.col("effective_weight").sum())
    s = scores(project)
    for row in sums.to_dicts():
        assert 50 + row["contribution"] == pytest.approx(s[row["account_id"]]["score"], abs=1e-9)
        assert row["effective_weight"] == pytest.approx(1.0, abs=1e-12)
    a1 = drivers.filter(pl.col("account_id") == "A1").sort("node").to_dicts()
    # size: eff 1/3, s 100 -> +16.667; usage: eff 2/3, s 50 -> 0
    assert a1[0]["node"] == "size" and a1[0]["contribution"] == pytest.approx(50 / 3)
    assert a1[1]["raw_value"] == 2 and a1[1]["contribution"] == pytest.approx(0.0)


def test_missing_skip_imputed_and_unknown(tmp_path: Path) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["variables"]["last_seen"] = {"source": "usage", "agg": "days_since"}
    cfg["score"]["tree"]["recency"] = {"weight": 1, "variable": "last_seen",
                                       "scale": {"thresholds": [[0, 100], [30, 0]]}, "missing": 40}
    cfg["score"]["tree"]["size"]["scale"] = {"map": {"x": 1}}  # every account unmapped -> missing (skip)
    path = write_project(tmp_path, cfg, dict(BASE_FILES))
    assert run_chs("--config", str(path), "score", "--as-of", "2026-11-20").returncode == 0
    s = scores(path)
    # A3: usage 0 (count), recency missing -> imputed 40, size unmapped -> skipped.
    # score = (2*0 + 1*40)/3 = 13.333; coverage: full weights 2/4 usage (has value), recency 1/4 imputed, size 1/4
    assert s["A3"]["score"] == pytest.approx(40 / 3, abs=1e-9)
    assert s["A3"]["coverage"] == pytest.approx(0.5)
    # A1: last event 2026-11-20 -> 0 days -> 100. score = (2*50 + 100)/3
    assert s["A1"]["score"] == pytest.approx(200 / 3, abs=1e-9)


def test_every_leaf_missing_gives_unknown(tmp_path: Path) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["variables"]["avg_x"] = {"source": "usage", "agg": "avg", "expr": "1", "window": "7d"}
    cfg["score"]["tree"] = {"only": {"variable": "avg_x", "scale": {"percentile": {}}}}
    path = write_project(tmp_path, cfg, dict(BASE_FILES))
    assert run_chs("--config", str(path), "score", "--as-of", "2026-11-20").returncode == 0
    s = scores(path)
    # only A1 has rows within 7d -> single account percentile -> 0; others NULL -> unknown
    assert s["A1"]["score"] == pytest.approx(0.0)
    assert s["A2"]["score"] is None and s["A2"]["band"] == "unknown"
    assert s["A2"]["coverage"] == pytest.approx(0.0)


def test_rescoring_keeps_one_snapshot_and_deltas(project: Path) -> None:
    for day in ("2026-11-13", "2026-11-20", "2026-11-20"):
        res = run_chs("--config", str(project), "score", "--as-of", day)
        assert res.returncode == 0, res.stderr
    con = duckdb.connect(str(project.parent / "chs.duckdb"), read_only=True)
    counts = dict(con.execute("SELECT as_of::VARCHAR, count(*) FROM scores GROUP BY 1").fetchall())
    nodes = dict(con.execute("SELECT as_of::VARCHAR, count(*) FROM node_scores GROUP BY 1").fetchall())
    con.close()
    assert counts == {"2026-11-13": 3, "2026-11-20": 3}
    assert nodes == {"2026-11-13": 9, "2026-11-20": 9}  # 3 accounts x (root + 2 leaves)
    s = scores(project)
    # A1 on 11-13: events in (10-14, 11-13]: 11-01 -> 1 -> 25; score (50 + 100)/3 = 50
    assert s["A1"]["previous_score"] == pytest.approx(50.0)
    assert s["A1"]["delta"] == pytest.approx(200 / 3 - 50)
    assert s["A1"]["delta_7d"] == pytest.approx(200 / 3 - 50)
    assert s["A1"]["delta_30d"] is None


def test_imputation_alone_gives_no_score(tmp_path: Path) -> None:
    # DESIGN 2.3: an imputed leaf is still *missing*; with every leaf missing the score is NULL.
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["variables"]["avg_x"] = {"source": "usage", "agg": "avg", "expr": "1", "window": "7d"}
    cfg["score"]["tree"] = {
        "a": {"variable": "avg_x", "scale": {"thresholds": [[0, 0], [1, 100]]}},
        "b": {"variable": "avg_x", "scale": {"thresholds": [[0, 0], [1, 100]]}, "missing": 40},
    }
    path = write_project(tmp_path, cfg, dict(BASE_FILES))
    assert run_chs("--config", str(path), "score", "--as-of", "2026-11-20").returncode == 0
    s = scores(path)
    assert s["A1"]["score"] == pytest.approx(100.0)  # both leaves have the value 1 -> 100
    assert s["A2"]["score"] is None and s["A2"]["band"] == "unknown"
    drivers = pl.read_parquet(path.parent / "out" / "drivers.parquet").filter(pl.col("account_id") == "A2")
    assert drivers["contribution"].to_list() == [0.0, 0.0]


def test_scoring_an_earlier_date_refreshes_later_deltas(project: Path) -> None:
    for day in ("2026-11-20", "2026-11-13"):  # out of order: 11-20 first had no previous
        assert run_chs("--config", str(project), "score", "--as-of", day).returncode == 0
    con = duckdb.connect(str(project.parent / "chs.duckdb"), read_only=True)
    rows = con.execute("SELECT previous_score, delta, delta_7d FROM scores "
                       "WHERE as_of = DATE '2026-11-20' AND account_id = 'A1'").fetchall()
    con.close()
    # A1: 50 on 11-13 (see test_rescoring_keeps_one_snapshot_and_deltas), 66.67 on 11-20
    assert rows[0][0] == pytest.approx(50.0)
    assert rows[0][1] == pytest.approx(200 / 3 - 50)
    assert rows[0][2] == pytest.approx(200 / 3 - 50)


@pytest.mark.parametrize(("zone", "stamp", "visible"), [
    ("Europe/Berlin", "2026-11-21 00:30:00", True),       # = 2026-11-20 23:30 UTC: on D
    ("America/New_York", "2026-11-20 23:30:00", False),   # = 2026-11-21 04:30 UTC: after D
    ("America/New_York", "2026-10-21 22:00:00", True),    # = 2026-10-22 02:00 UTC: D-29, in the window
])
def test_source_timezone_converts_naive_timestamps_to_utc(tmp_path: Path, zone: str, stamp: str,
                                                          visible: bool) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sources"]["usage"]["timezone"] = zone
    files = dict(BASE_FILES, **{"data/usage.csv": f"account_id,ts\nA3,{stamp}\n"})
    path = write_project(tmp_path, cfg, files)
    assert run_chs("--config", str(path), "score", "--as-of", "2026-11-20").returncode == 0
    drivers = pl.read_parquet(path.parent / "out" / "drivers.parquet")
    raw = drivers.filter((pl.col("account_id") == "A3") & (pl.col("node") == "usage"))["raw_value"][0]
    assert raw == (1 if visible else 0)
