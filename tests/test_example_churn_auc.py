"""End to end: the example scorecard, scored 90 days before the data ends, must rank the
accounts that churn in those 90 days as riskier (the point of a health score)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import DEFAULT_END
from chs.init_project import init_project

HORIZON_DAYS = 90


def mann_whitney_auc(risk: np.ndarray, positive: np.ndarray) -> float:
    """P(risk of a random positive > risk of a random negative), ties counting half."""
    ranks = pl.Series(risk).rank("average").to_numpy()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_mann_whitney_auc_on_a_hand_computed_case() -> None:
    # Positives 3 and 1 vs negatives 2 and 0: 3 of the 4 pairs are ordered right.
    assert mann_whitney_auc(np.array([3.0, 1.0, 2.0, 0.0]), np.array([True, True, False, False])) == 0.75
    assert mann_whitney_auc(np.array([1.0, 1.0]), np.array([True, False])) == 0.5


def test_example_score_separates_next_quarters_churners(tmp_path: Path) -> None:
    init_project(tmp_path, example=True)
    config = tmp_path / "chs.yaml"
    as_of = DEFAULT_END - dt.timedelta(days=HORIZON_DAYS)
    run = subprocess.run(
        [sys.executable, "-m", "chs", "--config", str(config), "score", "--as-of", as_of.isoformat()],
        capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stderr

    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet").filter(pl.col("score").is_not_null())
    churn = pl.read_csv(tmp_path / "data" / "churn.csv", try_parse_dates=True)
    # accounts.end: customers who left on or before as_of are not scored at all.
    gone = set(churn.filter(pl.col("churn_date") <= as_of)["account_id"])
    assert gone and not gone & set(scores["account_id"])

    upcoming = churn.filter(
        (pl.col("churn_date") > as_of) & (pl.col("churn_date") <= as_of + dt.timedelta(days=HORIZON_DAYS))
    )
    churned = scores["account_id"].is_in(upcoming["account_id"].implode()).to_numpy()
    assert churned.sum() >= 10, "too few churners in the horizon to judge the score"
    score = scores["score"].to_numpy()
    assert score[churned].mean() < score[~churned].mean()
    assert mann_whitney_auc(100 - score, churned) >= 0.7
