"""`chs diff`: two hand-written configs on the same tiny data, expectations computed by hand.

OLD: usage 1, quality 1, events 2 (identity scales; events: 10 events -> 100).
NEW: usage 3, quality 1, events 0 (switched off); accounts closed before as_of are not
scored (A7 -> absent); revenue from `arr` per year (OLD: `mrr` per month).

    acct  usage quality events | OLD score band  | NEW score band   | revenue NEW (OLD)
    A1    90    90      10     | 95    green     | 90    green      | 2000 (1000)
    A2    80    20      0      | 25    red       | 65    yellow     | 200
    A3    10    90      6      | 55    yellow    | 30    red        | 300
    A4    50    50      5      | 50    yellow    | 50    yellow     | 400
    A5    20    20      0      | 10    red       | 20    red        | 500
    A6    -     -       0      | 0     red       | -     unknown    | 600
    A7    100   100     10     | 100   green     | closed: absent   | - (700)
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chs.config import load_config
from chs.diff import diff_configs
from chs.errors import LockedError

AS_OF = dt.date(2024, 6, 30)
IDENTITY = {"thresholds": [[0, 0], [100, 100]]}
ACCOUNTS = """account_id,account_name,owner,usage,quality,mrr,arr,closed_on
A1,Alpha,a@x.io,90,90,1000,24000,
A2,Beta,a@x.io,80,20,200,2400,
A3,Gamma,b@x.io,10,90,300,3600,
A4,Delta,b@x.io,50,50,400,4800,
A5,Epsilon,b@x.io,20,20,500,6000,
A6,Zeta,b@x.io,,,600,7200,
A7,Eta,a@x.io,100,100,700,8400,2024-06-01
"""
# In the 30-day window of both 2024-06-23 and 2024-06-30, except A2's (too old) and A5's (future).
EVENTS = {"A1": (10, "2024-06-20"), "A3": (6, "2024-06-20"), "A4": (5, "2024-06-20"),
          "A7": (10, "2024-06-20"), "A2": (1, "2024-05-01"), "A5": (1, "2024-07-02")}
RULES = [{"id": "red-alert", "when": "band = 'red'", "title": "red"},
         {"id": "drop", "when": "delta_7d <= -10", "title": "drop"}]

OLD: dict[str, Any] = {
    "version": 1, "name": "old", "storage": {"database": "chs.duckdb", "output_dir": "out"},
    "accounts": {"source": "accounts", "id": "account_id", "name": "account_name", "owner": "owner",
                 "revenue": "mrr"},
    "sources": {"accounts": {"path": "data/accounts.csv"},
                "events": {"path": "data/events.csv", "account": "account_id", "time": "ts"}},
    "variables": {"u": {"source": "accounts", "column": "usage"},
                  "q": {"source": "accounts", "column": "quality"},
                  "ev": {"source": "events", "agg": "count", "window": "30d"}},
    "score": {"bands": {"green": 70, "yellow": 40, "red": 0}, "tree": {
        "usage": {"weight": 1, "variable": "u", "scale": IDENTITY},
        "quality": {"weight": 1, "variable": "q", "scale": IDENTITY},
        "events": {"weight": 2, "variable": "ev", "scale": {"thresholds": [[0, 0], [10, 100]]}}}},
    "actions": RULES,
}


def _new_config() -> dict[str, Any]:
    new = copy.deepcopy(OLD)
    new["name"] = "new"
    new["accounts"].update({"end": "closed_on", "revenue": "arr", "revenue_unit": "year"})
    tree = new["score"]["tree"]
    tree["usage"]["weight"], tree["events"]["weight"] = 3, 0
    new["actions"] = RULES + [{"id": "watch", "when": "band = 'yellow'", "title": "watch"}]
    return new


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text(ACCOUNTS)
    rows = [f"{acc},{day} 10:00:00" for acc, (n, day) in EVENTS.items() for _ in range(n)]
    (tmp_path / "data" / "events.csv").write_text("account_id,ts\n" + "\n".join(rows) + "\n")
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(OLD, sort_keys=False))
    (tmp_path / "chs.yaml").write_text(yaml.safe_dump(_new_config(), sort_keys=False))
    return tmp_path


def _diff(root: Path, top: int = 20) -> dict[str, Any]:
    return diff_configs(load_config(root / "old.yaml"), load_config(root / "chs.yaml"), AS_OF, top).to_json()


def run_chs(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CHS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(root / "chs.yaml"), *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_band_matrix_counts_and_revenue(project: Path) -> None:
    d = _diff(project)
    m = d["matrix"]
    assert m["bands"] == ["green", "yellow", "red", "unknown", "absent"]
    assert m["counts"] == [[1, 0, 0, 0, 1],   # A1 green->green, A7 green->absent
                           [0, 1, 1, 0, 0],   # A4 stays yellow, A3 yellow->red
                           [0, 1, 1, 1, 0],   # A2 red->yellow, A5 stays red, A6 red->unknown
                           [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert sum(map(sum, m["counts"])) == 7 == d["old"]["accounts"]
    # NEW's revenue (arr / 12) wins; A7, absent from NEW, keeps OLD's monthly revenue.
    assert m["revenue"] == [[2000, 0, 0, 0, 700], [0, 400, 300, 0, 0], [0, 200, 500, 600, 0],
                            [0] * 5, [0] * 5]
    assert d["old"]["bands"] == {"green": 2, "red": 3, "yellow": 2}
    assert d["new"] == {"config": str(project / "chs.yaml"), "accounts": 6,
                        "bands": {"green": 1, "red": 2, "unknown": 1, "yellow": 2}}


def test_changed_accounts_and_the_leaf_that_moved_them(project: Path) -> None:
    d = _diff(project)
    changed = {c["account_id"]: c for c in d["changed"]}
    assert [c["account_id"] for c in d["changed"]] == ["A2", "A3", "A6", "A7"]  # |Δ| desc, no score last
    assert d["changed_total"] == 4
    a2, a3 = changed["A2"], changed["A3"]
    assert (a2["old_band"], a2["new_band"], a2["account_name"]) == ("red", "yellow", "Beta")
    assert (a2["old_score"], a2["new_score"], a2["delta"]) == pytest.approx((25, 65, 40))
    # A2: usage 7.5 -> 22.5 (+15), events -25 -> 0 (+25): events moved it most, upwards.
    assert a2["moved_by"] == "events" and a2["moved_by_points"] == pytest.approx(25)
    # A3: usage -10 -> -30 (-20), events 5 -> 0 (-5): usage, downwards.
    assert a3["moved_by"] == "usage" and a3["moved_by_points"] == pytest.approx(-20)
    assert (changed["A6"]["new_band"], changed["A6"]["delta"]) == ("unknown", None)
    assert (changed["A7"]["new_band"], changed["A7"]["new_score"]) == ("absent", None)
    assert [c["account_id"] for c in _diff(project, top=1)["changed"]] == ["A2"]


def test_score_change_distribution(project: Path) -> None:
    d = _diff(project)["delta"]
    # both scored: A1 -5, A2 +40, A3 -25, A4 0, A5 +10
    assert d["n"] == 5
    assert (d["mean"], d["median"], d["min"], d["max"]) == pytest.approx((4, 0, -25, 40))
    assert (d["p10"], d["p90"]) == pytest.approx((-17, 28))
    hist = {b["bucket"]: b["count"] for b in d["histogram"]}
    assert hist == {"< -20": 1, "-20..-10": 0, "-10..-5": 0, "-5..-1": 1, "-1..1": 1, "1..5": 0,
                    "5..10": 1, "10..20": 0, "> 20": 1}


def test_actions_start_and_stop(project: Path) -> None:
    a = _diff(project)["actions"]
    assert list(a) == ["red-alert", "drop", "watch"]
    assert a["red-alert"] == {"old": 3, "new": 2, "start": 1, "stop": 2,
                              "start_examples": ["A3"], "stop_examples": ["A2", "A6"]}
    assert a["watch"]["start_examples"] == ["A2", "A4"] and a["watch"]["stop"] == 0
    assert a["drop"] == {"old": 0, "new": 0, "start": 0, "stop": 0, "start_examples": [], "stop_examples": []}


def _digest(path: Path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime


def test_history_read_for_deltas_and_left_untouched(project: Path) -> None:
    proc = run_chs(project, "--config", str(project / "old.yaml"), "score", "--as-of", "2024-06-23")
    assert proc.returncode == 0, proc.stderr
    db = project / "chs.duckdb"
    before, files = _digest(db), sorted(os.listdir(project))
    d = _diff(project)
    # NEW vs the stored (OLD-scored) snapshot of 7 days before: only A3 fell by >= 10.
    assert d["actions"]["drop"]["start_examples"] == ["A3"] and d["actions"]["drop"]["old"] == 0
    assert _digest(db) == before and sorted(os.listdir(project)) == files
    # Without --as-of, NEW's latest snapshot date is used.
    proc = run_chs(project, "diff", "old.yaml", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["as_of"] == "2024-06-23"
    assert _digest(db) == before


def test_running_score_lock_is_exit_75(project: Path) -> None:
    assert run_chs(project, "score", "--as-of", "2024-06-23").returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(project / "chs.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(LockedError, match="chs.duckdb"):
            _diff(project)
        proc = run_chs(project, "diff", "old.yaml", "--as-of", "2024-06-30")
        assert proc.returncode == 75 and "chs.duckdb" in proc.stderr and proc.stdout == ""
    finally:
        holder.kill()
        holder.wait()


def test_cli_json_and_tables(project: Path) -> None:
    proc = run_chs(project, "diff", "old.yaml", "chs.yaml", "--as-of", "2024-06-30", "--json", "--top", "2")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"as_of", "old", "new", "matrix", "changed", "delta", "actions"}
    assert doc["as_of"] == "2024-06-30" and len(doc["changed"]) == 2
    assert set(doc["changed"][0]) >= {"account_id", "account_name", "old_score", "new_score", "old_band",
                                      "new_band", "delta", "moved_by", "moved_by_points"}
    proc = run_chs(project, "diff", "old.yaml", "--as-of", "2024-06-30")
    assert proc.returncode == 0, proc.stderr
    for text in ("Band transitions", "monthly revenue", "A2 Beta", "events (+25.0)", "red-alert", "4 of 7"):
        assert text in proc.stdout
    assert not (project / "chs.duckdb").exists()  # nothing scored, nothing stored


def test_cli_errors(project: Path) -> None:
    proc = run_chs(project, "diff", "missing.yaml", "--as-of", "2024-06-30")
    assert proc.returncode == 66 and "missing.yaml" in proc.stderr and proc.stdout == ""
    bad = copy.deepcopy(OLD)
    bad["score"]["bands"] = "green"
    (project / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    proc = run_chs(project, "diff", "bad.yaml", "--as-of", "2024-06-30")
    assert proc.returncode == 78 and "bad.yaml:" in proc.stderr and proc.stdout == ""
    proc = run_chs(project, "diff", "old.yaml", "--as-of", "30.06.2024")
    assert proc.returncode == 2 and proc.stdout == ""
