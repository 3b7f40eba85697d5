"""`chs backtest` end to end (DESIGN 6): tiny hand-made projects scored through the CLI in
subprocesses, then backtested; every number is worked out by hand in the comments.

Main project (`health` attribute -> score through an identity scale, so score == health):

    account  health  band     churned_on (churns.csv)
    A1       10      red      2024-01-31   = D1 + 30
    A2       20      red      2024-02-01   = D1 + 31
    A3       30      red      -
    A4       45      yellow   -
    A5       50      yellow   2024-01-08   = D2 (gone on D2 and D3)
    A6       60      yellow   -
    A7       80      green    2024-01-01   = D1 (gone on every snapshot)
    A8       90      green    2024-02-10   (the latest churn -> default observed_until)
    X9       -       -        2024-01-20   (not in the account list)

Snapshots D1 = 2024-01-01, D2 = 2024-01-08, D3 = 2024-01-15 (`--every 7d`).
Horizon 30d: D1+30 = 01-31, D2+30 = 02-07, D3+30 = 02-14 > observed_until 02-10 -> D3 censored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from chs.backtest import metrics
from tests.contract.conftest import base_config, leaves_tree, make_project, run_chs

D1, D2, D3 = "2024-01-01", "2024-01-08", "2024-01-15"
TOL = 1e-9

ACCOUNTS = """
    account_id,account_name,owner,health,churned_at
    A1,Alpha,o@x.com,10,2024-01-31
    A2,Beta,o@x.com,20,2024-02-01
    A3,Gamma,o@x.com,30,
    A4,Delta,o@x.com,45,
    A5,Epsilon,o@x.com,50,2024-01-08
    A6,Zeta,o@x.com,60,
    A7,Eta,o@x.com,80,2024-01-01
    A8,Theta,o@x.com,90,2024-02-10
"""

CHURNS = """
    account_id,churned_on
    A1,2024-01-31
    A2,2024-02-01
    A5,2024-01-08
    A7,2024-01-01
    A8,2024-02-10
"""

# usage-like events: in the project (a declared variable) but not in the tree
USAGE = """
    account_id,event_time,event_type
    A1,2023-12-20 10:00:00,login
    A2,2023-12-28 09:00:00,login
    A3,2024-01-05 12:00:00,login
    A4,2024-01-06 12:00:00,report
    A8,2024-01-10 08:00:00,login
"""


def files(churns: str = CHURNS) -> dict[str, str]:
    return {"data/accounts.csv": ACCOUNTS, "data/churns.csv": churns, "data/usage.csv": USAGE}


def config(outcomes: dict | None = None, with_outcomes: bool = True) -> dict:
    extra = {}
    if with_outcomes:
        extra["outcomes"] = outcomes or {"churn": {"source": "churns", "date": "churned_on"}}
    return base_config(
        sources={
            "churns": {"path": "data/churns.csv", "account": "account_id"},
            "usage": {"path": "data/usage.csv", "account": "account_id", "time": "event_time"},
        },
        variables={
            "health": {"source": "accounts", "column": "health"},
            "logins": {"source": "usage", "agg": "count", "where": "event_type = 'login'"},
        },
        tree=leaves_tree("health"),  # nodes "", "g", "g.health": all equal the score
        **extra,
    )


def ok(proc) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def score_range(cfg: Path, start: str = D1, end: str = D3, every: str = "7d") -> None:
    ok(run_chs(cfg, "score", "--from", start, "--to", end, "--every", every))


def backtest_json(cfg: Path, *args: str) -> dict:
    proc = run_chs(cfg, "backtest", "--json", *args)
    ok(proc)
    return json.loads(proc.stdout)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """The main project, scored on D1, D2, D3 (shared read-only by the tests below)."""
    cfg = make_project(tmp_path_factory.mktemp("bt"), config(), files(CHURNS + "    X9,2024-01-20\n"))
    score_range(cfg)
    return cfg


# Labelled pairs for 30d (score, churned), censoring D3 and leaving out accounts gone on D:
#   D1 (A7 gone): A1 10 pos (01-31 <= 01-31), A2 20 neg (02-01 > 01-31), A3 30, A4 45,
#                 A5 50 pos (01-08 in (01-01, 01-31]), A6 60, A8 90 neg (02-10 > 01-31)   -> 7 pairs
#   D2 (A5, A7 gone): A1 10 pos, A2 20 pos (02-01 <= 02-07), A3 30, A4 45, A6 60, A8 90 neg -> 6 pairs
PAIRS_30D = [(10, 1), (20, 0), (30, 0), (45, 0), (50, 1), (60, 0), (90, 0),
             (10, 1), (20, 1), (30, 0), (45, 0), (60, 0), (90, 0)]
ACCOUNTS_30D = ["A1", "A2", "A3", "A4", "A5", "A6", "A8", "A1", "A2", "A3", "A4", "A6", "A8"]
# AUC: churners' scores 10, 10, 50, 20; 9 stayers: 20 30 45 60 90 | 30 45 60 90 -> 36 pairs
#   10 (x2): every stayer scores higher -> 9 + 9 = 18
#   20: higher 30 45 60 90 | 30 45 60 90 = 8, tied with A2@D1 = ½        -> 8.5
#   50: higher 60 90 | 60 90                                             -> 4
#   AUC = (18 + 8.5 + 4) / 36 = 30.5 / 36 = 61/72
AUC_30D = 61 / 72


def test_backtest_numbers_by_hand(scored: Path) -> None:
    doc = backtest_json(scored, "--horizon", "30d")
    assert doc["snapshots"] == [D1, D2, D3]
    assert set(doc["horizons"]) == {"30d"}
    h = doc["horizons"]["30d"]
    assert {"n", "positives", "auc", "auc_ci", "lift_10", "lift_20", "recall_10", "recall_20",
            "bands", "deciles", "nodes"} <= set(h)
    assert h["n"] == 13 and h["positives"] == 4  # 7 + 6 pairs; A1@D1, A5@D1, A1@D2, A2@D2
    assert h["auc"] == pytest.approx(AUC_30D, abs=TOL)
    # lift/recall over n = 13 pairs, 4 churners (base rate 4/13), lowest scores first:
    #   10%: k = 1.3, inside the tied block {10, 10} (both churned): caught 2 * 1.3/2 = 1.3
    #        recall 1.3/4 = 0.325; lift (1.3/1.3) / (4/13) = 3.25
    #   20%: k = 2.6: the 10-block (2) + 0.6 of the tied block {20 stayer, 20 churner}:
    #        caught 2 + 1 * 0.6/2 = 2.3; recall 2.3/4 = 0.575; lift (2.3/2.6) * 13/4 = 2.875
    assert h["recall_10"] == pytest.approx(0.325, abs=TOL)
    assert h["lift_10"] == pytest.approx(3.25, abs=TOL)
    assert h["recall_20"] == pytest.approx(0.575, abs=TOL)
    assert h["lift_20"] == pytest.approx(2.875, abs=TOL)
    # bands (red < 40 <= yellow < 70 <= green):
    #   red: A1, A2, A3 on D1 and D2 = 6 pairs, churned A1@D1, A1@D2, A2@D2 = 3
    #   yellow: A4, A5, A6 @D1 + A4, A6 @D2 = 5 pairs, churned A5@D1 = 1; green: A8 x2, none
    assert h["bands"] == {
        "green": {"n": 2, "churned": 0, "rate": 0.0},
        "yellow": {"n": 5, "churned": 1, "rate": pytest.approx(0.2, abs=TOL)},
        "red": {"n": 6, "churned": 3, "rate": pytest.approx(0.5, abs=TOL)},
    }
    # every node is the score itself here (one leaf, identity scale)
    assert set(h["nodes"]) == {"", "g", "g.health"}
    for path in ("", "g", "g.health"):
        assert h["nodes"][path] == pytest.approx(AUC_30D, abs=TOL)
    assert h["nodes"][""] == h["auc"]


def test_backtest_deciles_and_interval(scored: Path) -> None:
    h = backtest_json(scored, "--horizon", "30d")["horizons"]["30d"]
    # 13 pairs; sorted scores 10 10 20 20 30 30 45 45 50 60 60 90 90. Decile edges are the
    # scores at positions ceil(13 d / 10) = 2, 3, 4, 6, 7, 8, 10, 11, 12 -> 20 20 30 45 45 50 60 90 90;
    # a tied block at an edge goes wholly to the upper decile, so deciles 2, 5 and 9 are empty:
    # 1 = {10, 10}, 3 = {20, 20}, 4 = {30, 30}, 6 = {45, 45}, 7 = {50}, 8 = {60, 60}, 10 = {90, 90}
    dec = h["deciles"]
    assert [d["decile"] for d in dec] == [1, 3, 4, 6, 7, 8, 10]
    assert [d["n"] for d in dec] == [2, 2, 2, 2, 1, 2, 2]
    assert sum(d["n"] for d in dec) == 13 and sum(d["churned"] for d in dec) == 4
    assert [(d["min_score"], d["max_score"]) for d in dec] == [
        (10, 10), (20, 20), (30, 30), (45, 45), (50, 50), (60, 60), (90, 90)]
    assert dec[0]["churned"] == 2 and dec[0]["rate"] == 1.0  # both 10s churned
    assert dec[4]["churned"] == 1  # decile 7 = {50}, churned
    # the interval is the account bootstrap of these exact pairs (default 200 reps, seed 0);
    # pair order does not matter (ties are exact and accounts are coded by sorted id)
    score = np.array([s for s, _ in PAIRS_30D], dtype=float)
    y = np.array([c for _, c in PAIRS_30D])
    ci = metrics.auc_interval(100 - score, y, np.array(ACCOUNTS_30D), reps=200, seed=0)
    assert h["auc_ci"] == [pytest.approx(ci[0], abs=1e-12), pytest.approx(ci[1], abs=1e-12)]
    assert 0 <= h["auc_ci"][0] <= h["auc_ci"][1] <= 1


def test_backtest_outcomes_unknown_accounts_and_censoring_warning(scored: Path) -> None:
    proc = run_chs(scored, "backtest", "--json", "--horizon", "30d")
    ok(proc)
    doc = json.loads(proc.stdout)
    # X9 is not in the account list: counted, named on stderr, never fatal
    assert doc["outcomes"]["unknown_accounts"] == 1
    assert doc["outcomes"]["observed_until"] == "2024-02-10"  # max churn date
    assert "X9" in proc.stderr and "warning" in proc.stderr
    assert doc["horizons"]["30d"]["snapshots"] == [D1, D2]  # D3 censored
    assert "censored" in proc.stderr  # D3 left out


def test_backtest_horizon_snapshots_are_dates(scored: Path) -> None:
    # the snapshots a horizon used, as ISO dates like the top-level list
    doc = backtest_json(scored, "--horizon", "30d,1m")
    assert doc["horizons"]["30d"]["snapshots"] == doc["horizons"]["1m"]["snapshots"] == [D1, D2]


def test_backtest_text_output_and_html_page(scored: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    proc = run_chs(scored, "backtest", "--horizon", "30d", "-o", str(page))
    ok(proc)
    assert "0.847" in proc.stdout  # 61/72 = 0.8472
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<svg" in html and "0.847" in html


def test_observed_until_from_config_is_inclusive(tmp_path: Path) -> None:
    # observed_until 2024-02-14 = D3 + 30: D3 is no longer censored (D + H <= observed_until).
    #   D3 (A5, A7 gone): A1 10 pos (01-31), A2 20 pos (02-01), A3 30, A4 45, A6 60,
    #                     A8 90 pos (02-10 <= 02-14)                              -> 6 pairs, 3 pos
    #   total n = 13 + 6 = 19, positives 4 + 3 = 7
    out = {"churn": {"source": "churns", "date": "churned_on"}, "observed_until": "2024-02-14"}
    cfg = make_project(tmp_path / "a", config(out), files())
    score_range(cfg)
    doc = backtest_json(cfg, "--horizon", "30d")
    h = doc["horizons"]["30d"]
    assert doc["outcomes"]["observed_until"] == "2024-02-14"
    assert (h["n"], h["positives"]) == (19, 7)
    # one day earlier: D3 + 30 = 02-14 > 02-13, censored again -> the 13 pairs of D1, D2
    out["observed_until"] = "2024-02-13"
    cfg = make_project(tmp_path / "b", config(out), files())
    score_range(cfg)
    h = backtest_json(cfg, "--horizon", "30d")["horizons"]["30d"]
    assert (h["n"], h["positives"]) == (13, 4)


def test_churn_from_accounts_column_gives_the_same_labels(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, config({"churn": {"from_accounts": "churned_at"}}), files())
    score_range(cfg)
    doc = backtest_json(cfg, "--horizon", "30d")
    h = doc["horizons"]["30d"]
    assert (h["n"], h["positives"]) == (13, 4)
    assert h["auc"] == pytest.approx(AUC_30D, abs=TOL)
    assert doc["outcomes"]["unknown_accounts"] == 0


def test_month_horizon(scored: Path) -> None:
    # 1m: D1 + 1m = 02-01, D2 + 1m = 02-08 (<= 02-10), D3 + 1m = 02-15 (censored)
    #   D1: A1 pos (01-31), A2 pos (02-01 <= 02-01, unlike 30d), A5 pos (01-08), A8 neg -> 7 pairs, 3 pos
    #   D2: A1, A2 pos; A8 neg (02-10 > 02-08)                                     -> 6 pairs, 2 pos
    h = backtest_json(scored, "--horizon", "1m")["horizons"]["1m"]
    assert (h["n"], h["positives"]) == (13, 5)
    # AUC: churners 10, 20, 50 | 10, 20; stayers 30 45 60 90 | 30 45 60 90 (8) -> 40 pairs
    #   10, 20 (x2 each): all 8 stayers higher -> 4 * 8 = 32; 50: 60 90 60 90 -> 4
    #   AUC = 36 / 40 = 0.9
    assert h["auc"] == pytest.approx(0.9, abs=TOL)


def test_two_horizons_in_one_run(scored: Path) -> None:
    doc = backtest_json(scored, "--horizon", "30d,1m")
    assert list(doc["horizons"]) == ["30d", "1m"]
    assert doc["horizons"]["30d"]["positives"] == 4 and doc["horizons"]["1m"]["positives"] == 5


def test_from_to_restrict_the_stored_snapshots(scored: Path) -> None:
    # only D2: the 6 pairs of D2, positives A1, A2
    doc = backtest_json(scored, "--horizon", "30d", "--from", D2, "--to", D2)
    assert doc["snapshots"] == [D2]
    h = doc["horizons"]["30d"]
    assert (h["n"], h["positives"]) == (6, 2)
    # churners 10, 20 vs stayers 30 45 60 90: all ordered right
    assert h["auc"] == pytest.approx(1.0, abs=TOL)


def test_horizon_longer_than_the_data_exits_65(scored: Path) -> None:
    proc = run_chs(scored, "backtest", "--json", "--horizon", "400d")
    assert proc.returncode == 65, proc.stderr
    assert "400d" in proc.stderr
    assert proc.stdout == ""


def test_no_outcomes_section_exits_78(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, config(with_outcomes=False), files())
    score_range(cfg)
    proc = run_chs(cfg, "backtest", "--json", "--horizon", "30d")
    assert proc.returncode == 78, proc.stderr
    assert "outcomes" in proc.stderr
    assert proc.stdout == ""


def test_no_history_database_exits_66(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, config(), files())
    proc = run_chs(cfg, "backtest", "--json", "--horizon", "30d")
    assert proc.returncode == 66, proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "chs.duckdb").exists()


def test_a_label_never_changes_a_score(tmp_path: Path) -> None:
    with_cfg = make_project(tmp_path / "with", config(), files())
    without_cfg = make_project(tmp_path / "without", config(with_outcomes=False), files())
    for cfg in (with_cfg, without_cfg):
        ok(run_chs(cfg, "score", "--as-of", D2))
    a = pl.read_parquet(tmp_path / "with" / "out" / "scores.parquet").sort("account_id")
    b = pl.read_parquet(tmp_path / "without" / "out" / "scores.parquet").sort("account_id")
    assert a["account_id"].to_list() == b["account_id"].to_list()
    assert a["score"].to_list() == b["score"].to_list() == [10, 20, 30, 45, 50, 60, 80, 90]
    assert a["band"].to_list() == b["band"].to_list()


# ------------------------------------------------------------------ rescore
# A score that changes between snapshots: 10 x the number of usage events visible on D.
EVENTS = """
    account_id,event_time
    B1,2024-02-20
    B2,2024-02-20
    B2,2024-02-21
    B2,2024-03-05
    B3,2024-02-25
    B3,2024-02-25
    B3,2024-02-25
    B3,2024-02-25
    B3,2024-03-08
    B4,2024-03-02
    B4,2024-03-02
    B4,2024-03-02
    B4,2024-03-02
    B4,2024-03-02
    B4,2024-03-02
    B4,2024-03-09
"""
E1, E2 = "2024-03-01", "2024-03-08"


def events_project(root: Path, scale: dict | None = None) -> Path:
    cfg = base_config(
        sources={"events": {"path": "data/events.csv", "account": "account_id", "time": "event_time"},
                 "churns": {"path": "data/churns.csv", "account": "account_id"}},
        variables={"events": {"source": "events", "agg": "count"}},
        tree=leaves_tree("events", scale=scale or {"thresholds": [[0, 0], [10, 100]]}),
        outcomes={"churn": {"source": "churns", "date": "churned_on"}, "observed_until": "2024-04-30"},
    )
    return make_project(root, cfg, {
        "data/accounts.csv": """
            account_id,account_name,owner
            B1,b1,o@x.com
            B2,b2,o@x.com
            B3,b3,o@x.com
            B4,b4,o@x.com
        """,
        "data/events.csv": EVENTS,
        "data/churns.csv": """
            account_id,churned_on
            B1,2024-04-05
            B4,2024-03-20
        """,
    })


# Scores (10 x events visible on D; B4's 03-09 row is after both dates):
#   E1 = 03-01: B1 10, B2 20, B3 40, B4 0      E2 = 03-08: B1 10, B2 30, B3 50 (03-08 counts), B4 60
# Labels 30d (E1 + 30 = 03-31, E2 + 30 = 04-07): B4 (03-20) churns after both; B1 (04-05) only after E2
#   churners: B4@E1 0, B1@E2 10, B4@E2 60; stayers: 10 20 40 | 30 50 -> 15 pairs
#   0: all 5 higher -> 5;  10: 20 40 30 50 higher, tie with B1@E1 -> 4.5;  60: none -> 0
#   AUC = 9.5 / 15 = 19/30
AUC_EVENTS = 19 / 30


def test_rescore_equals_stored_snapshots_and_leaves_history_untouched(tmp_path: Path) -> None:
    cfg = events_project(tmp_path)
    score_range(cfg, E1, E2)
    db = tmp_path / "chs.duckdb"
    before = sha(db)
    stored = backtest_json(cfg, "--horizon", "30d")
    rescored = backtest_json(cfg, "--horizon", "30d", "--rescore", "--from", E1, "--to", E2, "--every", "7d")
    assert sha(db) == before
    assert rescored["mode"] == "rescore" and stored["mode"] == "history"
    h = stored["horizons"]["30d"]
    assert (h["n"], h["positives"]) == (8, 3)
    assert h["auc"] == pytest.approx(AUC_EVENTS, abs=TOL)
    # red (< 40): B1 10, B2 20, B4 0 @E1 + B1 10, B2 30 @E2 = 5 pairs, churned B4@E1, B1@E2
    # yellow: B3 40 @E1 + B3 50, B4 60 @E2 = 3 pairs, churned B4@E2
    assert h["bands"]["red"] == {"n": 5, "churned": 2, "rate": pytest.approx(0.4, abs=TOL)}
    assert h["bands"]["yellow"] == {"n": 3, "churned": 1, "rate": pytest.approx(1 / 3, abs=TOL)}
    assert rescored["snapshots"] == stored["snapshots"] == [E1, E2]
    assert rescored["horizons"] == stored["horizons"]


def test_rescore_without_a_database_creates_none(tmp_path: Path) -> None:
    cfg = events_project(tmp_path)
    doc = backtest_json(cfg, "--horizon", "30d", "--rescore", "--from", E1, "--to", E2, "--every", "7d")
    h = doc["horizons"]["30d"]
    assert (h["n"], h["positives"]) == (8, 3)
    assert h["auc"] == pytest.approx(AUC_EVENTS, abs=TOL)
    assert not (tmp_path / "chs.duckdb").exists()
    assert not list(tmp_path.glob("*.duckdb*"))
    assert not (tmp_path / "out").exists()  # no per-run outputs either


def test_rescore_uses_the_current_config_not_the_history(tmp_path: Path) -> None:
    # stored with the events tree; then the scale is reversed (more events = lower score):
    # rescore ranks by the new scores, so the AUC becomes 1 - 19/30 = 11/30 (ties stay ties)
    cfg = events_project(tmp_path)
    score_range(cfg, E1, E2)
    text = cfg.read_text()
    events_project(tmp_path, scale={"thresholds": [[0, 100], [10, 0]]})  # rewrites chs.yaml only
    assert cfg.read_text() != text
    stored = backtest_json(cfg, "--horizon", "30d")["horizons"]["30d"]
    rescored = backtest_json(cfg, "--horizon", "30d", "--rescore", "--from", E1, "--to", E2)["horizons"]["30d"]
    assert stored["auc"] == pytest.approx(AUC_EVENTS, abs=TOL)
    assert rescored["auc"] == pytest.approx(1 - AUC_EVENTS, abs=TOL)


def test_stored_snapshots_hold_the_expected_scores(tmp_path: Path) -> None:
    cfg = events_project(tmp_path)
    score_range(cfg, E1, E2)
    with duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT CAST(as_of AS VARCHAR), account_id, score FROM scores ORDER BY 1, 2").fetchall()
    assert rows == [(E1, "B1", 10), (E1, "B2", 20), (E1, "B3", 40), (E1, "B4", 0),
                    (E2, "B1", 10), (E2, "B2", 30), (E2, "B3", 50), (E2, "B4", 60)]


def test_node_auc_is_nan_safe_and_unscored_pairs_only_reach_the_band_table(tmp_path: Path) -> None:
    # Leaves a (identity) and b (identity, NULL for B1, B2, B5); missing: skip -> score = mean of present:
    #   B1 a 10 -> 10;  B2 a 20 -> 20;  B3 a 40, b 30 -> 35;  B4 a 60, b 20 -> 40;  B5 nothing -> NULL
    cfg = base_config(
        sources={"churns": {"path": "data/churns.csv", "account": "account_id"}},
        variables={"a": {"source": "accounts", "column": "a"}, "b": {"source": "accounts", "column": "b"}},
        tree=leaves_tree("a", "b"),
        outcomes={"churn": {"source": "churns", "date": "churned_on"}, "observed_until": "2024-04-30"},
    )
    path = make_project(tmp_path, cfg, {
        "data/accounts.csv": """
            account_id,account_name,owner,a,b
            B1,b1,o@x.com,10,
            B2,b2,o@x.com,20,
            B3,b3,o@x.com,40,30
            B4,b4,o@x.com,60,20
            B5,b5,o@x.com,,
        """,
        "data/churns.csv": """
            account_id,churned_on
            B1,2024-04-05
            B4,2024-03-20
        """,
    })
    score_range(path, E1, E2)
    h = backtest_json(path, "--horizon", "30d")["horizons"]["30d"]
    # labels as in the events project: churners B4@E1, B1@E2, B4@E2; B5 never churns
    # n counts scored pairs only: 4 accounts x 2 snapshots = 8
    assert (h["n"], h["positives"]) == (8, 3)
    # score: churners 40, 10, 40; stayers 10 20 35 | 20 35 -> 15 pairs
    #   40 (x2): no stayer scores higher -> 0;  10: 20 35 20 35 higher + tie with B1@E1 ½ -> 4.5
    #   AUC = 4.5 / 15 = 0.3 (points the wrong way)
    assert h["auc"] == pytest.approx(0.3, abs=TOL)
    assert h["nodes"][""] == h["auc"]
    assert h["nodes"]["g"] == pytest.approx(0.3, abs=TOL)
    # leaf a: churners 60, 10, 60; stayers 10 20 40 | 20 40 -> same order as the score: 0.3
    assert h["nodes"]["g.a"] == pytest.approx(0.3, abs=TOL)
    # leaf b, only the pairs that have it: churners B4 20, 20; stayers B3 30, 30 -> 4 of 4 right
    assert h["nodes"]["g.b"] == pytest.approx(1.0, abs=TOL)
    # bands: red (< 40) B1 10, B2 20, B3 35 on both dates = 6, churned B1@E2;
    #        yellow: B4 40 x2, both churned; unknown: B5 x2 (no score), none churned
    assert h["bands"]["red"] == {"n": 6, "churned": 1, "rate": pytest.approx(1 / 6, abs=TOL)}
    assert h["bands"]["yellow"] == {"n": 2, "churned": 2, "rate": 1.0}
    assert h["bands"]["unknown"] == {"n": 2, "churned": 0, "rate": 0.0}


def test_rescore_with_month_steps(tmp_path: Path) -> None:
    cfg = events_project(tmp_path)
    doc = backtest_json(cfg, "--horizon", "30d", "--rescore", "--from", "2024-01-31", "--to", "2024-03-31",
                        "--every", "1m")
    # 01-31 + 1m = 02-29 (clamped), + 2m = 03-31; 03-31 + 30d = 04-30 <= observed_until 04-30: all kept
    assert doc["snapshots"] == ["2024-01-31", "2024-02-29", "2024-03-31"]
    h = doc["horizons"]["30d"]
    # scores (10 x events visible): 01-31: all 0 | 02-29: B1 10, B2 20, B3 40, B4 0 | 03-31: B1 10, B2 30, B3 50
    # labels: B4 (03-20) in (02-29, 03-30] -> pos on 02-29, not in (01-31, 03-01], gone on 03-31;
    #         B1 (04-05) in (03-31, 04-30] -> pos on 03-31 only
    assert (h["n"], h["positives"]) == (11, 2)  # 4 + 4 + 3 pairs
    # churners 0 and 10; stayers 0 0 0 0 | 10 20 40 | 30 50 (9) -> 18 pairs
    #   0: five higher + four ties ½ = 7;  10: 20 40 30 50 higher + one tie ½ = 4.5
    #   AUC = 11.5 / 18 = 23/36
    assert h["auc"] == pytest.approx(23 / 36, abs=TOL)


def test_outcomes_errors_name_the_place(tmp_path: Path) -> None:
    # an unknown churn source is a config error (78) naming the key
    cfg = make_project(tmp_path / "a", config({"churn": {"source": "nope", "date": "churned_on"}}), files())
    proc = run_chs(cfg, "backtest", "--json", "--horizon", "30d")
    assert proc.returncode == 78, proc.stderr
    assert "outcomes.churn.source" in proc.stderr and "nope" in proc.stderr
    # a churn date column that is not in the export: bad input data (65) naming file and column
    cfg = make_project(tmp_path / "b", config({"churn": {"source": "churns", "date": "gone_on"}}), files())
    score_range(cfg)
    proc = run_chs(cfg, "backtest", "--json", "--horizon", "30d")
    assert proc.returncode == 65, proc.stderr
    assert "churns.csv" in proc.stderr and "gone_on" in proc.stderr
    assert proc.stdout == ""
