"""Non-negative, L1-regularised logistic regression of churn on sub-scores (DESIGN 6, calibrate).

For one group, each child's sub-score s becomes a *risk* feature x = (50 - s) / 50 in [-1, 1]
(missing = 0, i.e. neutral). The fit minimises

    mean log-loss(y, b0 + X beta) + l1 * sum(beta),   beta >= 0,

with L-BFGS-B (scipy). With beta >= 0 the L1 term is linear, so the problem stays smooth and
the bounds are exact: a child that would need a negative coefficient (its higher sub-score
goes with *more* churn) stops at 0, and the sign of its gradient there says why. scikit-learn's
LogisticRegression has no sign constraint, so we solve the same objective directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


def auto_l1(x: np.ndarray, y: np.ndarray, clusters: int) -> float:
    """A noise-level penalty: the size a pure-noise feature's gradient reaches by chance
    (a universal threshold, sqrt(2 log 2k / n) x sd(y) x sd(x)), with n the number of
    *accounts*, because one account's weekly snapshots are not independent evidence."""
    k = max(x.shape[1], 1)
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    sd_x = float(x.std(axis=0).max()) if x.size else 0.0
    return float(np.sqrt(2 * np.log(2 * k) / max(clusters, 1)) * np.sqrt(rate * (1 - rate)) * sd_x)


@dataclass(frozen=True)
class GroupFit:
    coefficients: np.ndarray  # beta >= 0 per child
    intercept: float
    wrong_way: np.ndarray  # bool per child: at 0 because the data want a negative coefficient
    converged: bool


def risk_features(sub_scores: np.ndarray) -> np.ndarray:
    """(n, k) sub-scores (NaN = missing) -> risk features, missing = neutral 0."""
    x = (50.0 - sub_scores) / 50.0
    return np.where(np.isnan(x), 0.0, x)


def fit_group(x: np.ndarray, y: np.ndarray, l1: float, wrong_threshold: float | None = None) -> GroupFit:
    """Fit beta >= 0 and a free intercept on features x (n, k) and 0/1 labels y.

    `wrong_threshold` (default: l1) is how strongly a zero-weight child's data must want a
    negative weight to be named "wrong way"; a chosen penalty can be far below noise level."""
    n, k = x.shape
    y = y.astype(np.float64)
    rate = min(max(y.mean(), 1e-6), 1 - 1e-6)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b0, beta = theta[0], theta[1:]
        z = b0 + x @ beta
        p = 1.0 / (1.0 + np.exp(-z))
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z)) + l1 * float(beta.sum())
        r = (p - y) / n
        return loss, np.concatenate(([r.sum()], x.T @ r + l1))

    start = np.concatenate(([np.log(rate / (1 - rate))], np.zeros(k)))
    res = minimize(objective, start, jac=True, method="L-BFGS-B",
                   bounds=[(None, None)] + [(0.0, None)] * k, options={"maxiter": 500})
    beta = np.maximum(res.x[1:], 0.0)
    # KKT at beta_j = 0: an unpenalised gradient above the penalty means an unconstrained
    # L1 fit would give this child a *negative* coefficient: its signal points the wrong way.
    # (Between -l1 and l1 it merely carries no signal worth its weight.)
    z = res.x[0] + x @ beta
    grad = x.T @ ((1.0 / (1.0 + np.exp(-z)) - y) / n)
    wrong = (beta <= 1e-8) & (grad > (l1 if wrong_threshold is None else wrong_threshold))
    return GroupFit(coefficients=beta, intercept=float(res.x[0]), wrong_way=wrong, converged=bool(res.success))


def group_score(sub_scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A group's score from its children's (n, k) sub-scores: Σ w s / Σ w over present children
    with w > 0 (DESIGN 2.3); NaN when none is present."""
    present = ~np.isnan(sub_scores) & (weights > 0)
    den = (present * weights).sum(axis=1)
    num = np.where(present, sub_scores * weights, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


CV_FOLDS = 3
CV_MAX_PAIRS = 300_000  # choosing the penalty on a sample of accounts keeps big backfills fast
CV_GRID = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)  # multiples of the noise-level penalty


def log_loss(x: np.ndarray, y: np.ndarray, fit: GroupFit) -> float:
    z = fit.intercept + x @ fit.coefficients
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def choose_l1(x: np.ndarray, y: np.ndarray, accounts: np.ndarray, seed: int = 0) -> float:
    """The penalty with the lowest held-out log-loss in a cross-validation whose folds split
    *accounts* (an account's snapshots never sit on both sides), over multiples of the
    noise-level penalty; on a tie the larger (sparser) one wins."""
    codes, acc = np.unique(accounts, return_inverse=True)
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, CV_FOLDS, len(codes))
    if len(y) > CV_MAX_PAIRS:
        keep_acc = rng.random(len(codes)) < CV_MAX_PAIRS / len(y)
        sel = keep_acc[acc]
        x, y, acc = x[sel], y[sel], acc[sel]
    base = auto_l1(x, y, len(np.unique(acc)))
    losses = []
    for factor in CV_GRID:
        total = 0.0
        for k in range(CV_FOLDS):
            test = fold_of[acc] == k
            if y[~test].sum() == 0 or y[test].sum() == 0:
                continue
            total += log_loss(x[test], y[test], fit_group(x[~test], y[~test], base * factor)) * test.sum()
        losses.append(total)
    best = min(losses)
    chosen = max(f for f, loss in zip(CV_GRID, losses) if loss <= best + 1e-12 * max(1.0, abs(best)))
    return base * chosen
