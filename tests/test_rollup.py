"""Parent/child rollups (DESIGN 6.1 `accounts.parent`, `accounts.rollup`): numbers by hand.

The tree is one leaf `x` on an identity scale, so every account's own score is its `x`.
Families (mrr = monthly revenue, own):

    P  (mrr 100, own x 90 ignored)   children A (1000, x 80), B (3000, x 30), C (500, no x)
    Q  (no mrr)                      child D (200, no x)                -> unknown
    G  (mrr 0)                       children H (a parent) and S (400, x 60)
      H (no mrr)                     children E (600, x 20), F (no mrr, x 100)
    K  (no mrr)                      children L, M (no mrr, x 70 and 40) -> equal (no revenue)

weight: revenue (the default when accounts.revenue is declared):
    P: shares A 1000/4000 = .25, B .75, C 0   -> 50 + .25·30 + .75·(−20) = 42.5  (yellow)
    H: E 600/600 = 1, F 0                     -> 20                       (red)
    G: H family revenue 0+600+0 = 600, S 400  -> shares .6/.4 -> 50 − 18 + 4 = 36 (red)
    K: no scored child has revenue            -> equal: (70 + 40) / 2 = 55 (yellow)
    Q: no scored child                        -> unknown
weight: equal: P (80+30)/2 = 55, H (20+100)/2 = 60, G (60+60)/2 = 60, K 55.
"""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from tests.contract.conftest import approx, base_config, leaf, make_project, run_chs, score

ACCOUNTS = """
account_id,account_name,owner,parent_id,mrr,val
P,Parent Co,p@x.io,,100,90
A,Alpha,a@x.io,P,1000,80
B,Beta,b@x.io,P,3000,30
C,Gamma,c@x.io,P,500,
Q,Quiet,q@x.io,,,50
D,Delta,d@x.io,Q,200,
G,Group,g@x.io,,0,
H,Holding,h@x.io,G,,
E,Echo,e@x.io,H,600,20
F,Fox,f@x.io,H,,100
S,Solo,s@x.io,G,400,60
K,Kilo,k@x.io,,,
L,Lima,l@x.io,K,,70
M,Mike,m@x.io,K,,40
"""


def config(rollup: dict | None = None, revenue: bool = True, **extra) -> dict:
    accounts = {"parent": "parent_id"}
    if revenue:
        accounts["revenue"] = "mrr"
    if rollup is not None:
        accounts["rollup"] = rollup
    return base_config(accounts=accounts, variables={"val": {"source": "accounts", "column": "val"}},
                       tree={"val": leaf("val")}, **extra)


@pytest.fixture(scope="module")
def by_revenue(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollup_revenue")
    cfg = make_project(root, config(), {"data/accounts.csv": ACCOUNTS})
    return score(cfg, "2024-06-30")


def test_parent_scores_by_revenue(by_revenue):
    expected = {"P": (42.5, "yellow"), "H": (20.0, "red"), "G": (36.0, "red"), "K": (55.0, "yellow"),
                "Q": (None, "unknown")}
    for account, (value, band) in expected.items():
        row = by_revenue.row(account)
        assert row["level"] == "parent", account
        assert row["band"] == band, account
        assert row["score"] == (None if value is None else approx(value)), account


def test_children_keep_their_own_scores_and_level_account(by_revenue):
    for account, value in {"A": 80.0, "B": 30.0, "E": 20.0, "F": 100.0, "S": 60.0, "L": 70.0}.items():
        row = by_revenue.row(account)
        assert row["level"] == "account"
        assert row["score"] == approx(value)
    assert by_revenue.row("C")["score"] is None and by_revenue.row("C")["level"] == "account"


def test_parent_rows_have_no_drivers_and_no_node_scores(by_revenue):
    assert by_revenue.drivers.filter(pl.col("account_id").is_in(["P", "G", "H", "K", "Q"])).height == 0
    assert by_revenue.drivers.filter(pl.col("account_id") == "A").height == 1
    assert by_revenue.row("P")["score_val"] is None  # P's own x (90) is not its score
    con = duckdb.connect(str(by_revenue.cfg.parent / "chs.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM node_scores WHERE account_id IN ('P', 'G')").fetchall() == [(0,)]
        levels = dict(con.execute("SELECT account_id, level FROM scores WHERE account_id IN ('P', 'A')").fetchall())
    finally:
        con.close()
    assert levels == {"P": "parent", "A": "account"}


def test_parent_top_risks_and_strengths_name_children(by_revenue):
    p = by_revenue.row("P")
    assert p["top_risks"] == "B (-15.0)"
    assert p["top_strengths"] == "A (+7.5)"
    g = by_revenue.row("G")
    assert g["top_risks"] == "H (-18.0)" and g["top_strengths"] == "S (+4.0)"


def test_parent_coverage_is_share_weighted(by_revenue):
    # A and B have x (coverage 1); C has none but its share is 0.
    assert by_revenue.row("P")["coverage"] == approx(1.0)
    assert by_revenue.row("Q")["coverage"] == approx(0.0)


def test_rollup_children_stored_with_weights_and_contributions(by_revenue):
    con = duckdb.connect(str(by_revenue.cfg.parent / "chs.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT child_id, revenue, weight, share, contribution, basis, parent_revenue "
                           "FROM rollup_children WHERE parent_id = 'P' ORDER BY child_id").fetchall()
        g = con.execute("SELECT child_id, child_level, revenue, share FROM rollup_children "
                        "WHERE parent_id = 'G' ORDER BY child_id").fetchall()
    finally:
        con.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [("A", 1000.0, 1000.0), ("B", 3000.0, 3000.0), ("C", 500.0, 0.0)]
    assert [r[3] for r in rows] == [approx(0.25), approx(0.75), 0.0]
    assert [r[4] for r in rows] == [approx(7.5), approx(-15.0), 0.0]
    assert {r[5] for r in rows} == {"revenue"}
    assert rows[0][6] == approx(4600.0)  # P's own 100 + A + B + C
    assert g == [("H", "parent", approx(600.0), approx(0.6)), ("S", "account", approx(400.0), approx(0.4))]


def test_equal_weights(tmp_path):
    cfg = make_project(tmp_path, config({"weight": "equal"}), {"data/accounts.csv": ACCOUNTS})
    run = score(cfg, "2024-06-30")
    for account, value in {"P": 55.0, "H": 60.0, "G": 60.0, "K": 55.0}.items():
        assert run.row(account)["score"] == approx(value), account
    assert run.row("Q")["band"] == "unknown"


def test_no_revenue_declared_means_equal_weights(tmp_path):
    cfg = make_project(tmp_path, config(revenue=False), {"data/accounts.csv": ACCOUNTS})
    assert score(cfg, "2024-06-30").row("P")["score"] == approx(55.0)


def test_parent_deltas_work_like_account_deltas(tmp_path):
    cfg = make_project(tmp_path, config(), {"data/accounts.csv": ACCOUNTS})
    score(cfg, "2024-06-23")
    # B improves from 30 to 50: P = 50 + .25·30 + .75·0 = 57.5, up 15 points.
    (tmp_path / "data/accounts.csv").write_text(
        (tmp_path / "data/accounts.csv").read_text().replace("B,Beta,b@x.io,P,3000,30", "B,Beta,b@x.io,P,3000,50"))
    run = score(cfg, "2024-06-30")
    p = run.row("P")
    assert p["score"] == approx(57.5)
    assert p["previous_score"] == approx(42.5)
    assert p["delta"] == approx(15.0) and p["delta_7d"] == approx(15.0)
    assert p["delta_30d"] is None
    assert run.row("B")["delta"] == approx(20.0)


def test_unknown_parent_is_a_data_error_naming_the_rows(tmp_path):
    bad = ACCOUNTS + "Z1,Zulu,z@x.io,NOPE,10,50\nZ2,Zed,z@x.io,GONE,10,50\n"
    cfg = make_project(tmp_path, config(), {"data/accounts.csv": bad})
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 65, proc.stderr
    assert "data/accounts.csv: column 'parent_id' (accounts.parent)" in proc.stderr
    assert "account Z1 names parent 'NOPE'" in proc.stderr and "account Z2 names parent 'GONE'" in proc.stderr


def test_cycles_are_a_data_error_naming_the_accounts(tmp_path):
    bad = ACCOUNTS + "X1,X one,x@x.io,X2,10,50\nX2,X two,x@x.io,X3,10,50\nX3,X three,x@x.io,X1,10,50\n" \
                     "Y1,Self,y@x.io,Y1,10,50\n"
    cfg = make_project(tmp_path, config(), {"data/accounts.csv": bad})
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 65, proc.stderr
    assert "parents form 2 cycle(s)" in proc.stderr
    assert "X1 -> X2 -> X3 -> X1" in proc.stderr and "Y1 -> Y1" in proc.stderr


def test_missing_parent_column_is_a_data_error(tmp_path):
    cfg_dict = config()
    cfg_dict["accounts"]["parent"] = "holding"
    cfg = make_project(tmp_path, cfg_dict, {"data/accounts.csv": ACCOUNTS})
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 65
    assert "column 'holding' not found (accounts.parent" in proc.stderr


@pytest.mark.parametrize(("accounts", "message"), [
    ({"rollup": {"weight": "equal"}}, "rollup needs accounts.parent"),
    ({"parent": "parent_id", "rollup": {"weight": "revenue"}}, "rollup weight 'revenue' needs accounts.revenue"),
    ({"parent": "parent_id", "rollup": {"weight": "sum"}}, "accounts.rollup.weight"),
])
def test_rollup_config_errors(tmp_path, accounts, message):
    cfg_dict = base_config(accounts=accounts, variables={"val": {"source": "accounts", "column": "val"}},
                           tree={"val": leaf("val")})
    cfg = make_project(tmp_path, cfg_dict, {"data/accounts.csv": ACCOUNTS})
    proc = run_chs(cfg, "validate")
    assert proc.returncode == 78, proc.stderr
    assert message in proc.stderr


def test_actions_can_target_parents(tmp_path):
    rules = [{"id": "family-risk", "when": "level = 'parent' AND band = 'red'",
              "title": "Family at risk: {{ name }} ({{ level }})", "priority": "high", "due": "7d"}]
    cfg = make_project(tmp_path, config(actions=rules), {"data/accounts.csv": ACCOUNTS})
    run = score(cfg, "2024-06-30")
    created = [json.loads(line) for line in (run.out / "actions.jsonl").read_text().splitlines()]
    assert sorted(a["account_id"] for a in created) == ["G", "H"]
    assert {a["title"] for a in created} == {"Family at risk: Group (parent)", "Family at risk: Holding (parent)"}


def test_a_variable_named_level_keeps_its_meaning_in_rules(tmp_path):
    # Before rollups a user could name a variable `level`; the new built-in does not shadow it.
    rules = [{"id": "high", "when": "level > 50", "title": "{{ name }} at level {{ level }}", "due": "7d"}]
    cfg_dict = base_config(variables={"level": {"source": "accounts", "column": "val"}},
                           tree={"val": leaf("level")}, actions=rules)
    cfg = make_project(tmp_path, cfg_dict, {"data/accounts.csv": ACCOUNTS})
    run = score(cfg, "2024-06-30")
    created = [json.loads(line) for line in (run.out / "actions.jsonl").read_text().splitlines()]
    # val > 50: P 90, A 80, F 100, S 60, L 70
    assert sorted(a["account_id"] for a in created) == ["A", "F", "L", "P", "S"]
    assert "Parent Co at level 90" in {a["title"] for a in created}
    assert set(run.scores["level"].to_list()) == {"account"}  # no accounts.parent: no rollup
