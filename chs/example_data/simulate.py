"""The hidden truth behind the exports: latent health, churn, seat and add-on changes.

Each account has a latent health h (a standard-normal-ish number) that follows a
mean-reverting random walk from month to month, with occasional shocks (a champion
leaves, an outage; or a successful project). Every export is a noisy view of h:
usage, tickets, NPS, CSAT and payments are drawn from it month by month. Churn is a
monthly hazard that rises steeply as h falls, peaks at the contract anniversary (annual
contracts: customers leave at renewal more than mid-term) and is lower for integrated,
long-standing and enterprise customers. A health score computed from the exports as of
some date should therefore rank next quarter's churners low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.accounts import Accounts
from chs.example_data.timeline import (
    DAY,
    NAT,
    STREAM_SIM,
    Timeline,
    anniversary,
    month_of_year,
    rng_for,
    sigmoid,
    uniform_days,
)

PHI = 0.8  # monthly persistence of health deviations: a bad quarter is visible for months
SIGMA = 0.45  # monthly innovation; stationary sd = SIGMA / sqrt(1 - PHI**2) = 0.75
BASE_HAZARD = 0.014  # monthly churn probability at h = 0 before multipliers
HAZARD_SLOPE = 1.8  # hazard x exp(-1.8 h): h = -1.5 is ~15x as risky as h = 0
SEGMENT_HAZARD = np.array([1.3, 0.9, 0.5])  # smb churns more than enterprise
RENEWAL_HAZARD, MIDTERM_HAZARD = 3.5, 0.55  # most churn happens at the contract anniversary


@dataclass(frozen=True)
class Trajectory:
    """Monthly state per account: matrices are (accounts, months)."""

    health: np.ndarray  # float32 latent health
    seats: np.ndarray  # int32 seats at the end of the month
    mrr: np.ndarray  # float32 MRR at the end of the month (plan x seats + add-ons)
    churn_date: np.ndarray  # datetime64[D]; NaT while still a customer at `end`
    churn_month: np.ndarray  # month index of churn, -1 for none
    bookings: pl.DataFrame  # account, booked_at, addon (code), quantity, monthly_amount

    def last_month(self, months: int) -> np.ndarray:
        """The month whose state the CRM export shows: the churn month or the last one."""
        return np.where(self.churn_month >= 0, self.churn_month, months - 1)


def alive_range(acc: Accounts, traj: Trajectory, tl: Timeline, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per account, the first day it is a customer in month m and the number of such days.

    Activity exists from ``customer_since`` and stops strictly before the churn date.
    """
    lo = np.maximum(tl.starts[m], acc.since)
    hi = np.where(np.isnat(traj.churn_date), tl.stops[m], np.minimum(tl.stops[m], traj.churn_date))
    days = np.maximum((hi - lo) // DAY, 0).astype(np.int64)
    return lo, days


def fade(traj: Trajectory, m: int, steps: tuple[float, float, float]) -> np.ndarray:
    """Multiplier for the churn month and the two before it (a customer who decided to
    leave stops investing before the contract ends); 1 elsewhere."""
    ahead = traj.churn_month.astype(np.int64) - m
    out = np.ones(len(ahead))
    for k, value in enumerate(steps):
        out[ahead == k] = value
    return out


def simulate(acc: Accounts, tl: Timeline, seed: int) -> Trajectory:
    n, months = acc.n, tl.months
    health = np.empty((n, months), np.float32)
    seats_t = np.empty((n, months), np.int32)
    mrr_t = np.empty((n, months), np.float32)
    churn_date = np.full(n, NAT)
    churn_month = np.full(n, -1, np.int16)

    r0 = rng_for(seed, STREAM_SIM, 10_000)
    z = r0.normal(0.0, SIGMA / np.sqrt(1 - PHI**2), n)
    # Add-ons held when the window opens: richer plans hold more.
    held_rate = (0.3 + 0.4 * acc.plan)[:, None] * w.ADDON_WEIGHT[None, :]
    held = np.minimum(r0.poisson(held_rate), 1).astype(np.int16)
    seats = acc.seats.astype(np.int64).copy()
    addon_price = np.round(w.ADDON_PRICE[None, :] * acc.size_factor[:, None])
    plan_price = w.PLAN_PRICE[acc.plan]
    since_month = acc.since.astype("datetime64[M]")
    since_year = acc.since.astype("datetime64[Y]").astype(np.int64)
    since_moy = month_of_year(acc.since)
    bookings: list[pl.DataFrame] = []

    for m in range(months):
        r = rng_for(seed, STREAM_SIM, m)
        shocks = -1.6 * (r.random(n) < 0.025) + 0.8 * (r.random(n) < 0.02)
        z = PHI * z + SIGMA * r.standard_normal(n) + shocks
        h = acc.mu + z
        start, stop = tl.starts[m], tl.stops[m]
        alive = (churn_month < 0) & (acc.since < stop)
        started = acc.since < start
        tenure = (start - acc.since) // DAY

        month = start.astype("datetime64[M]")
        renewal = started & (since_moy == month_of_year(np.array([start]))[0]) & (since_month < month)
        hazard = (
            BASE_HAZARD * np.exp(-HAZARD_SLOPE * h) * SEGMENT_HAZARD[acc.segment]
            * np.where(acc.has_integration, 0.7, 1.0)
            * np.where(tenure < 180, 1.6, np.where(tenure > 1095, 0.75, 1.0))
            * np.where(renewal, RENEWAL_HAZARD, MIDTERM_HAZARD)
        )
        churn = alive & started & (r.random(n) < np.minimum(hazard, 0.5))
        year = start.astype("datetime64[Y]").astype(np.int64)
        on_anniversary = anniversary(acc.since, np.maximum(year - since_year, 0))
        date = np.where(renewal, on_anniversary, uniform_days(r, np.full(n, start), np.full(n, stop)))
        churn &= date < stop  # an anniversary after `end` is not a churn (yet)
        churn_date[churn] = date[churn]
        churn_month[churn] = m

        # Volume changes among accounts that stay: healthy ones expand, unhealthy ones shrink.
        stay = alive & ~churn
        lo = np.maximum(start, acc.since)
        when = uniform_days(r, lo, np.full(n, stop))
        up = stay & (r.random(n) < 0.035 * sigmoid(2.5 * (h - 0.7)))
        down = stay & ~up & (seats > 1) & (r.random(n) < 0.04 * sigmoid(-2.5 * (h + 0.4)))
        delta = np.where(up, np.ceil(seats * r.uniform(0.05, 0.25, n)), 0).astype(np.int64)
        cut = np.minimum(np.ceil(seats * r.uniform(0.05, 0.3, n)), seats - 1).astype(np.int64)
        delta = np.where(down, -cut, delta)
        seats = seats + delta
        seat_rows = np.flatnonzero(delta != 0)
        bookings.append(_bookings(seat_rows, when, w.SEAT_ADDON, delta[seat_rows],
                                  delta[seat_rows] * plan_price[seat_rows]))

        book = stay & (r.random(n) < 0.03 * sigmoid(2.0 * (h - 0.4)))
        kind = r.choice(len(w.ADDONS), size=n, p=w.ADDON_WEIGHT)
        rows = np.flatnonzero(book)
        held[rows, kind[rows]] += 1
        bookings.append(_bookings(rows, when, kind[rows], np.ones(len(rows), np.int64),
                                  addon_price[rows, kind[rows]]))
        cancel = stay & ~book & (held.sum(axis=1) > 0) & (r.random(n) < 0.05 * sigmoid(-2.0 * (h + 0.2)))
        rows = np.flatnonzero(cancel)
        # Cancel one of the add-ons the account actually holds, chosen at random.
        kind = np.argmax((held[rows] > 0) * r.random((len(rows), held.shape[1])), axis=1)
        held[rows, kind] -= 1
        bookings.append(_bookings(rows, when, kind, -np.ones(len(rows), np.int64),
                                  -addon_price[rows, kind]))

        health[:, m] = h
        seats_t[:, m] = seats
        mrr_t[:, m] = plan_price * seats + (held * addon_price).sum(axis=1)

    return Trajectory(health=health, seats=seats_t, mrr=mrr_t, churn_date=churn_date,
                      churn_month=churn_month, bookings=pl.concat(bookings))


def _bookings(rows: np.ndarray, when: np.ndarray, addon: np.ndarray | int, quantity: np.ndarray,
              amount: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({
        "account": rows.astype(np.int64),
        "booked_at": when[rows],
        "addon": np.broadcast_to(np.asarray(addon, np.int64), rows.shape).copy(),
        "quantity": quantity.astype(np.int64),
        "monthly_amount": np.round(amount.astype(np.float64), 2),
    })
