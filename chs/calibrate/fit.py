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


def fit_group(x: np.ndarray, y: np.ndarray, l1: float) -> GroupFit:
    """Fit beta >= 0 and a free intercept on features x (n, k) and 0/1 labels y."""
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
    wrong = (beta <= 1e-8) & (grad > l1)
    return GroupFit(coefficients=beta, intercept=float(res.x[0]), wrong_way=wrong, converged=bool(res.success))


def group_score(sub_scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A group's score from its children's (n, k) sub-scores: Σ w s / Σ w over present children
    with w > 0 (DESIGN 2.3); NaN when none is present."""
    present = ~np.isnan(sub_scores) & (weights > 0)
    den = (present * weights).sum(axis=1)
    num = np.where(present, sub_scores * weights, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
