"""DESIGN 2.3: weights (any positive numbers, 0 = absent), bands, `segments:` overrides.
Identity scales (sub-score == raw value).
"""

import pytest

from .conftest import approx, base_config, group, leaf, project_and_score

# ---- weights ----------------------------------------------------------------------------------
WEIGHT_ACCOUNTS = """
account_id,account_name,owner,xa,xb,xc
A,Alpha,a@x.io,0,80,40
B,Beta,b@x.io,90,,
"""


@pytest.fixture(scope="module")
def wres(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    cfg = base_config(
        variables={v: {"source": "accounts", "column": v} for v in ("xa", "xb", "xc")},
        tree={"g": group(1, {"a": leaf("xa", 0), "b": leaf("xb", 2), "c": leaf("xc", 6)})},
        score={"missing": "skip"},
    )
    return project_and_score(root, cfg, {"data/accounts.csv": WEIGHT_ACCOUNTS}, "2024-06-30")


def test_weights_need_not_sum_to_100(wres):
    # b: 2/(2+6) = .25, c: 6/8 = .75 (a has weight 0 -> absent)
    assert wres.drv("A", "xb")["effective_weight"] == approx(0.25)
    assert wres.drv("A", "xc")["effective_weight"] == approx(0.75)
    # (2*80 + 6*40)/8 = 400/8 = 50 ; contributions .25*30 = 7.5, .75*(-10) = -7.5
    assert wres.drv("A", "xb")["contribution"] == approx(7.5)
    assert wres.drv("A", "xc")["contribution"] == approx(-7.5)
    assert wres.row("A")["score"] == approx(50)


def test_weight_zero_leaf_contributes_nothing(wres):
    # a has a value (0) but weight 0: effective weight 0, contribution 0 (else .. * (0-50) < 0)
    d = wres.drv("A", "xa")
    assert (d["effective_weight"] or 0) == approx(0)
    assert (d["contribution"] or 0) == approx(0)


def test_weight_zero_child_counts_as_absent(wres):
    # B: a (w 0) has a value, b and c missing -> no present child (a is absent) -> score NULL, unknown
    r = wres.row("B")
    assert r["score"] is None
    assert r["band"] == "unknown"


def test_weight_zero_does_not_reduce_coverage(wres):
    # A: full-presence eff weights: a 0/8 = 0, b .25, c .75 -> b + c = 1.0
    assert wres.row("A")["coverage"] == approx(1.0)


# ---- bands ------------------------------------------------------------------------------------
BAND_ACCOUNTS = """
account_id,account_name,owner,x
G100,g,o,100
G70,g,o,70
Y6999,y,o,69.9999
Y40,y,o,40
R3999,r,o,39.9999
R0,r,o,0
"""


@pytest.fixture(scope="module")
def bres(tmp_path_factory):
    root = tmp_path_factory.mktemp("bands")
    cfg = base_config(
        variables={"x": {"source": "accounts", "column": "x"}},
        tree={"g": group(1, {"x": leaf("x")})},
        # deliberately not in descending order: the highest minimum <= score wins
        score={"bands": {"red": 0, "green": 70, "yellow": 40}},
    )
    return project_and_score(root, cfg, {"data/accounts.csv": BAND_ACCOUNTS}, "2024-06-30")


@pytest.mark.parametrize(
    "acct,band",
    [
        ("G100", "green"),  # 100 >= 70
        ("G70", "green"),  # 70 >= 70 (minimum is inclusive)
        ("Y6999", "yellow"),  # 69.9999 < 70, unrounded (would round to 70)
        ("Y40", "yellow"),  # 40 >= 40
        ("R3999", "red"),  # 39.9999 < 40
        ("R0", "red"),  # 0 >= 0
    ],
)
def test_band_is_highest_minimum_at_or_below_unrounded_score(bres, acct, band):
    assert bres.row(acct)["band"] == band


def test_band_scores_are_identity(bres):
    assert bres.row("Y6999")["score"] == approx(69.9999)


# ---- segments ---------------------------------------------------------------------------------
SEG_ACCOUNTS = """
account_id,account_name,owner,since,seats,xa,xb,xv
A,Alpha,a@x.io,2024-05-31,10,80,20,30
B,Beta,b@x.io,2023-01-01,10,80,20,30
C,Gamma,c@x.io,2023-01-01,1000,80,20,30
"""


@pytest.fixture(scope="module")
def sres(tmp_path_factory):
    root = tmp_path_factory.mktemp("segments")
    cfg = base_config(
        accounts={"start": "since"},
        variables={v: {"source": "accounts", "column": v} for v in ("xa", "xb", "xv")},
        tree={
            "success": group(40, {"adoption": leaf("xa", 60), "trend": leaf("xb", 40)}),
            "value": group(60, {"volume": leaf("xv", 1)}),
        },
        segments={
            "onboarding": {"when": "tenure_days < 90", "weights": {"value": 10, "success": 65, "success.trend": 0}},
            "small": {"when": "seats < 100", "weights": {"value": 90}},
        },
    )
    return project_and_score(root, cfg, {"data/accounts.csv": SEG_ACCOUNTS}, "2024-06-30")


def test_no_segment_match_uses_tree_weights(sres):
    # C (tenure > 90, seats 1000): success = .6*80 + .4*20 = 56 ; root = .4*56 + .6*30 = 22.4 + 18 = 40.4
    assert sres.row("C")["score"] == approx(40.4)
    assert sres.drv("C", "xa")["effective_weight"] == approx(0.24)  # .4 * .6


def test_first_matching_segment_wins(sres):
    # A: tenure 30 (< 90) and seats 10 (< 100) -> onboarding (first), not small
    # success 65, value 10, trend 0 (absent) -> success = 80 ; root = (65*80 + 10*30)/75 = 5500/75
    assert sres.row("A")["score"] == approx(5500 / 75)  # 73.333...


def test_segment_dotted_path_override_switches_leaf_off(sres):
    # A: success.trend weight 0 -> absent: adoption eff = 65/75 * 60/60, trend 0
    assert sres.drv("A", "xa")["effective_weight"] == approx(65 / 75)
    assert (sres.drv("A", "xb")["effective_weight"] or 0) == approx(0)
    assert (sres.drv("A", "xb")["contribution"] or 0) == approx(0)
    assert sres.row("A")["score_success"] == approx(80)
    # volume: 10/75 ; contributions (65/75)*30 = 26, (10/75)*(-20) = -8/3 -> 50 + 26 - 8/3 = 73.333
    assert sres.drv("A", "xv")["effective_weight"] == approx(10 / 75)
    assert sres.drv("A", "xa")["contribution"] == approx(26)
    assert sres.drv("A", "xv")["contribution"] == approx(-8 / 3)


def test_segment_override_replaces_only_named_weights(sres):
    # B: tenure > 90, seats 10 -> small: value 90, success stays 40, children unchanged
    # success 56 ; root = (40*56 + 90*30)/130 = (2240 + 2700)/130 = 38
    assert sres.row("B")["score"] == approx(38)
    assert sres.drv("B", "xa")["effective_weight"] == approx(40 / 130 * 0.6)  # 24/130
    assert sres.drv("B", "xv")["effective_weight"] == approx(90 / 130)


@pytest.mark.parametrize("acct", ["A", "B", "C"])
def test_segment_scores_are_50_plus_contributions(sres, acct):
    d = sres.drivers.filter(sres.drivers["account_id"] == acct)
    assert sres.row(acct)["score"] == approx(50 + sum(c or 0 for c in d["contribution"].to_list()))
