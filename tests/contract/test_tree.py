"""DESIGN 2.3 Groups, effective weights, contributions, score = 50 + Σ contributions, coverage.

Tree (identity scales, raw value == sub-score):
  success 40: adoption 60 (xa), trend 40 (xb)
  loyalty 35: nps 50 (xc), support 50 (xd)
  value   25: volume 50 (xe), payment 50 (xf)
Full-presence effective weights: adoption .4*.6 = .24, trend .4*.4 = .16, nps .35*.5 = .175,
support .175, volume .25*.5 = .125, payment .125  (sum 1.0).
"""

import polars as pl
import pytest

from .conftest import approx, base_config, group, leaf, project_and_score

ACCOUNTS = """
account_id,account_name,owner,xa,xb,xc,xd,xe,xf
A,Alpha,a@x.io,80,30,70,10,20,100
B,Beta,b@x.io,80,,70,10,20,
C,Gamma,c@x.io,80,30,70,10,,
"""

TREE = {
    "success": group(40, {"adoption": leaf("xa", 60), "trend": leaf("xb", 40)}, label="Customer Success"),
    "loyalty": group(35, {"nps": leaf("xc", 50), "support": leaf("xd", 50)}),
    "value": group(25, {"volume": leaf("xe", 50), "payment": leaf("xf", 50)}),
}
LEAF_VARS = ["xa", "xb", "xc", "xd", "xe", "xf"]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    cfg = base_config(
        variables={v: {"source": "accounts", "column": v} for v in LEAF_VARS},
        tree=TREE,
        score={"missing": "skip"},
    )
    return project_and_score(root, cfg, {"data/accounts.csv": ACCOUNTS}, "2024-06-30")


# ---- account A: everything present ------------------------------------------------------------
def test_effective_weights_all_present(res):
    assert res.drv("A", "xa")["effective_weight"] == approx(0.24)  # 40/100 * 60/100
    assert res.drv("A", "xb")["effective_weight"] == approx(0.16)  # 40/100 * 40/100
    assert res.drv("A", "xc")["effective_weight"] == approx(0.175)  # 35/100 * 50/100
    assert res.drv("A", "xd")["effective_weight"] == approx(0.175)
    assert res.drv("A", "xe")["effective_weight"] == approx(0.125)  # 25/100 * 50/100
    assert res.drv("A", "xf")["effective_weight"] == approx(0.125)


def test_contributions_all_present(res):
    # eff * (s - 50)
    assert res.drv("A", "xa")["contribution"] == approx(7.2)  # .24 * (80-50)
    assert res.drv("A", "xb")["contribution"] == approx(-3.2)  # .16 * (30-50)
    assert res.drv("A", "xc")["contribution"] == approx(3.5)  # .175 * (70-50)
    assert res.drv("A", "xd")["contribution"] == approx(-7.0)  # .175 * (10-50)
    assert res.drv("A", "xe")["contribution"] == approx(-3.75)  # .125 * (20-50)
    assert res.drv("A", "xf")["contribution"] == approx(6.25)  # .125 * (100-50)


def test_group_and_root_scores_all_present(res):
    r = res.row("A")
    assert r["score_success"] == approx(60)  # (60*80 + 40*30)/100
    assert r["score_loyalty"] == approx(40)  # (70 + 10)/2
    assert r["score_value"] == approx(60)  # (20 + 100)/2
    # root: (40*60 + 35*40 + 25*60)/100 = 24 + 14 + 15 = 53 ; = 50 + (7.2-3.2+3.5-7-3.75+6.25) = 50 + 3
    assert r["score"] == approx(53)


def test_leaf_node_score_columns(res):
    r = res.row("A")
    assert r["score_success_adoption"] == approx(80)
    assert r["score_loyalty_support"] == approx(10)
    assert r["score_value_payment"] == approx(100)


def test_coverage_is_one_when_nothing_missing(res):
    assert res.row("A")["coverage"] == approx(1.0)


# ---- account B: trend and payment missing (skip) -----------------------------------------------
def test_skip_renormalises_within_group(res):
    # success: only adoption present -> 60/60 = 1 -> eff .4 ; value: only volume -> .25
    assert res.drv("B", "xa")["effective_weight"] == approx(0.4)
    assert res.drv("B", "xe")["effective_weight"] == approx(0.25)
    assert res.drv("B", "xc")["effective_weight"] == approx(0.175)  # unchanged
    assert res.row("B")["score_success"] == approx(80)  # adoption alone
    assert res.row("B")["score_value"] == approx(20)  # volume alone


def test_score_with_skipped_leaves(res):
    # .4*80 + .35*40 + .25*20 = 32 + 14 + 5 = 51
    # contributions: .4*30 = 12, .175*20 = 3.5, .175*(-40) = -7, .25*(-30) = -7.5 -> Σ 1 -> 51
    assert res.drv("B", "xa")["contribution"] == approx(12)
    assert res.drv("B", "xe")["contribution"] == approx(-7.5)
    assert res.row("B")["score"] == approx(51)


def test_skipped_leaves_are_flagged_missing(res):
    for v in ("xb", "xf"):
        d = res.drv("B", v)
        assert d["missing"] is True
        assert d["raw_value"] is None
        assert (d["contribution"] or 0) == approx(0)
    assert res.drv("B", "xa")["missing"] is False


def test_coverage_with_skipped_leaves(res):
    # full-presence eff of leaves with a value: adoption .24 + nps .175 + support .175 + volume .125 = .715
    assert res.row("B")["coverage"] == approx(0.715)


# ---- account C: whole value group missing ------------------------------------------------------
def test_group_with_no_present_child_is_missing(res):
    r = res.row("C")
    assert r["score_value"] is None
    # root renormalises over success (40) + loyalty (35) = 75: (40*60 + 35*40)/75 = 3800/75
    assert r["score"] == approx(3800 / 75)


def test_effective_weights_when_group_missing(res):
    assert res.drv("C", "xa")["effective_weight"] == approx(40 / 75 * 0.6)  # 0.32
    assert res.drv("C", "xb")["effective_weight"] == approx(40 / 75 * 0.4)  # 0.21333...
    assert res.drv("C", "xc")["effective_weight"] == approx(35 / 75 * 0.5)  # 0.23333...
    # contributions: .32*30 = 9.6 ; (16/75)*(-20) = -64/15 ; (7/30)*20 = 14/3 ; (7/30)*(-40) = -28/3
    assert res.drv("C", "xa")["contribution"] == approx(9.6)
    assert res.drv("C", "xb")["contribution"] == approx(-64 / 15)
    assert res.drv("C", "xc")["contribution"] == approx(14 / 3)
    assert res.drv("C", "xd")["contribution"] == approx(-28 / 3)


def test_coverage_when_group_missing(res):
    # .24 + .16 + .175 + .175 = .75
    assert res.row("C")["coverage"] == approx(0.75)


# ---- invariants on every account -------------------------------------------------------------
@pytest.mark.parametrize("acct", ["A", "B", "C"])
def test_score_is_50_plus_sum_of_contributions(res, acct):
    d = res.drivers.filter(pl.col("account_id") == acct)
    total = sum(c for c in d["contribution"].to_list() if c is not None)
    assert res.row(acct)["score"] == approx(50 + total)


@pytest.mark.parametrize("acct", ["A", "B", "C"])
def test_effective_weights_of_present_leaves_sum_to_one(res, acct):
    d = res.drivers.filter((pl.col("account_id") == acct) & (~pl.col("missing")))
    assert sum(d["effective_weight"].to_list()) == approx(1.0)


def test_one_driver_row_per_account_and_leaf(res):
    # 3 accounts x 6 leaves
    assert res.drivers.height == 18
    assert res.drivers.select("account_id", "variable").unique().height == 18


def test_bands_of_tree_scores(res):
    # bands green 70 / yellow 40 / red 0: A 53 -> yellow, B 51 -> yellow, C 50.67 -> yellow
    assert res.row("A")["band"] == "yellow"
    assert res.row("B")["band"] == "yellow"
    assert res.row("C")["band"] == "yellow"
