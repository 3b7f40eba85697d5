"""Product usage events, one Parquet file per calendar month.

Per account and month, latent health sets how many of its users are active, how much
each uses the product and how many features it touches; the number of events is a
Poisson draw around that. Accounts are processed in chunks of a few million expected
events, so memory stays bounded whatever the number of accounts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.accounts import Accounts, user_id_expr
from chs.example_data.simulate import Trajectory, alive_range, fade
from chs.example_data.timeline import DAY, STREAM_USAGE, Timeline, rng_for, sigmoid
from chs.example_data.writers import ParquetAppender

CHUNK_EVENTS = 2_500_000  # expected events per chunk: bounds working memory (~0.5 GB)
FEATURE_USE = 1
WEEKEND = (np.arange(7 + 32) % 7) >= 5  # by days since a Monday


@dataclass(frozen=True)
class MonthActivity:
    """What latent health implies for one month, per account (deterministic, no draws)."""

    lo: np.ndarray  # first active day
    days: np.ndarray  # days as a customer this month
    n_active: np.ndarray  # users active this month (the account's first n_active users)
    weight: np.ndarray  # relative expected event count
    features: np.ndarray  # features in use (the first `features` of the plan's list)
    type_cuts: np.ndarray  # (accounts, 4) cumulative event-type probabilities


def month_activity(acc: Accounts, traj: Trajectory, tl: Timeline, m: int) -> MonthActivity:
    lo, days = alive_range(acc, traj, tl, m)
    h = traj.health[:, m].astype(np.float64)
    tenure = (lo - acc.since) // DAY
    ramp = np.clip(0.35 + 0.65 * tenure / 90.0, 0.35, 1.0)  # new customers roll out gradually
    leaving = fade(traj, m, (0.6, 0.8, 0.92))  # "less usage" is the classic early churn signal
    share = np.clip(sigmoid(0.5 + 1.4 * h) * ramp * leaving, 0.03, 1.0)
    n_active = np.where(days > 0, np.maximum(1, np.round(share * acc.n_users)), 0).astype(np.int64)
    intensity = np.exp(0.35 * h) * leaving * np.sqrt(ramp)
    weight = n_active * intensity * days / tl.full_days(m)
    plan_features = w.PLAN_FEATURES[acc.plan]
    features = np.clip(np.round(plan_features * sigmoid(0.4 + 1.2 * h) * ramp), 1, plan_features)

    # Event mix: integrations only call the API when connected, and less so when health
    # fades; trainings are taken mostly while onboarding and by engaged customers.
    integrated = acc.has_integration * sigmoid(1.0 + h)
    probs = np.column_stack([
        np.full(acc.n, 0.22), np.full(acc.n, 0.58), 0.14 * integrated, 0.05 * integrated,
        0.004 * (1 + 5 * (tenure < 120)) * np.exp(0.5 * h),
    ])
    cuts = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)[:, :4]
    return MonthActivity(lo=lo, days=days, n_active=n_active, weight=weight,
                         features=features.astype(np.int64), type_cuts=cuts)


def calibrate(acc: Accounts, traj: Trajectory, tl: Timeline, events_per_account_month: float) -> float:
    """Events per unit of weight so that an active account-month averages the requested volume."""
    total_weight, active_months = 0.0, 0
    for m in range(tl.months):
        act = month_activity(acc, traj, tl, m)
        total_weight += float(act.weight.sum())
        active_months += int((act.days > 0).sum())
    return events_per_account_month * active_months / total_weight if total_weight else 0.0


def write_usage(acc: Accounts, traj: Trajectory, tl: Timeline, seed: int, scale: float,
                folder: Path) -> dict[str, int]:
    """Writes usage/usage-YYYY-MM.parquet for every month; returns rows per file."""
    rows: dict[str, int] = {}
    for m in range(tl.months):
        act = month_activity(acc, traj, tl, m)
        rng = rng_for(seed, STREAM_USAGE, m)
        counts = rng.poisson(scale * act.weight)
        name = f"usage-{tl.label(m)}.parquet"
        with ParquetAppender(folder / name, dictionary=("account_id", "event_type", "feature")) as out:
            for lo, hi in _chunks(counts):
                out.write(_events(acc, act, counts, lo, hi, rng))
            rows[f"usage/{name}"] = out.rows
    return rows


def _chunks(counts: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous account ranges holding about CHUNK_EVENTS events each (at least one range)."""
    cum = np.cumsum(counts)
    total = int(cum[-1]) if len(cum) else 0
    cuts = np.searchsorted(cum, np.arange(CHUNK_EVENTS, total, CHUNK_EVENTS), side="right")
    bounds = [0, *sorted({int(c) for c in cuts} - {0, len(counts)}), len(counts)]
    return list(itertools.pairwise(bounds))


def _events(acc: Accounts, act: MonthActivity, counts: np.ndarray, lo: int, hi: int,
            rng: np.random.Generator) -> pl.DataFrame:
    """The events of accounts [lo, hi), ordered by account and, within an account, by time.

    Account order keeps a month file cheap to write and compact (account ids run-length
    encode); a global time sort would scramble them.
    """
    owner = np.repeat(np.arange(lo, hi), counts[lo:hi])
    t = len(owner)
    # Users: skewed (u^1.5) towards the first, i.e. admin and power, users of the active set.
    u = rng.random(t, dtype=np.float32)
    user_idx = acc.user_start[owner] + (act.n_active[owner] * (u * np.sqrt(u))).astype(np.int64)
    # Days: B2B usage happens on workdays; 80% of weekend draws are re-drawn once.
    # Weekday = (weekday of the first day + day) looked up in a table: no int64 modulo.
    first_day = act.lo.astype(np.int64)[owner]  # days since 1970-01-01 (a Thursday)
    first_weekday = ((act.lo.astype(np.int64) + 3) % 7).astype(np.int8)[owner]
    span = act.days[owner]
    day = (rng.random(t, dtype=np.float32) * span).astype(np.int64)
    redraw = WEEKEND[first_weekday + day] & (rng.random(t, dtype=np.float32) < 0.8)
    day[redraw] = (rng.random(int(redraw.sum()), dtype=np.float32) * span[redraw]).astype(np.int64)
    seconds = np.clip(rng.normal(11.5 * 3600, 3 * 3600, t), 0, 86_399).astype(np.int64)
    # Sorting (account offset, second of month) orders time within each account and leaves
    # the accounts in place; the other columns are drawn independently of time, so they
    # need no reordering.
    block = (owner - lo) * (32 * 86_400)
    key = block + day * 86_400 + seconds
    key.sort()
    epoch_seconds = first_day * 86_400 + (key - block)

    u = rng.random(t, dtype=np.float32)
    event_type = np.zeros(t, np.int8)
    cuts = act.type_cuts.astype(np.float32)
    for k in range(cuts.shape[1]):
        event_type += u > cuts[owner, k]
    u = rng.random(t, dtype=np.float32)
    feature = (u * np.sqrt(u) * act.features[owner]).astype(np.int64)

    frame = pl.DataFrame({"user_idx": user_idx}).select(
        acc.ids.gather(owner).alias("account_id"),
        user_id_expr(acc.total_users).alias("user_id"),
        pl.Series("event_time", (epoch_seconds * 1_000_000).view("datetime64[us]")),
        pl.Series("event_type", list(w.EVENT_TYPES)).gather(event_type),
        pl.when(pl.Series(event_type == FEATURE_USE))
        .then(pl.Series(list(w.FEATURES)).gather(feature))
        .otherwise(None).alias("feature"),
    )
    return frame
