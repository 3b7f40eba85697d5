"""Support tickets (a German Excel export) and NPS survey responses, month by month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.accounts import Accounts
from chs.example_data.simulate import Trajectory, alive_range, fade
from chs.example_data.timeline import (
    DAY,
    STREAM_NPS,
    STREAM_TICKETS,
    Timeline,
    month_of_year,
    rng_for,
)
from chs.example_data.writers import CsvAppender

# Share of urgent tickets per category at h = 0 (outages are urgent by nature).
URGENT = np.array([0.02, 0.08, 0.02, 0.45, 0.0, 0.02, 0.15])
# Median hours to resolve by priority (low, normal, high, urgent).
RESOLUTION_HOURS = np.array([48.0, 24.0, 10.0, 4.0])
# Status probabilities (open, pending, solved, closed) by ticket age at export time.
STATUS_BY_AGE = np.array([
    [0.40, 0.30, 0.30, 0.00],  # created in the last 7 days
    [0.05, 0.10, 0.60, 0.25],  # 8-21 days
    [0.00, 0.00, 0.10, 0.90],  # older
])
NPS_CAMPAIGN_MONTHS = (2, 8)  # relationship survey sent in March and September


def _weekday_days(rng: np.random.Generator, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Random dates in [lo, lo + span), with most weekend draws moved to a workday."""
    day = (rng.random(len(span)) * span).astype(np.int64)
    weekday = ((lo + day * DAY).astype(np.int64) + 3) % 7
    redraw = (weekday >= 5) & (rng.random(len(span)) < 0.85)
    day[redraw] = (rng.random(int(redraw.sum())) * span[redraw]).astype(np.int64)
    return lo + day * DAY


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (rows, k) weight matrix."""
    cuts = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return (rng.random(len(weights))[:, None] > cuts[:, :-1]).sum(axis=1)


def _labels(groups: tuple[tuple[str, ...], ...], group: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A random label from groups[group[i]] for every i, without a Python loop over rows."""
    flat = [label for g in groups for label in g]
    sizes = np.array([len(g) for g in groups])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return pl.Series(flat).gather(offsets[group] + (rng.random(len(group)) * sizes[group]).astype(np.int64))


def write_tickets(acc: Accounts, traj: Trajectory, tl: Timeline, seed: int, path: Path) -> int:
    first_id = 100_001
    with CsvAppender(path, german=True) as out:
        for m in range(tl.months):
            rng = rng_for(seed, STREAM_TICKETS, m)
            lo, days = alive_range(acc, traj, tl, m)
            h = traj.health[:, m].astype(np.float64)
            onboarding = (lo - acc.since) // DAY < 120
            # Unhealthy and onboarding customers call more; so do customers on their way out.
            rate = ((0.12 + 0.05 * np.sqrt(traj.seats[:, m])) * np.exp(-0.45 * h)
                    * np.where(onboarding, 1.4, 1.0) * fade(traj, m, (1.3, 1.3, 1.15)))
            counts = rng.poisson(rate * days / tl.full_days(m))
            owner = np.repeat(np.arange(acc.n), counts)
            out.write(_tickets(acc, tl, rng, owner, lo, days, h, onboarding, first_id + out.rows))
    return out.rows


def _tickets(acc: Accounts, tl: Timeline, rng: np.random.Generator, owner: np.ndarray, lo: np.ndarray,
             days: np.ndarray, h: np.ndarray, onboarding: np.ndarray, first_id: int) -> pl.DataFrame:
    t = len(owner)
    ho = h[owner]
    created = _weekday_days(rng, lo[owner], days[owner])
    weights = np.tile(w.TICKET_CATEGORY_WEIGHT, (t, 1))
    weights[:, w.ONBOARDING_CATEGORY] *= np.where(onboarding[owner], 4.0, 1.0)
    weights[:, w.COMPLAINT] *= np.exp(-1.1 * ho)
    weights[:, 1] *= np.exp(-0.3 * ho)
    category = _pick(rng, weights) if t else np.zeros(0, np.int64)

    p_urgent = np.clip(URGENT[category] * np.exp(-0.4 * ho), 0, 0.9)
    u = rng.random(t)
    priority = np.where(u < p_urgent, 3, np.where(u < p_urgent + 0.18, 2, np.where(u > 0.78, 0, 1)))

    age = (tl.end - created) // DAY
    age_class = np.where(age <= 7, 0, np.where(age <= 21, 1, 2))
    status = _pick(rng, STATUS_BY_AGE[age_class]) if t else np.zeros(0, np.int64)
    done = status >= 2
    hours = RESOLUTION_HOURS[priority] * np.exp(-0.25 * ho + rng.normal(0, 0.7, t))
    rated = done & (rng.random(t) < 0.35)
    csat = np.clip(np.round(3.9 + 0.9 * ho - 0.6 * (category == w.COMPLAINT) + rng.normal(0, 0.8, t)), 1, 5)

    frame = pl.DataFrame({
        "org_id": acc.ids.gather(owner),
        "created": created,
        "Priority": pl.Series(list(w.PRIORITIES)).gather(priority),
        "status": pl.Series(list(w.TICKET_STATUSES)).gather(status),
        "csat": pl.Series(np.where(rated, csat, np.nan)).fill_nan(None).cast(pl.Int64),
        "resolution_hours": pl.Series(np.where(done, np.round(hours, 1), np.nan)).fill_nan(None),
        "subject": _labels(w.TICKET_SUBJECTS, category, rng),
        "category": pl.Series(list(w.TICKET_CATEGORIES)).gather(category),
    }).sort("created", maintain_order=True)
    # Ticket numbers grow with creation date, as in a helpdesk.
    return frame.select(pl.int_range(first_id, first_id + t, dtype=pl.Int64).alias("Ticket-ID"), pl.all())


def write_nps(acc: Accounts, traj: Trajectory, tl: Timeline, seed: int, path: Path) -> int:
    with CsvAppender(path) as out:
        for m in range(tl.months):
            rng = rng_for(seed, STREAM_NPS, m)
            lo, days = alive_range(acc, traj, tl, m)
            h = traj.health[:, m].astype(np.float64)
            campaign = month_of_year(tl.starts[m : m + 1])[0] in NPS_CAMPAIGN_MONTHS
            # Bigger accounts have more people who answer; disengaged ones answer less.
            rate = ((0.35 if campaign else 0.03) * (1 + 0.3 * np.log1p(acc.n_users))
                    * (0.6 + 0.4 / (1 + np.exp(-h))))
            counts = rng.poisson(rate * days / tl.full_days(m))
            owner = np.repeat(np.arange(acc.n), counts)
            out.write(_responses(acc, rng, owner, lo, days, h, out.rows))
    return out.rows


def _responses(acc: Accounts, rng: np.random.Generator, owner: np.ndarray, lo: np.ndarray,
               days: np.ndarray, h: np.ndarray, first: int) -> pl.DataFrame:
    t = len(owner)
    score = np.clip(np.round(7.0 + 1.7 * h[owner] + rng.normal(0, 1.5, t)), 0, 10).astype(np.int64)
    group = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
    day = _weekday_days(rng, lo[owner], days[owner])
    seconds = rng.integers(6 * 3600, 20 * 3600, t) * np.timedelta64(1, "s")
    at = day.astype("datetime64[s]") + seconds
    frame = pl.DataFrame({
        "account_id": acc.ids.gather(owner),
        "responded_at": pl.Series(at.astype("datetime64[us]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": score,
        # Blank comments export as empty fields, not as "".
        "comment": _labels(w.NPS_COMMENTS, group, rng).replace("", None),
    }).sort("responded_at", maintain_order=True)
    response_id = pl.concat_str([pl.lit("R_"), pl.int_range(first + 1, first + t + 1).cast(pl.String).str.zfill(9)])
    return frame.select(response_id.alias("response_id"), pl.all())
