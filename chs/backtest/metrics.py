"""Ranking metrics of a score against churn labels, vectorised with numpy (DESIGN 6).

Every metric ranks by *risk* = 100 - score (higher risk should mean more churn). Ties are
handled exactly: AUC counts a tied (churner, non-churner) pair as half concordant, and a
cut-off that falls inside a block of tied scores takes that block's churners pro rata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """Pairs sorted by risk, highest first, with the bounds of each block of tied risks."""

    order: np.ndarray  # sorted position -> original index
    first: np.ndarray  # per sorted position: first position of its tie block
    last: np.ndarray  # per sorted position: last position of its tie block (inclusive)
    block_ends: np.ndarray  # last position of every tie block, ascending

    def sort(self, values: np.ndarray) -> np.ndarray:
        return values[self.order]


def rank(risk: np.ndarray) -> Ranked:
    """Sort once; ties are resolved by the tie blocks, so the sort need not be stable."""
    order = np.argsort(-risk)
    r = risk[order]
    n = len(r)
    new_block = np.empty(n, dtype=bool)
    if n:
        new_block[0] = True
        new_block[1:] = r[1:] != r[:-1]
    starts = np.flatnonzero(new_block)
    ends = np.append(starts[1:] - 1, n - 1) if n else starts
    block_id = np.cumsum(new_block) - 1
    return Ranked(order=order, first=starts[block_id], last=ends[block_id], block_ends=ends)


def weighted_auc(ranked: Ranked, y: np.ndarray, w: np.ndarray) -> float | None:
    """AUC over sorted labels `y` with integer weights `w` per sorted position: 0 leaves a pair
    out (another horizon's censoring, a missing sub-score), k counts it k times (a bootstrap)."""
    wneg = w * (1 - y)
    # Non-churners ranked below a churner = all of them minus those up to the end of its tie block.
    cum = np.concatenate(([0], np.cumsum(wneg)))
    total_neg = cum[-1]
    pos_idx = np.flatnonzero(y * w)
    wpos = w[pos_idx]
    total_pos = wpos.sum()
    if total_pos == 0 or total_neg == 0:
        return None
    upto = cum[ranked.last[pos_idx] + 1]
    below = total_neg - upto
    tied = upto - cum[ranked.first[pos_idx]]
    return float((wpos * (below + 0.5 * tied)).sum() / (float(total_pos) * float(total_neg)))


def auc(risk: np.ndarray, y: np.ndarray) -> float | None:
    """P(risk of a churner > risk of a non-churner) + half the ties; None without both classes.
    NaN risks (missing sub-scores) are left out."""
    keep = ~np.isnan(risk)
    risk, y = risk[keep], y[keep].astype(np.int64)
    ranked = rank(risk)
    return weighted_auc(ranked, ranked.sort(y), np.ones(len(y), dtype=np.int64))


def auc_interval(risk: np.ndarray, y: np.ndarray, accounts: np.ndarray, reps: int = 200,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the AUC, resampling *accounts* (all snapshots of an
    account go in or out together), because one account's weekly pairs are not independent."""
    keep = ~np.isnan(risk)
    risk, y, accounts = risk[keep], y[keep].astype(np.int64), accounts[keep]
    if y.sum() == 0 or y.sum() == len(y) or reps <= 0:
        return None
    codes, acc = np.unique(accounts, return_inverse=True)
    ranked = rank(risk)
    acc_sorted = ranked.sort(acc).astype(np.intp)
    y_sorted = ranked.sort(y)
    pos_idx = np.flatnonzero(y_sorted)
    pos_acc = acc_sorted[pos_idx]
    # A churner needs the weighted count of non-churners before its tie block and up to its
    # end. Only those cut points matter, so each replicate sums the non-churners' weights per
    # segment between cut points (reduceat) instead of a full cumulative sum over all pairs.
    neg_mask = y_sorted == 0
    neg_acc = acc_sorted[neg_mask]
    neg_before = np.concatenate(([0], np.cumsum(neg_mask)))  # position -> non-churners before it
    cuts_hi = neg_before[ranked.last[pos_idx] + 1]
    cuts_lo = neg_before[ranked.first[pos_idx]]
    cuts = np.unique(np.concatenate(([0], cuts_hi, cuts_lo)))
    cuts = cuts[cuts < len(neg_acc)]
    hi_at, lo_at = np.searchsorted(cuts, cuts_hi), np.searchsorted(cuts, cuts_lo)
    n_acc = len(codes)
    seeds = np.random.SeedSequence(seed).spawn(2)

    def replicate(count: int, seq: np.random.SeedSequence) -> list[float]:
        rng = np.random.default_rng(seq)
        out = []
        for _ in range(count):  # loops over replicates; each is vectorised over pairs
            counts = np.bincount(rng.integers(0, n_acc, n_acc), minlength=n_acc)
            seg = np.add.reduceat(counts.take(neg_acc), cuts) if len(neg_acc) else np.zeros(0, np.int64)
            cum = np.concatenate(([0], np.cumsum(seg)))  # cum[k] = weight of non-churners before cuts[k]
            total_neg = cum[-1]
            wpos = counts.take(pos_acc)
            total_pos = wpos.sum()
            if total_pos == 0 or total_neg == 0:
                continue
            upto, before = cum[hi_at], cum[lo_at]
            value = (wpos * ((total_neg - upto) + 0.5 * (upto - before))).sum()
            out.append(float(value / (float(total_pos) * float(total_neg))))
        return out

    # numpy releases the GIL in these array operations: two threads use both cores.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(replicate, [reps // 2, reps - reps // 2], seeds))
    values = parts[0] + parts[1]
    if not values:
        return None
    alpha = (1 - level) / 2
    lo, hi = np.quantile(np.array(values), [alpha, 1 - alpha])
    return float(lo), float(hi)


def top_share(risk: np.ndarray, y: np.ndarray, fraction: float) -> tuple[float | None, float | None]:
    """(lift, recall) of the `fraction` of pairs with the highest risk (lowest scores).

    The cut-off is exactly fraction x n pairs; a block of tied scores that straddles it counts
    with the share of the block inside, so the result does not depend on the row order."""
    n, pos = len(y), int(y.sum())
    if n == 0 or pos == 0:
        return None, None
    k = fraction * n
    ranked = rank(risk)
    cum_pos = np.concatenate(([0], np.cumsum(ranked.sort(y))))
    ends = ranked.block_ends
    starts = np.concatenate(([0], ends[:-1] + 1))
    inside = np.clip(k - starts, 0, ends - starts + 1)  # positions of each block inside the cut
    block_pos = cum_pos[ends + 1] - cum_pos[starts]
    caught = float((block_pos * inside / (ends - starts + 1)).sum())
    recall = caught / pos
    lift = (caught / k) / (pos / n)
    return lift, recall


def roc_points(risk: np.ndarray, y: np.ndarray, max_points: int = 200) -> list[list[float]]:
    """[fpr, tpr] at every distinct threshold (thinned to about `max_points`), from (0,0) to (1,1)."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return []
    ranked = rank(risk)
    tp = np.cumsum(ranked.sort(y))[ranked.block_ends]
    fp = (ranked.block_ends + 1) - tp
    tpr, fpr = tp / pos, fp / neg
    if len(tpr) > max_points:
        keep = np.unique(np.linspace(0, len(tpr) - 1, max_points).round().astype(int))
        tpr, fpr = tpr[keep], fpr[keep]
    return [[0.0, 0.0]] + [[round(float(f), 5), round(float(t), 5)] for f, t in zip(fpr, tpr)]


def deciles(score: np.ndarray, y: np.ndarray, tiebreak: np.ndarray) -> list[dict]:
    """Observed churn per score decile, lowest scores first (decile 1 = most at risk).
    Pairs are cut into ten equal-count groups by score (ties broken by `tiebreak`)."""
    n = len(score)
    if n == 0:
        return []
    order = np.lexsort((tiebreak, score))
    group = (np.arange(n) * 10) // n
    s, t = score[order], y[order]
    out = []
    for d in range(10):  # ten groups, each vectorised
        sel = group == d
        m = int(sel.sum())
        if m == 0:
            continue
        churned = int(t[sel].sum())
        out.append({"decile": d + 1, "min_score": float(s[sel].min()), "max_score": float(s[sel].max()),
                    "n": m, "churned": churned, "rate": churned / m})
    return out
