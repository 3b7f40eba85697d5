"""Screening declared variables that are not in the tree: which would be worth adding?

Each numeric variable gets its univariate AUC on the training pairs in its better direction,
and a thresholds scale from training quantiles (10th -> 0 or 100, median -> 50, 90th -> 100
or 0), so a user can paste it into the tree and check it with `chs backtest --rescore`.
"""

from __future__ import annotations

import numpy as np

from chs.backtest import metrics

WORTH_ADDING = 0.55  # univariate AUC from which a variable is listed as a candidate


def proposed_scale(values: np.ndarray, higher_is_better: bool) -> dict:
    """Thresholds through the 10th, 50th and 90th training percentile; percentile if they tie."""
    q = np.quantile(values, [0.1, 0.5, 0.9])
    scores = [0.0, 50.0, 100.0] if higher_is_better else [100.0, 50.0, 0.0]
    points = []
    for x, s in zip(q.tolist(), scores):
        x = float(f"{x:.4g}")
        if not points or x > points[-1][0]:
            points.append([x, s])
    if len(points) < 2:
        return {"percentile": {"higher_is_better": higher_is_better}}
    return {"thresholds": points}


def screen(variables: dict[str, np.ndarray], y: np.ndarray) -> list[dict]:
    """One row per variable: AUC (>= 0.5, in its better direction), direction, proposed scale."""
    rows = []
    for name, values in variables.items():
        known = ~np.isnan(values)
        if known.sum() < 2 or len(np.unique(values[known])) < 2:
            continue
        up = metrics.auc(values, y)  # risk = the value itself: higher value, more churn?
        if up is None:
            continue
        higher_is_better = up < 0.5
        auc = 1 - up if higher_is_better else up
        rows.append({"variable": name, "auc": auc, "coverage": float(known.mean()),
                     "direction": "higher is better" if higher_is_better else "lower is better",
                     "scale": proposed_scale(values[known], higher_is_better),
                     "worth_adding": auc >= WORTH_ADDING})
    return sorted(rows, key=lambda r: -r["auc"])
