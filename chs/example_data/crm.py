"""The CRM export of all accounts (current state) and the churn outcomes for backtesting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.accounts import Accounts
from chs.example_data.simulate import Trajectory
from chs.example_data.timeline import DAY, Timeline, next_anniversary
from chs.example_data.writers import CsvAppender


def write_accounts(acc: Accounts, traj: Trajectory, tl: Timeline, path: Path) -> int:
    """accounts.csv as a CRM exports it on the last day: every account ever won, including
    churned ones, with *current* seats and MRR (for churned accounts: as at churn).

    ``contract_end`` is the end of the current annual term. For churned accounts it is the
    end of the term they left in. Because it shows today's term, it leaks the future into
    backtests (an account that renewed last month already shows next year's date); the
    example configs therefore derive the renewal date from ``customer_since`` instead.
    """
    last = traj.last_month(tl.months)
    rows = np.arange(acc.n)
    churned = ~np.isnat(traj.churn_date)
    contract_end = np.where(
        churned,
        next_anniversary(acc.since, np.where(churned, traj.churn_date, tl.end) - DAY),
        next_anniversary(acc.since, np.full(acc.n, tl.end)),
    )
    frame = pl.DataFrame({
        "account_id": acc.ids,
        "account_name": acc.names,
        "csm_email": acc.csm,
        "tier": pl.Series(list(w.SEGMENTS)).gather(acc.segment),
        "plan": pl.Series(list(w.PLANS)).gather(acc.plan),
        "seats": traj.seats[rows, last].astype(np.int64),
        "mrr": np.round(traj.mrr[rows, last].astype(np.float64), 2),
        "customer_since": acc.since,
        "contract_end": contract_end,
        "preferred_channel": pl.Series(list(w.CHANNELS)).gather(acc.channel),
        "churned_at": traj.churn_date,
        "industry": pl.Series(list(w.INDUSTRIES)).gather(acc.industry),
    })
    with CsvAppender(path) as out:
        out.write(frame)
    return out.rows


def write_churn(acc: Accounts, traj: Trajectory, path: Path) -> int:
    """churn.csv: one row per churned account, the outcome a backtest compares scores with."""
    rows = np.flatnonzero(~np.isnat(traj.churn_date))
    frame = pl.DataFrame({
        "account_id": acc.ids.gather(rows),
        "churn_date": traj.churn_date[rows],
    }).sort(["churn_date", "account_id"])
    with CsvAppender(path) as out:
        out.write(frame)
    return out.rows
