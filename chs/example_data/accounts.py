"""Static account attributes (as signed) and the user directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.timeline import DAY, STREAM_ACCOUNTS, Timeline, rng_for
from chs.example_data.writers import CsvAppender

USERS_CHUNK = 100_000  # accounts per users.csv chunk: bounds memory at a million accounts


@dataclass(frozen=True)
class Accounts:
    """One entry per account; arrays are index-aligned (account i is row i)."""

    ids: pl.Series  # "ACME-00042"
    names: pl.Series
    csm: pl.Series
    segment: np.ndarray  # code into words.SEGMENTS
    plan: np.ndarray  # code into words.PLANS
    industry: np.ndarray
    channel: np.ndarray
    seats: np.ndarray  # seats at signing / at the start of the simulated window
    since: np.ndarray  # datetime64[D] customer_since
    mu: np.ndarray  # long-run latent health the account reverts to
    has_integration: np.ndarray  # connected the API/CRM integration: stickier, generates api events
    slow_payer: np.ndarray  # pays late out of habit, not because of health: noise in payment signals
    terms_days: np.ndarray  # payment terms
    n_users: np.ndarray  # users provisioned
    user_start: np.ndarray  # index of the account's first user in the user directory

    @property
    def n(self) -> int:
        return len(self.segment)

    @property
    def total_users(self) -> int:
        return int(self.user_start[-1] + self.n_users[-1]) if self.n else 0

    @property
    def size_factor(self) -> np.ndarray:
        """Scales add-on prices: a 200-seat customer pays more for 'Premium Support'."""
        return np.clip(self.seats / 20.0, 0.5, 10.0)


def make_accounts(n: int, seed: int, tl: Timeline) -> Accounts:
    rng = rng_for(seed, STREAM_ACCOUNTS)
    segment = rng.choice(3, size=n, p=w.SEGMENT_SHARE).astype(np.int8)
    # Seats: log-normal per segment, medians 7 / 45 / 260.
    median = np.array([7.0, 45.0, 260.0])[segment]
    seats = np.clip(np.round(median * np.exp(rng.normal(0, 0.55, n))), 1, 3000).astype(np.int32)
    plan_u = rng.random(n)
    plan = (plan_u[:, None] > np.cumsum(w.PLAN_MIX, axis=1)[segment][:, :2]).sum(axis=1).astype(np.int8)
    industry = rng.choice(len(w.INDUSTRIES), size=n, p=w.INDUSTRY_SHARE).astype(np.int8)
    channel = rng.choice(3, size=n, p=w.CHANNEL_SHARE).astype(np.int8)

    # Most accounts signed before the window (tenure median ~2.5 years, up to 12);
    # a fifth signed during it, so onboarding accounts exist at every as-of date.
    window_days = int((tl.end - tl.starts[0]) // DAY) + 1
    new = rng.random(n) < 0.2
    old_tenure = np.clip(np.exp(rng.normal(np.log(900), 0.8, n)), 1, 4380).astype(np.int64)
    new_offset = (rng.random(n) * window_days).astype(np.int64)
    since = np.where(new, tl.starts[0] + new_offset * DAY, tl.starts[0] - old_tenure * DAY)

    mu = rng.normal(0.35, 0.65, n) + np.array([0.0, 0.05, 0.15])[segment] + 0.1 * (plan == 2)
    has_integration = rng.random(n) < np.array([0.2, 0.55, 0.8])[plan]
    slow_payer = rng.random(n) < 0.12
    terms_days = np.array([14, 30, 45], dtype=np.int16)[segment]
    n_users = np.maximum(1, np.round(seats * rng.uniform(0.7, 1.0, n))).astype(np.int64)
    user_start = np.concatenate([[0], np.cumsum(n_users)[:-1]]).astype(np.int64)

    width = max(5, len(str(n)))
    ids = pl.select(
        pl.concat_str([pl.lit("ACME-"), pl.int_range(1, n + 1, eager=False).cast(pl.String).str.zfill(width)])
    ).to_series().rename("account_id")
    return Accounts(
        ids=ids, names=_company_names(rng, industry), csm=_csm_emails(rng, n), segment=segment,
        plan=plan, industry=industry, channel=channel, seats=seats, since=since, mu=mu,
        has_integration=has_integration, slow_payer=slow_payer, terms_days=terms_days,
        n_users=n_users, user_start=user_start,
    )


def _company_names(rng: np.random.Generator, industry: np.ndarray) -> pl.Series:
    """'<Prefix|Surname> <industry noun> <legal form>', e.g. 'Rhein Logistik GmbH'."""
    n = len(industry)
    nouns = [noun for group in w.INDUSTRY_NOUNS for noun in group]
    lengths = np.array([len(g) for g in w.INDUSTRY_NOUNS])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    noun_idx = offsets[industry] + (rng.random(n) * lengths[industry]).astype(np.int64)
    first_words = list(w.PREFIXES) + list(w.SURNAMES)
    # A third are named after a founder; the rest after a place or an invented brand.
    surname = rng.random(n) < 0.35
    first_idx = np.where(
        surname,
        len(w.PREFIXES) + rng.integers(0, len(w.SURNAMES), n),
        rng.integers(0, len(w.PREFIXES), n),
    )
    legal_idx = rng.integers(0, len(w.LEGAL_FORMS), n)
    frame = pl.DataFrame({
        "a": pl.Series(first_words).gather(first_idx),
        "b": pl.Series(nouns).gather(noun_idx),
        "c": pl.Series(list(w.LEGAL_FORMS)).gather(legal_idx),
    })
    return frame.select(pl.concat_str(["a", "b", "c"], separator=" ").alias("account_name")).to_series()


def _csm_emails(rng: np.random.Generator, n: int) -> pl.Series:
    """About 15 CSMs per 1000 accounts, each owning a random book of accounts."""
    n_csm = max(2, int(np.ceil(n * 0.015)))
    combos = len(w.CSM_FIRST) * len(w.CSM_LAST)
    pick = rng.permutation(combos)[np.arange(n_csm) % combos]
    serial = np.arange(n_csm) // combos  # only needed beyond 840 CSMs: anna.mueller2@...
    frame = pl.DataFrame({
        "first": pl.Series(list(w.CSM_FIRST)).gather(pick % len(w.CSM_FIRST)),
        "last": pl.Series(list(w.CSM_LAST)).gather(pick // len(w.CSM_FIRST)),
        "serial": pl.Series(serial).cast(pl.String).replace("0", ""),
    })
    emails = frame.select(
        pl.concat_str(["first", pl.lit("."), "last", "serial", pl.lit("@" + w.COMPANY_DOMAIN)]).alias("e")
    ).to_series()
    return emails.gather(rng.integers(0, n_csm, n)).rename("csm_email")


def user_id_expr(total: int) -> pl.Expr:
    """Expression formatting global user indexes (column 'user_idx') as 'u0001234'."""
    width = max(6, len(str(total)))
    return pl.concat_str([pl.lit("u"), (pl.col("user_idx") + 1).cast(pl.String).str.zfill(width)])


def write_users(acc: Accounts, path: Path) -> int:
    """users.csv: the first ~8% of an account's users are admins, the next ~30% power users.

    Usage generation relies on this order (earlier users are the more active ones).
    """
    with CsvAppender(path) as out:
        for lo in range(0, acc.n, USERS_CHUNK):
            hi = min(acc.n, lo + USERS_CHUNK)
            counts = acc.n_users[lo:hi]
            owner = np.repeat(np.arange(lo, hi), counts)
            first = acc.user_start[lo]
            user_idx = np.arange(first, first + counts.sum())
            position = user_idx - acc.user_start[owner]
            n_admin = np.maximum(1, np.round(0.08 * acc.n_users[owner]))
            n_power = np.round(0.30 * acc.n_users[owner])
            role = np.where(position < n_admin, 0, np.where(position < n_admin + n_power, 1, 2))
            frame = pl.DataFrame({"user_idx": user_idx}).select(
                user_id_expr(acc.total_users).alias("user_id"),
                acc.ids.gather(owner).alias("account_id"),
                pl.Series("role", list(w.ROLES)).gather(role),
            )
            out.write(frame)
        return out.rows
