"""Calendar and randomness helpers shared by the generator stages.

Dates are numpy ``datetime64[D]`` arrays throughout so that every per-account date
computation is one vectorised expression.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

DAY = np.timedelta64(1, "D")
NAT = np.datetime64("NaT", "D")

# Independent random streams per stage: changing how one stage draws numbers must not
# change what another stage generates, and a stage's month m is reproducible on its own.
STREAM_ACCOUNTS, STREAM_SIM, STREAM_USAGE, STREAM_TICKETS, STREAM_NPS, STREAM_INVOICES = range(6)


def rng_for(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """A generator seeded by (seed, stream, keys): deterministic and independent per key."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, *keys]))


@dataclass(frozen=True)
class Timeline:
    """The calendar months the company is simulated over; the last one ends at ``end``."""

    end: np.datetime64  # last day with data, inclusive
    starts: np.ndarray  # datetime64[D]: first day of each month
    stops: np.ndarray  # datetime64[D]: exclusive end of each month, capped at end + 1 day

    @property
    def months(self) -> int:
        return len(self.starts)

    def label(self, m: int) -> str:
        return str(self.starts[m].astype("datetime64[M]"))

    def full_days(self, m: int) -> int:
        """Calendar days of month m (not capped), the unit for per-month rates."""
        month = self.starts[m].astype("datetime64[M]")
        return int(((month + 1).astype("datetime64[D]") - self.starts[m]) // DAY)


def make_timeline(end: dt.date, months: int) -> Timeline:
    end64 = np.datetime64(end, "D")
    last = end64.astype("datetime64[M]")
    month_starts = np.arange(last - (months - 1), last + 1)
    starts = month_starts.astype("datetime64[D]")
    stops = np.minimum((month_starts + 1).astype("datetime64[D]"), end64 + DAY)
    return Timeline(end=end64, starts=starts, stops=stops)


def month_of_year(d: np.ndarray) -> np.ndarray:
    """0..11 for each date."""
    return d.astype("datetime64[M]").astype(np.int64) % 12


def anniversary(since: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``since`` + ``years`` years, day clamped to the month's end (DuckDB's DATE + INTERVAL)."""
    since_month = since.astype("datetime64[M]")
    day = (since - since_month.astype("datetime64[D]")) // DAY
    target = since_month + 12 * np.asarray(years, dtype=np.int64)
    month_days = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")) // DAY
    return target.astype("datetime64[D]") + np.minimum(day, month_days - 1)


def next_anniversary(since: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The first contract anniversary strictly after ``after`` (contracts renew yearly).

    Same rule as the configs' ``customer_since + (full years + 1) years``.
    """
    years = after.astype("datetime64[Y]").astype(np.int64) - since.astype("datetime64[Y]").astype(np.int64)
    years = np.maximum(years, 0)
    candidate = anniversary(since, years)
    years = np.where(candidate <= after, years + 1, years)
    return anniversary(since, np.maximum(years, 1))


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A random day in [lo, hi) per element (hi > lo assumed)."""
    span = ((hi - lo) // DAY).astype(np.int64)
    return lo + (rng.random(len(span)) * span).astype(np.int64) * DAY


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
