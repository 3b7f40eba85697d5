"""Ranking metrics of a score against churn labels, vectorised with numpy (DESIGN 6).

Every metric ranks by *risk* = 100 - score (higher risk should mean more churn). Ties are
exact: the AUC counts a tied (churner, non-churner) pair as half concordant; a top-k% cut
that falls inside a block of tied risks takes that block's churners pro rata; a decile
edge inside a block of tied scores puts the whole block in the upper decile. Nothing
depends on row order.

Speed: everything works on *sorted values* (np.sort) and binary search instead of an
argsort of all pairs, which is several times slower on millions of pairs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _split(risk: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    keep = ~np.isnan(risk)
    if w is not None:
        keep &= w > 0
    y = y.astype(bool)
    return risk[keep & y], risk[keep & ~y], keep


def auc(risk: np.ndarray, y: np.ndarray) -> float | None:
    """P(risk of a churner > risk of a non-churner) + half the ties; None without both classes.
    NaN risks (missing sub-scores) are left out."""
    pos, neg, _ = _split(risk, y)
    if len(pos) == 0 or len(neg) == 0:
        return None
    # Sorted keys make each binary search start where the last one ended (numpy uses that
    # hint): several times faster than searching for churners in row order.
    neg, pos = np.sort(neg), np.sort(pos)
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (upto - below)).sum() / (len(pos) * len(neg)))


def weighted_auc(risk: np.ndarray, y: np.ndarray, w: np.ndarray) -> float | None:
    """AUC where pair i counts w[i] times (integer weights; 0 leaves it out)."""
    keep = ~np.isnan(risk) & (w > 0)
    risk, y, w = risk[keep], y[keep].astype(bool), w[keep]
    neg_order = np.argsort(risk[~y], kind="stable")
    neg, wneg = risk[~y][neg_order], w[~y][neg_order]
    pos, wpos = risk[y], w[y]
    if wpos.sum() == 0 or wneg.sum() == 0:
        return None
    cum = np.concatenate(([0], np.cumsum(wneg)))
    below = cum[np.searchsorted(neg, pos, side="left")]
    upto = cum[np.searchsorted(neg, pos, side="right")]
    return float((wpos * (below + 0.5 * (upto - below))).sum() / (float(wpos.sum()) * float(cum[-1])))


def auc_interval(risk: np.ndarray, y: np.ndarray, accounts: np.ndarray, reps: int = 200,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the AUC, resampling *accounts* (all snapshots of an
    account go in or out together), because one account's weekly pairs are not independent."""
    keep = ~np.isnan(risk)
    risk, y, accounts = risk[keep], y[keep].astype(bool), accounts[keep]
    if y.sum() == 0 or y.sum() == len(y) or reps <= 0:
        return None
    codes, acc = np.unique(accounts, return_inverse=True)
    order = np.argsort(risk[~y], kind="stable")
    neg, neg_acc = risk[~y][order], acc[~y][order].astype(np.intp)
    pos_order = np.argsort(risk[y], kind="stable")  # sorted keys: faster binary search
    pos, pos_acc = risk[y][pos_order], acc[y][pos_order].astype(np.intp)
    below, upto = np.searchsorted(neg, pos, side="left"), np.searchsorted(neg, pos, side="right")
    # Only the cut points next to churners matter: each replicate sums the non-churners'
    # weights per segment between cut points (reduceat), not a cumulative sum over all pairs.
    cuts = np.unique(np.concatenate(([0], below, upto)))
    cuts = cuts[cuts < len(neg)]
    lo_at, hi_at = np.searchsorted(cuts, below), np.searchsorted(cuts, upto)
    n_acc = len(codes)

    def replicate(count: int, seq: np.random.SeedSequence) -> list[float]:
        rng = np.random.default_rng(seq)
        out = []
        for _ in range(count):  # loops over replicates; each is vectorised over pairs
            counts = np.bincount(rng.integers(0, n_acc, n_acc), minlength=n_acc)
            seg = np.add.reduceat(counts.take(neg_acc), cuts)
            cum = np.concatenate(([0], np.cumsum(seg)))  # cum[k]: weight of non-churners before cuts[k]
            wpos = counts.take(pos_acc)
            total_pos, total_neg = wpos.sum(), cum[-1]
            if total_pos == 0 or total_neg == 0:
                continue
            lo, hi = cum[lo_at], cum[hi_at]
            out.append(float((wpos * (lo + 0.5 * (hi - lo))).sum() / (float(total_pos) * float(total_neg))))
        return out

    # numpy releases the GIL in these array operations: two threads use both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(replicate, [reps // 2, reps - reps // 2], np.random.SeedSequence(seed).spawn(2)))
    values = parts[0] + parts[1]
    if not values:
        return None
    alpha = (1 - level) / 2
    lo, hi = np.quantile(np.array(values), [alpha, 1 - alpha])
    return float(lo), float(hi)


def top_share(risk: np.ndarray, y: np.ndarray, fraction: float) -> tuple[float | None, float | None]:
    """(lift, recall) of the `fraction` of pairs with the highest risk (lowest scores).

    The cut is exactly fraction x n pairs; a block of tied risks that straddles it counts
    with the share of the block inside, so the result does not depend on the row order."""
    y = y.astype(bool)
    n, positives = len(y), int(y.sum())
    if n == 0 or positives == 0:
        return None, None
    k = fraction * n
    ordered = np.sort(risk)[::-1]
    t = ordered[min(int(np.ceil(k)) - 1, n - 1)] if k > 0 else np.inf
    above = int(np.count_nonzero(risk > t))
    tied = int(np.count_nonzero(risk == t))
    pos = risk[y]
    caught = float(np.count_nonzero(pos > t))
    if tied:
        caught += np.count_nonzero(pos == t) * (k - above) / tied
    return float((caught / k) / (positives / n)), float(caught / positives)


def roc_points(risk: np.ndarray, y: np.ndarray, max_points: int = 200) -> list[list[float]]:
    """[fpr, tpr] at up to `max_points` risk thresholds (exact at each), from (0,0) to (1,1)."""
    pos, neg, _ = _split(risk, y)
    if len(pos) == 0 or len(neg) == 0:
        return []
    values = np.sort(np.concatenate((pos, neg)))
    picks = np.linspace(0, len(values) - 1, min(max_points, len(values))).round().astype(int)
    thresholds = np.unique(values[picks])[::-1]  # highest risk first
    pos, neg = np.sort(pos), np.sort(neg)
    tpr = (len(pos) - np.searchsorted(pos, thresholds, side="left")) / len(pos)
    fpr = (len(neg) - np.searchsorted(neg, thresholds, side="left")) / len(neg)
    return [[0.0, 0.0]] + [[round(float(f), 5), round(float(t), 5)] for f, t in zip(fpr, tpr)]


def deciles(score: np.ndarray, y: np.ndarray) -> list[dict]:
    """Observed churn per score decile, lowest scores first (decile 1 = most at risk).

    Edges are the scores at positions ceil(n/10), ceil(2n/10), ... of the sorted scores (with
    distinct scores, pair i of the sorted order is in decile (10 i) // n + 1); a block of tied
    scores at an edge goes wholly to the upper decile (as pandas' qcut on values), so the
    table never depends on row order; deciles can differ in size and an empty one is skipped."""
    n = len(score)
    if n == 0:
        return []
    ordered = np.sort(score)
    edges = ordered[np.minimum(-(-np.arange(1, 10) * n // 10), n - 1)]
    group = np.searchsorted(edges, score, side="right")
    counts = np.bincount(group, minlength=10)
    churned = np.bincount(group, weights=y.astype(np.float64), minlength=10)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = []
    for d in range(10):  # ten rows of a table
        if counts[d] == 0:
            continue
        out.append({"decile": d + 1, "min_score": float(ordered[starts[d]]),
                    "max_score": float(ordered[starts[d] + counts[d] - 1]), "n": int(counts[d]),
                    "churned": int(churned[d]), "rate": float(churned[d] / counts[d])})
    return out
