"""Monthly invoices with payments, and add-on bookings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from chs.example_data import words as w
from chs.example_data.accounts import Accounts
from chs.example_data.simulate import Trajectory
from chs.example_data.timeline import DAY, NAT, STREAM_INVOICES, Timeline, rng_for, sigmoid
from chs.example_data.writers import CsvAppender, ParquetAppender


def write_invoices(acc: Accounts, traj: Trajectory, tl: Timeline, seed: int, path: Path) -> int:
    """One invoice per account and month on its billing day (the signing day, at most the 28th)."""
    since_day = (acc.since - acc.since.astype("datetime64[M]").astype("datetime64[D]")) // DAY
    billing_offset = np.minimum(since_day, 27) * DAY
    with ParquetAppender(path, dictionary=("account_id",)) as out:
        for m in range(tl.months):
            rng = rng_for(seed, STREAM_INVOICES, m)
            issued = tl.starts[m] + billing_offset
            churned_before = ~np.isnat(traj.churn_date) & (traj.churn_date <= issued)
            rows = np.flatnonzero((issued >= acc.since) & (issued < tl.stops[m]) & ~churned_before)
            out.write(_invoices(acc, traj, tl, rng, m, rows, issued[rows], out.rows))
    return out.rows


def _invoices(acc: Accounts, traj: Trajectory, tl: Timeline, rng: np.random.Generator, m: int,
              rows: np.ndarray, issued: np.ndarray, first: int) -> pl.DataFrame:
    t = len(rows)
    h = traj.health[rows, m].astype(np.float64)
    terms = acc.terms_days[rows].astype(np.int64)
    due = issued + terms * DAY
    # Late payment: unhealthy customers and habitual slow payers; the habit is noise that
    # a score has to live with.
    late = rng.random(t) < sigmoid(-2.6 - 1.4 * h + 1.6 * acc.slow_payer[rows])
    delay = np.ceil(np.exp(rng.normal(np.log(12), 0.7, t))).astype(np.int64)
    early = (rng.random(t) * terms).astype(np.int64) + 1
    paid = np.where(late, due + delay * DAY, issued + early * DAY)
    # Unpaid: rare for healthy customers, common for the last bills before a churn.
    churned = ~np.isnat(traj.churn_date[rows])
    churn = np.where(churned, traj.churn_date[rows], tl.end)  # placeholder avoids NaT arithmetic
    near_churn = churned & ((churn - due) // DAY <= 60)
    unpaid = (rng.random(t) < sigmoid(-4.8 - 1.8 * h)) | (near_churn & (rng.random(t) < 0.5))
    paid = np.where(unpaid | (paid > tl.end), NAT, paid)  # not paid as of the export date
    invoice_id = pl.concat_str([pl.lit("INV-"), pl.int_range(first + 1, first + t + 1).cast(pl.String).str.zfill(8)])
    return pl.DataFrame({
        "account_id": acc.ids.gather(rows),
        "issued_date": issued,
        "due_date": due,
        "amount": np.round(traj.mrr[rows, m].astype(np.float64), 2),
        "paid_date": paid,
    }).sort("issued_date", maintain_order=True).select(invoice_id.alias("invoice_id"), pl.all())


def write_addons(acc: Accounts, traj: Trajectory, path: Path) -> int:
    """Add-on and seat bookings; a negative quantity/amount is a cancellation or downgrade."""
    b = traj.bookings.sort(["booked_at", "account"])
    frame = pl.DataFrame({
        "booking_id": pl.select(
            pl.concat_str([pl.lit("B-"), pl.int_range(1, b.height + 1).cast(pl.String).str.zfill(7)])
        ).to_series(),
        "account_id": acc.ids.gather(b["account"].to_numpy()),
        "booked_at": b["booked_at"],
        "addon": pl.Series(list(w.ADDONS)).gather(b["addon"].to_numpy()),
        "quantity": b["quantity"],
        "monthly_amount": b["monthly_amount"],
    })
    with CsvAppender(path) as out:
        out.write(frame)
    return out.rows
