"""Parents in `chs explain`, the report and `chs actions --sort revenue` (hand-computed, see
tests/test_rollup.py for the families). Day 1 (2024-06-23): B scores 30; day 2 (2024-06-30): 50.

    P day 1: A .25 × (80 − 50) = +7.5, B .75 × (30 − 50) = −15.0, C 0  -> 42.5
    P day 2: A +7.5, B .75 × (50 − 50) = 0.0                           -> 57.5
    delta 15.0 = Δ contribution of B (+15.0) + A (0.0) + C (0.0)
"""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.contract.conftest import approx, make_project, run_chs, score
from tests.test_rollup import ACCOUNTS, config

RULES = [{"id": "watch", "when": "band IN ('red', 'yellow')", "title": "Call {{ name }}", "due": "7d"}]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollup_views")
    cfg = make_project(root, config(actions=RULES, report={"at_risk_bands": ["red", "yellow"]}),
                       {"data/accounts.csv": ACCOUNTS})
    score(cfg, "2024-06-23")
    path = root / "data/accounts.csv"
    path.write_text(path.read_text().replace("B,Beta,b@x.io,P,3000,30", "B,Beta,b@x.io,P,3000,50"))
    score(cfg, "2024-06-30")
    return cfg


def test_explain_parent_json_lists_children_adding_up(project):
    proc = run_chs(project, "explain", "P", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["level"] == "parent" and doc["nodes"] == []
    assert doc["score"] == approx(57.5) and doc["delta"] == approx(15.0)
    assert doc["rollup_weight"] == "revenue" and doc["family_revenue"] == approx(4600.0)
    kids = {c["account_id"]: c for c in doc["children"]}
    assert set(kids) == {"A", "B", "C"}
    assert (kids["A"]["weight"], kids["A"]["share"], kids["A"]["contribution"]) == (1000.0, approx(0.25), approx(7.5))
    assert (kids["B"]["share"], kids["B"]["contribution"], kids["B"]["delta_part"]) == (approx(0.75), approx(0.0),
                                                                                     approx(15.0))
    assert kids["C"]["score"] is None and kids["C"]["share"] == 0.0 and kids["C"]["contribution"] == 0.0
    assert sum(c["contribution"] for c in doc["children"]) == approx(doc["score"] - 50)
    assert sum(c["delta_part"] for c in doc["children"]) == approx(doc["delta"])
    assert doc["warnings"] == []


def test_explain_grandparent_lists_a_parent_child(project):
    doc = json.loads(run_chs(project, "explain", "G", "--json").stdout)
    kids = {c["account_id"]: c for c in doc["children"]}
    assert kids["H"]["level"] == "parent" and kids["H"]["contribution"] == approx(-18.0)
    assert kids["S"]["contribution"] == approx(4.0)
    assert doc["score"] == approx(36.0)


def test_explain_parent_text(project):
    proc = run_chs(project, "explain", "P", env_extra={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Parent of 3 accounts (2 scored), weighed by revenue; family revenue 4,600/month" in text
    beta = next(line for line in text.splitlines() if line.startswith("Beta (B)"))
    assert re.search(r"50\.0\s+YELLOW \(watch\)\s+3,000\s+75\.0%\s+0\.0 pts\s+\+15\.0 pts", beta), beta
    alpha = next(line for line in text.splitlines() if line.startswith("Alpha (A)"))
    assert re.search(r"80\.0\s+GREEN \(healthy\)\s+1,000\s+25\.0%\s+\+7\.5 pts", alpha), alpha


def test_explain_child_is_an_ordinary_account(project):
    doc = json.loads(run_chs(project, "explain", "A", "--json").stdout)
    assert doc["level"] == "account" and "children" not in doc
    assert [n["path"] for n in doc["nodes"]] == ["", "val"]


def test_report_ranks_at_risk_parents_by_family_revenue(project, tmp_path):
    out = tmp_path / "r.html"
    proc = run_chs(project, "report", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    start = page.index('<section id="parents">')
    section = html.unescape(re.sub(r"<[^>]+>", " ", page[start:page.index("</section>", start)]))
    section = re.sub(r"\s+", " ", section)
    assert "At-risk parents: 4 of 5 enterprise accounts" in section
    # P 4,600 > G 1,000 > H 600 > K 0 (Q is unknown, not an at-risk band here)
    order = [section.index(f" {name} ") for name in ("Parent Co", "Group", "Holding", "Kilo")]
    assert order == sorted(order)
    assert "Group G g@x.io red 36.0 +0.0 1,000 2 of 2 Holding -18.0" in section
    assert "Parent Co P p@x.io yellow 57.5 +15.0 4,600 2 of 3" in section


def test_actions_sort_revenue(project):
    proc = run_chs(project, "actions", "--sort", "revenue", "--format", "tsv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = lines[0].split("\t")
    assert header[-1] == "revenue"
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    # P's family 4,600, B 3,000, G's family 1,000, E 600 and H (family) 600 by id order of the
    # due list, S 400, K 0 (a family without revenue), M none: last.
    assert [(r["account_id"], r["revenue"]) for r in rows] == [
        ("P", "4600.0"), ("B", "3000.0"), ("G", "1000.0"), ("E", "600.0"), ("H", "600.0"), ("S", "400.0"),
        ("K", "0.0"), ("M", "")]


def test_actions_sort_revenue_json_and_bad_value(project):
    doc = json.loads(run_chs(project, "actions", "--sort", "revenue", "--json").stdout)
    assert doc[0]["account_id"] == "P" and doc[0]["revenue"] == approx(4600.0)
    bad = run_chs(project, "actions", "--sort", "arr")
    assert bad.returncode == 2 and "'arr' is not one of due, revenue" in bad.stderr



def test_history_before_rollups_gets_level_account_and_explain_says_no_split(tmp_path):
    # Day 1 scored by a config without accounts.parent, in a database whose scores table
    # predates the `level` column; day 2 rolls parents up.
    plain = config()
    del plain["accounts"]["parent"]
    cfg = make_project(tmp_path, plain, {"data/accounts.csv": ACCOUNTS})
    score(cfg, "2024-06-23")
    import duckdb
    con = duckdb.connect(str(tmp_path / "chs.duckdb"))
    con.execute("ALTER TABLE scores DROP COLUMN level")
    con.close()
    cfg.write_text(cfg.read_text().replace("  owner: owner\n", "  owner: owner\n  parent: parent_id\n"))
    score(cfg, "2024-06-30")
    con = duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True)
    rows = dict(con.execute("SELECT as_of::VARCHAR || ' ' || account_id, level FROM scores "
                            "WHERE account_id = 'P'").fetchall())
    con.close()
    assert rows == {"2024-06-23 P": "account", "2024-06-30 P": "parent"}
    doc = json.loads(run_chs(cfg, "explain", "P", "--json").stdout)
    # P's own val (90) then, its rollup (42.5) now
    assert doc["delta"] == approx(42.5 - 90.0)
    assert all(c["delta_part"] is None for c in doc["children"])
    assert doc["warnings"] == ["P was not rolled up as a parent on 2024-06-23: the change is not split by child"]
