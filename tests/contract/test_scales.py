"""DESIGN 2.3 Scales: thresholds, steps, percentile, map, transform: log1p.

All variables are account attributes, so every raw value is set directly in accounts.csv.
Accounts A..F, segment column `tier`.
"""

import math

import pytest

from .conftest import approx, base_config, group, leaf, project_and_score

ACCOUNTS = """
account_id,account_name,owner,tier,x,d,x2,p,q,r,plan,l
A,Alpha,a@x.io,s1,5,-5,5,10,10,5,gold,0
B,Beta,b@x.io,s1,10,0,10,20,30,,silver,0.5
C,Gamma,c@x.io,s2,15,1,19.99,20,5,,bronze,1.718281828459045
D,Delta,d@x.io,s2,30,3,20,40,50,,gold,0.6487212707001282
E,Echo,e@x.io,s2,40,6.5,30,,20,,,3
F,Fox,f@x.io,s3,99,20,100,,7,,silver,0
"""


def attr(col):
    return {"source": "accounts", "column": col}


SCALES = {
    "t_inc": ("x", {"thresholds": [[10, 20], [20, 60], [40, 100]]}),
    "t_dec": ("d", {"thresholds": [[0, 100], [3, 40], [10, 0]]}),
    "st": ("x2", {"steps": [[10, 30], [20, 70], [30, 90]]}),
    "pr": ("p", {"percentile": {}}),
    "pr_rev": ("p", {"percentile": {"higher_is_better": False}}),
    "pr_all": ("q", {"percentile": {"within": "all", "higher_is_better": True}}),
    "pr_seg": ("q", {"percentile": {"within": "segment"}}),
    "pr_single": ("r", {"percentile": {}}),
    "pr_single_rev": ("r", {"percentile": {"higher_is_better": False}}),
    "mp": ("plan", {"map": {"gold": 100, "silver": 60}}),
    "lg": ("l", {"thresholds": [[0, 0], [1, 100]], "transform": "log1p"}),
}


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("scales")
    cfg = base_config(
        accounts={"segment": "tier"},
        variables={name: attr(col) for name, (col, _) in SCALES.items()},
        tree={"g": group(1, {name: leaf(name, 1, scale) for name, (_, scale) in SCALES.items()})},
    )
    return project_and_score(root, cfg, {"data/accounts.csv": ACCOUNTS}, "2024-06-30")


# ---- thresholds -----------------------------------------------------------------------------
def test_thresholds_clamp_below_first_point(res):
    # x = 5 < x0 = 10 -> s0 = 20
    assert res.sub("A", "t_inc") == approx(20)


def test_thresholds_at_points(res):
    # x = 10 -> 20; x = 40 -> 100
    assert res.sub("B", "t_inc") == approx(20)
    assert res.sub("E", "t_inc") == approx(100)


def test_thresholds_interpolate_linearly(res):
    # x = 15 between (10,20) and (20,60): 20 + (15-10)/(20-10) * (60-20) = 20 + 0.5*40 = 40
    assert res.sub("C", "t_inc") == approx(40)
    # x = 30 between (20,60) and (40,100): 60 + (30-20)/(40-20) * 40 = 80
    assert res.sub("D", "t_inc") == approx(80)


def test_thresholds_clamp_above_last_point(res):
    # x = 99 > 40 -> 100
    assert res.sub("F", "t_inc") == approx(100)


def test_thresholds_decreasing_lower_is_better(res):
    # [[0,100],[3,40],[10,0]]
    assert res.sub("A", "t_dec") == approx(100)  # -5 < 0 -> clamp to s0 = 100
    assert res.sub("B", "t_dec") == approx(100)  # 0 -> 100
    assert res.sub("C", "t_dec") == approx(80)  # 1: 100 + (1/3)*(40-100) = 80
    assert res.sub("D", "t_dec") == approx(40)  # 3 -> 40
    assert res.sub("E", "t_dec") == approx(20)  # 6.5: 40 + (3.5/7)*(0-40) = 20
    assert res.sub("F", "t_dec") == approx(0)  # 20 > 10 -> clamp to 0


# ---- steps ----------------------------------------------------------------------------------
def test_steps_below_first_point_gets_s0(res):
    # x = 5 < 10 -> s0 = 30
    assert res.sub("A", "st") == approx(30)


def test_steps_boundary_gets_its_own_step(res):
    # x == x_i gets s_i: 10 -> 30, 20 -> 70, 30 -> 90
    assert res.sub("B", "st") == approx(30)
    assert res.sub("D", "st") == approx(70)
    assert res.sub("E", "st") == approx(90)


def test_steps_do_not_interpolate(res):
    # 19.99 in [10, 20) -> 30 ; 100 >= 30 -> 90
    assert res.sub("C", "st") == approx(30)
    assert res.sub("F", "st") == approx(90)


# ---- percentile -----------------------------------------------------------------------------
def test_percentile_rank_with_ties(res):
    # p: A 10, B 20, C 20, D 40 (E, F NULL) -> n = 4, percent_rank = (rank-1)/(n-1)
    assert res.sub("A", "pr") == approx(0.0)  # rank 1: 0/3 * 100
    assert res.sub("B", "pr") == approx(100 / 3)  # rank 2 (tie): 1/3 * 100 = 33.333...
    assert res.sub("C", "pr") == approx(100 / 3)  # tie with B
    assert res.sub("D", "pr") == approx(100.0)  # rank 4: 3/3 * 100


def test_percentile_null_values_excluded_and_missing(res):
    # E, F have no p -> not ranked (n = 4 above), leaf missing
    for acct in ("E", "F"):
        d = res.drv(acct, "pr")
        assert d["missing"] is True
        assert d["raw_value"] is None


def test_percentile_lower_is_better(res):
    # 100 - percent_rank*100: A 100 - 0 = 100, B/C 100 - 33.33 = 66.67, D 100 - 100 = 0
    assert res.sub("A", "pr_rev") == approx(100.0)
    assert res.sub("B", "pr_rev") == approx(200 / 3)
    assert res.sub("C", "pr_rev") == approx(200 / 3)
    assert res.sub("D", "pr_rev") == approx(0.0)


def test_percentile_within_all(res):
    # q sorted: C 5, F 7, A 10, E 20, B 30, D 50 -> n = 6, (rank-1)/5 * 100
    assert res.sub("C", "pr_all") == approx(0)
    assert res.sub("F", "pr_all") == approx(20)
    assert res.sub("A", "pr_all") == approx(40)
    assert res.sub("E", "pr_all") == approx(60)
    assert res.sub("B", "pr_all") == approx(80)
    assert res.sub("D", "pr_all") == approx(100)


def test_percentile_within_segment(res):
    # s1: A 10, B 30 -> A 0/1 = 0, B 1/1 = 100
    assert res.sub("A", "pr_seg") == approx(0)
    assert res.sub("B", "pr_seg") == approx(100)
    # s2: C 5, E 20, D 50 -> C 0/2 = 0, E 1/2 = 50, D 2/2 = 100
    assert res.sub("C", "pr_seg") == approx(0)
    assert res.sub("E", "pr_seg") == approx(50)
    assert res.sub("D", "pr_seg") == approx(100)
    # s3: F alone -> single account -> 0
    assert res.sub("F", "pr_seg") == approx(0)


def test_percentile_single_account_is_zero(res):
    # r: only A has a value -> n = 1 -> percent_rank 0 -> 0
    assert res.sub("A", "pr_single") == approx(0)
    # lower is better: 100 - 0 = 100
    assert res.sub("A", "pr_single_rev") == approx(100)
    assert res.drv("B", "pr_single")["missing"] is True


# ---- map ------------------------------------------------------------------------------------
def test_map_mapped_values(res):
    # gold -> 100, silver -> 60
    assert res.sub("A", "mp") == approx(100)
    assert res.sub("B", "mp") == approx(60)
    assert res.sub("D", "mp") == approx(100)
    assert res.sub("F", "mp") == approx(60)


def test_map_unmapped_value_is_missing(res):
    # C: bronze not in map -> missing (skip: no sub-score contribution)
    d = res.drv("C", "mp")
    assert d["missing"] is True
    # an unmapped (skipped) leaf contributes nothing
    assert (d["contribution"] or 0) == approx(0)
    assert (d["effective_weight"] or 0) == approx(0)


def test_map_null_value_is_missing(res):
    # E: empty plan -> NULL -> missing
    assert res.drv("E", "mp")["missing"] is True


# ---- transform: log1p -------------------------------------------------------------------------
def test_log1p_transform_before_thresholds(res):
    # thresholds [[0,0],[1,100]] applied to ln(1 + x)
    assert res.sub("A", "lg") == approx(0)  # ln(1) = 0 -> 0
    assert res.sub("B", "lg") == approx(100 * math.log(1.5))  # ln(1.5) = 0.405465... -> 40.5465...
    assert res.sub("C", "lg") == approx(100)  # x = e-1 -> ln(e) = 1 -> 100
    assert res.sub("D", "lg") == approx(50)  # x = sqrt(e)-1 -> 0.5 -> 50
    assert res.sub("E", "lg") == approx(100)  # ln(4) = 1.386 > 1 -> clamp 100

