"""DESIGN 2.3 Change + 3 (history): previous_score / delta / delta_7d / delta_30d, re-scoring
the same as_of replaces that snapshot.

The only variable is x = k * date_diff('day', DATE '2024-06-01', as_of) with an identity scale:
account A (k = 1) scores the number of days from 2024-06-01 to D, account B (k = 2) twice that.
"""

import duckdb
import polars as pl
import pytest

from .conftest import approx, base_config, group, leaf, make_project, run_chs, score

ACCOUNTS = """
account_id,account_name,owner,k
A,Alpha,a@x.io,1
B,Beta,b@x.io,2
"""

# A: x = days since 2024-06-01 ; B: x = 2 * days since 2024-06-01
VARIABLES = {"x": {"source": "accounts", "expr": "k * date_diff('day', DATE '2024-06-01', as_of)"}}

D1 = "2024-06-10"  # A: 9,  B: 18
D2 = "2024-06-17"  # A: 16, B: 32  (D1 + 7)
D3 = "2024-06-18"  # A: 17, B: 34
D4 = "2024-07-17"  # A: 46, B: 92  (D2 + 30)
D0 = "2024-06-05"  # A: 4,  B: 8   (before every other snapshot)


@pytest.fixture
def cfg(tmp_path):
    conf = base_config(variables=VARIABLES, tree={"g": group(1, {"x": leaf("x")})})
    return make_project(tmp_path, conf, {"data/accounts.csv": ACCOUNTS})


def _snapshot_rows(cfg, as_of):
    con = duckdb.connect(str(cfg.parent / "chs.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT count(*) FROM scores WHERE CAST(as_of AS DATE) = CAST(? AS DATE)", [as_of]
        ).fetchone()[0]
    finally:
        con.close()


def test_first_run_has_no_previous(cfg):
    r = score(cfg, D1).row("A")
    assert r["score"] == approx(9)  # 06-01 -> 06-10 = 9 days
    assert r["previous_score"] is None
    assert r["delta"] is None
    assert r["delta_7d"] is None
    assert r["delta_30d"] is None


def test_second_run_7_days_later(cfg):
    score(cfg, D1)
    res = score(cfg, D2)
    a, b = res.row("A"), res.row("B")
    assert a["score"] == approx(16)  # 06-01 -> 06-17
    assert a["previous_score"] == approx(9)  # snapshot D1
    assert a["delta"] == approx(7)  # 16 - 9
    assert a["delta_7d"] == approx(7)  # latest snapshot with as_of <= 06-10 is D1: 16 - 9
    assert a["delta_30d"] is None  # no snapshot with as_of <= 05-18
    assert b["score"] == approx(32)  # 2 * 16
    assert b["delta"] == approx(14)  # 32 - 18


def test_delta_uses_latest_snapshot_before_d_and_delta_7d_the_latest_at_or_before_d_minus_7(cfg):
    score(cfg, D1)
    score(cfg, D2)
    a = score(cfg, D3).row("A")
    assert a["score"] == approx(17)
    assert a["previous_score"] == approx(16)  # latest as_of < 06-18 is D2
    assert a["delta"] == approx(1)  # 17 - 16
    assert a["delta_7d"] == approx(8)  # latest as_of <= 06-11 is D1 (9): 17 - 9
    assert a["delta_30d"] is None


def test_delta_30d(cfg):
    score(cfg, D1)
    score(cfg, D2)
    a = score(cfg, D4).row("A")
    assert a["score"] == approx(46)  # 06-01 -> 07-17 = 29 + 17 = 46
    assert a["previous_score"] == approx(16)  # latest < 07-17 is D2
    assert a["delta"] == approx(30)
    assert a["delta_7d"] == approx(30)  # latest <= 07-10 is D2 (16)
    assert a["delta_30d"] == approx(30)  # latest <= 06-17 is D2 (16): 46 - 16


def test_backfilled_earlier_date_has_no_previous(cfg):
    # previous = latest as_of < D, not the last run
    score(cfg, D1)
    score(cfg, D2)
    a = score(cfg, D0).row("A")
    assert a["score"] == approx(4)
    assert a["previous_score"] is None
    assert a["delta"] is None


def test_rescoring_same_as_of_keeps_one_snapshot(cfg):
    score(cfg, D1)
    score(cfg, D2)
    res = score(cfg, D2)  # again
    # still compared with D1, not with the first D2 run
    assert res.row("A")["previous_score"] == approx(9)
    assert res.row("A")["delta"] == approx(7)
    # one history row per account for D2 (2 accounts), and D1 untouched
    assert _snapshot_rows(cfg, D2) == 2
    assert _snapshot_rows(cfg, D1) == 2


def test_rescoring_then_later_run_sees_single_previous(cfg):
    score(cfg, D1)
    score(cfg, D2)
    score(cfg, D2)
    a = score(cfg, D3).row("A")
    assert a["previous_score"] == approx(16)
    assert a["delta"] == approx(1)  # 17 - 16


def test_history_keeps_every_as_of(cfg):
    for d in (D1, D2, D3):
        score(cfg, d)
    for d in (D1, D2, D3):
        assert _snapshot_rows(cfg, d) == 2


def test_failed_run_leaves_previous_outputs(cfg):
    # "replaced atomically: a crashed run leaves the previous files"
    score(cfg, D1)
    (cfg.parent / "data" / "accounts.csv").unlink()  # next run fails: input file missing (66)
    proc = run_chs(cfg, "score", "--as-of", D2)
    assert proc.returncode == 66
    s = pl.read_parquet(cfg.parent / "out" / "scores.parquet")
    assert str(s["as_of"][0])[:10] == D1
    assert s.height == 2


def test_delta_7d_null_when_no_snapshot_at_or_before_d_minus_7(cfg):
    score(cfg, D1)  # 06-10
    a = score(cfg, "2024-06-16").row("A")  # D-7 = 06-09 < 06-10: no snapshot old enough
    assert a["score"] == approx(15)  # 06-01 -> 06-16
    assert a["previous_score"] == approx(9)  # D1 is the latest as_of < 06-16
    assert a["delta"] == approx(6)  # 15 - 9
    assert a["delta_7d"] is None
