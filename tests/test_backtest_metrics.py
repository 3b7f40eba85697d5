"""Unit tests of `chs.backtest.metrics` (DESIGN 6): AUC with ties, lift/recall with a tie
block straddling the cut, ROC end points, deciles, the account bootstrap and weighted AUC.

Every metric ranks by risk = 100 - score; the expected numbers are worked out by hand in
the comments, or by a brute-force reference written here (O(n^2) pair loops).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chs.backtest import metrics

TOL = 1e-12


def brute_auc(risk, y, w=None) -> float | None:
    """Σ over (churner i, stayer j) of w_i·w_j·([r_i > r_j] + ½[r_i == r_j]) / (Σw_pos · Σw_neg)."""
    risk, y = np.asarray(risk, float), np.asarray(y, int)
    w = np.ones(len(y)) if w is None else np.asarray(w, float)
    num = den_pos = den_neg = 0.0
    for i in range(len(y)):
        if y[i] == 1:
            den_pos += w[i]
        else:
            den_neg += w[i]
    if den_pos == 0 or den_neg == 0:
        return None
    for i in range(len(y)):
        if y[i] != 1 or w[i] == 0:
            continue
        for j in range(len(y)):
            if y[j] != 0 or w[j] == 0:
                continue
            if risk[i] > risk[j]:
                num += w[i] * w[j]
            elif risk[i] == risk[j]:
                num += 0.5 * w[i] * w[j]
    return num / (den_pos * den_neg)


# ------------------------------------------------------------------ auc
def test_auc_hand_case_with_a_tie() -> None:
    scores = np.array([10, 20, 20, 30, 40, 50], dtype=float)
    y = np.array([1, 1, 0, 0, 1, 0])
    risk = 100 - scores  # [90, 80, 80, 70, 60, 50]
    # churners' risks 90, 80, 60; stayers' risks 80, 70, 50 -> 3 x 3 = 9 pairs
    #   90 beats 80, 70, 50                      -> 3
    #   80 ties 80 (½), beats 70, 50             -> 2.5
    #   60 loses to 80, 70, beats 50             -> 1
    # AUC = (3 + 2.5 + 1) / 9 = 6.5 / 9 = 13/18
    assert metrics.auc(risk, y) == pytest.approx(13 / 18, abs=TOL)
    # the row order does not matter
    perm = np.array([4, 2, 0, 5, 1, 3])
    assert metrics.auc(risk[perm], y[perm]) == pytest.approx(13 / 18, abs=TOL)


def test_auc_leaves_out_nan_risks() -> None:
    risk = np.array([90, 80, 80, 70, 60, 50, np.nan, np.nan], dtype=float)
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    # the two NaN pairs drop out: same 13/18 as the hand case above
    assert metrics.auc(risk, y) == pytest.approx(13 / 18, abs=TOL)


def test_auc_is_none_with_one_class() -> None:
    risk = np.array([90.0, 80.0, 70.0])
    assert metrics.auc(risk, np.array([1, 1, 1])) is None
    assert metrics.auc(risk, np.array([0, 0, 0])) is None
    # a class present only on a NaN pair does not count: only churners remain
    assert metrics.auc(np.array([90.0, 80.0, np.nan]), np.array([1, 1, 0])) is None


def test_auc_perfect_and_reversed_and_all_tied() -> None:
    y = np.array([1, 1, 0, 0])
    assert metrics.auc(np.array([4.0, 3.0, 2.0, 1.0]), y) == 1.0
    assert metrics.auc(np.array([1.0, 2.0, 3.0, 4.0]), y) == 0.0
    assert metrics.auc(np.array([5.0, 5.0, 5.0, 5.0]), y) == 0.5  # every pair tied: ½


# ------------------------------------------------------------------ top_share
def test_top_share_with_a_tie_block_straddling_the_cut() -> None:
    # sorted by risk (highest first): 9 | 8 8 8 | 7 | 6 | 5 | 4 | 3 | 2   (n = 10)
    # churned:                         1 | 1 0 1 | 0 | 0 | 1 | 0 | 0 | 0   (4 churners)
    risk = np.array([9, 8, 8, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    base = 4 / 10
    # 10%: cut k = 1 -> only the 9, a churner: caught 1; recall 1/4; lift (1/1)/0.4 = 2.5
    lift, recall = metrics.top_share(risk, y, 0.10)
    assert recall == pytest.approx(1 / 4, abs=TOL)
    assert lift == pytest.approx(2.5, abs=TOL)
    # 20%: k = 2 -> the 9 plus 1 of the 3 positions of the tied 8-block (2 churners in it):
    # caught = 1 + 2 * 1/3 = 5/3; recall = 5/12; lift = (5/3 / 2) / 0.4 = 25/12
    lift, recall = metrics.top_share(risk, y, 0.20)
    assert recall == pytest.approx(5 / 12, abs=TOL)
    assert lift == pytest.approx((5 / 3 / 2) / base, abs=TOL)
    assert lift == pytest.approx(25 / 12, abs=TOL)
    # 25%: k = 2.5 (not a whole pair) -> 1 + 2 * 1.5/3 = 2; recall 1/2; lift (2/2.5)/0.4 = 2
    lift, recall = metrics.top_share(risk, y, 0.25)
    assert recall == pytest.approx(0.5, abs=TOL)
    assert lift == pytest.approx(2.0, abs=TOL)
    # 40%: k = 4 -> the 9 and the whole 8-block: caught 3; recall 3/4; lift (3/4)/0.4 = 1.875
    lift, recall = metrics.top_share(risk, y, 0.40)
    assert recall == pytest.approx(0.75, abs=TOL)
    assert lift == pytest.approx(1.875, abs=TOL)
    # 100%: everything: recall 1, lift 1
    lift, recall = metrics.top_share(risk, y, 1.0)
    assert (lift, recall) == (pytest.approx(1.0, abs=TOL), pytest.approx(1.0, abs=TOL))


def test_top_share_does_not_depend_on_row_order_inside_a_tie_block() -> None:
    risk = np.array([9, 8, 8, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    expected = metrics.top_share(risk, y, 0.20)
    rng = np.random.default_rng(7)
    for _ in range(20):
        perm = rng.permutation(10)
        got = metrics.top_share(risk[perm], y[perm], 0.20)
        assert got == (pytest.approx(expected[0], abs=TOL), pytest.approx(expected[1], abs=TOL))


def test_top_share_without_churners_is_undefined() -> None:
    assert metrics.top_share(np.array([3.0, 2.0, 1.0]), np.array([0, 0, 0]), 0.1) == (None, None)
    assert metrics.top_share(np.array([]), np.array([]), 0.1) == (None, None)


# ------------------------------------------------------------------ roc_points
def test_roc_points_hand_case_from_00_to_11() -> None:
    risk = np.array([90, 80, 80, 70, 60, 50], dtype=float)
    y = np.array([1, 1, 0, 0, 1, 0])
    pts = metrics.roc_points(risk, y)
    # one point per tie block (3 churners, 3 stayers):
    #   90 -> tp 1 fp 0; 80,80 -> tp 2 fp 1; 70 -> tp 2 fp 2; 60 -> tp 3 fp 2; 50 -> tp 3 fp 3
    expected = [[0, 0], [0, 1 / 3], [1 / 3, 2 / 3], [2 / 3, 2 / 3], [2 / 3, 1], [1, 1]]
    assert len(pts) == len(expected)
    for p, e in zip(pts, expected):
        assert p == [pytest.approx(e[0], abs=1e-5), pytest.approx(e[1], abs=1e-5)]
    assert pts[0] == [0.0, 0.0] and pts[-1] == [1.0, 1.0]
    # trapezoid area under these points = AUC: 1/3·(1/3+2/3)/2 + 1/3·2/3 + 1/3·1 = 13/18
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:]))
    assert area == pytest.approx(13 / 18, abs=1e-4)


def test_roc_points_thinned_still_start_and_end_at_corners() -> None:
    rng = np.random.default_rng(3)
    risk = rng.normal(size=1000)
    y = (rng.random(1000) < 0.3).astype(int)
    pts = metrics.roc_points(risk, y, max_points=50)
    assert pts[0] == [0.0, 0.0] and pts[-1] == [1.0, 1.0]
    assert len(pts) <= 51
    fpr = [p[0] for p in pts]
    tpr = [p[1] for p in pts]
    assert fpr == sorted(fpr) and tpr == sorted(tpr)


def test_roc_points_empty_with_one_class() -> None:
    assert metrics.roc_points(np.array([1.0, 2.0]), np.array([1, 1])) == []


# ------------------------------------------------------------------ deciles
def test_deciles_ten_groups_lowest_scores_first() -> None:
    # 20 pairs, scores 0, 5, ..., 95 (given shuffled); churned: the 4 lowest scores and score 50
    scores = np.arange(20) * 5.0
    y = np.zeros(20, dtype=int)
    y[[0, 1, 2, 3, 10]] = 1
    perm = np.random.default_rng(1).permutation(20)
    out = metrics.deciles(scores[perm], y[perm])
    assert [d["decile"] for d in out] == list(range(1, 11))
    assert all(d["n"] == 2 for d in out) and sum(d["n"] for d in out) == 20
    # decile 1 = scores 0 and 5 (both churned), decile 2 = 10, 15 (both), decile 6 = 50, 55 (one)
    assert (out[0]["min_score"], out[0]["max_score"], out[0]["churned"], out[0]["rate"]) == (0.0, 5.0, 2, 1.0)
    assert (out[1]["min_score"], out[1]["max_score"], out[1]["churned"]) == (10.0, 15.0, 2)
    assert (out[5]["min_score"], out[5]["max_score"], out[5]["churned"], out[5]["rate"]) == (50.0, 55.0, 1, 0.5)
    assert [d["churned"] for d in out] == [2, 2, 0, 0, 0, 1, 0, 0, 0, 0]
    assert out[-1]["max_score"] == 95.0


def test_deciles_uneven_n_counts_sum_to_n() -> None:
    # n = 25: group of position i is (10 i) // 25 -> sizes 3,2,3,2,3,2,3,2,3,2
    scores = np.linspace(0, 100, 25)
    y = np.zeros(25, dtype=int)
    out = metrics.deciles(scores, y)
    assert len(out) == 10
    assert [d["n"] for d in out] == [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    assert sum(d["n"] for d in out) == 25
    mins = [d["min_score"] for d in out]
    assert mins == sorted(mins)


# ------------------------------------------------------------------ weighted_auc
def test_weighted_auc_with_01_weights_equals_auc_on_the_subset() -> None:
    rng = np.random.default_rng(11)
    risk = rng.integers(0, 6, size=40).astype(float)  # many ties
    y = rng.integers(0, 2, size=40)
    w = rng.integers(0, 2, size=40)
    got = metrics.weighted_auc(risk, y, w)
    sub = w == 1
    assert got == pytest.approx(metrics.auc(risk[sub], y[sub]), abs=TOL)
    assert got == pytest.approx(brute_auc(risk[sub], y[sub]), abs=TOL)


def test_weighted_auc_integer_weight_counts_a_pair_k_times() -> None:
    risk = np.array([90, 80, 80, 70, 60, 50], dtype=float)
    y = np.array([1, 1, 0, 0, 1, 0])
    w = np.array([2, 0, 1, 3, 1, 1])
    got = metrics.weighted_auc(risk, y, w)
    rep = np.repeat(np.arange(6), w)  # the pairs written out w times
    assert got == pytest.approx(metrics.auc(risk[rep], y[rep]), abs=TOL)
    # by hand: churners 90 (w2), 60 (w1); stayers 80 (w1), 70 (w3), 50 (w1): Σw 3 x 5 = 15
    #   90: beats all 5 stayer weights -> 2 * 5 = 10;  60: beats 50 only -> 1 * 1 = 1
    assert got == pytest.approx(11 / 15, abs=TOL)


def test_weighted_auc_none_when_a_class_has_zero_weight() -> None:
    risk = np.array([3.0, 2.0, 1.0])
    y = np.array([1, 0, 0])
    assert metrics.weighted_auc(risk, y, np.array([0, 1, 1])) is None


# ------------------------------------------------------------------ auc_interval
def reference_interval(risk, y, accounts, reps: int, seed: int, level: float = 0.95):
    """Brute-force account bootstrap with the same random streams as the implementation."""
    codes, acc = np.unique(accounts, return_inverse=True)
    n_acc = len(codes)
    children = np.random.SeedSequence(seed).spawn(2)
    values = []
    for count, seq in ((reps // 2, children[0]), (reps - reps // 2, children[1])):
        rng = np.random.default_rng(seq)
        for _ in range(count):
            counts = np.bincount(rng.integers(0, n_acc, n_acc), minlength=n_acc)
            w = counts[acc]  # every pair weighs its account's count
            value = brute_auc(risk, y, w)
            if value is not None:
                values.append(value)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(np.array(values), [alpha, 1 - alpha])
    return float(lo), float(hi)


def _panel(seed: int, n_acc: int = 12, snaps: int = 3):
    """n_acc accounts x snaps snapshots; risk with ties; churn more likely at high risk."""
    rng = np.random.default_rng(seed)
    accounts = np.repeat(np.array([f"A{i:02d}" for i in range(n_acc)]), snaps)
    base = rng.integers(0, 8, size=n_acc)
    risk = (np.repeat(base, snaps) + rng.integers(0, 3, size=n_acc * snaps)).astype(float)
    y = (rng.random(n_acc * snaps) < (risk + 1) / 12).astype(int)
    return risk, y, accounts


@pytest.mark.parametrize(("seed", "reps", "boot_seed"), [(0, 40, 0), (1, 41, 5), (2, 60, 123)])
def test_auc_interval_equals_brute_force_account_bootstrap(seed: int, reps: int, boot_seed: int) -> None:
    risk, y, accounts = _panel(seed)
    assert 0 < y.sum() < len(y)
    perm = np.random.default_rng(seed + 100).permutation(len(y))  # rows in any order
    risk, y, accounts = risk[perm], y[perm], accounts[perm]
    got = metrics.auc_interval(risk, y, accounts, reps=reps, seed=boot_seed)
    assert got is not None
    lo, hi = reference_interval(risk, y, accounts, reps=reps, seed=boot_seed)
    assert got[0] == pytest.approx(lo, abs=TOL)
    assert got[1] == pytest.approx(hi, abs=TOL)


def test_auc_interval_resamples_accounts_not_pairs() -> None:
    # one account holds every churner pair: a replicate without it has no churner and is skipped;
    # one with it keeps all its pairs together. A pair bootstrap would not give this reference.
    risk = np.array([9, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    accounts = np.array(["X", "Y", "X", "Y", "Z", "Z", "W", "W"])
    got = metrics.auc_interval(risk, y, accounts, reps=30, seed=2)
    assert got == pytest.approx(reference_interval(risk, y, accounts, reps=30, seed=2), abs=TOL)


def test_auc_interval_contains_the_point_auc() -> None:
    risk, y, accounts = _panel(4, n_acc=40, snaps=4)
    point = metrics.auc(risk, y)
    lo, hi = metrics.auc_interval(risk, y, accounts, reps=200, seed=0)
    assert 0.0 <= lo <= point <= hi <= 1.0
    assert lo < hi


def test_auc_interval_is_reproducible_and_none_with_one_class() -> None:
    risk, y, accounts = _panel(5)
    assert metrics.auc_interval(risk, y, accounts, reps=50, seed=9) == metrics.auc_interval(
        risk, y, accounts, reps=50, seed=9)
    assert metrics.auc_interval(risk, np.zeros_like(y), accounts) is None
    assert metrics.auc_interval(risk, np.ones_like(y), accounts) is None
    assert metrics.auc_interval(risk, y, accounts, reps=0) is None


# ------------------------------------------------------------------ properties
risks_and_labels = st.integers(min_value=2, max_value=30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-5, 5), min_size=n, max_size=n),  # small range -> many ties
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
    )
)


@settings(max_examples=200, deadline=None)
@given(risks_and_labels)
def test_auc_of_risk_and_of_minus_risk_add_to_one(data) -> None:
    risk, y = np.array(data[0], dtype=float), np.array(data[1])
    assume(0 < y.sum() < len(y))
    a, b = metrics.auc(risk, y), metrics.auc(-risk, y)
    assert a + b == pytest.approx(1.0, abs=TOL)
    assert a == pytest.approx(brute_auc(risk, y), abs=TOL)


@settings(max_examples=200, deadline=None)
@given(risks_and_labels)
def test_auc_is_invariant_under_strictly_increasing_transforms(data) -> None:
    risk, y = np.array(data[0], dtype=float), np.array(data[1])
    assume(0 < y.sum() < len(y))
    a = metrics.auc(risk, y)
    assert metrics.auc(3 * risk + 7, y) == pytest.approx(a, abs=TOL)
    assert metrics.auc(risk**3 + 2 * risk, y) == pytest.approx(a, abs=TOL)
    assert metrics.auc(np.exp(risk / 4), y) == pytest.approx(a, abs=TOL)
