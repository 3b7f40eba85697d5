"""Orchestrates the generator: simulate once, then write each export."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

from chs.example_data.accounts import make_accounts, write_users
from chs.example_data.billing import write_addons, write_invoices
from chs.example_data.crm import write_accounts, write_churn
from chs.example_data.simulate import simulate
from chs.example_data.support import write_nps, write_tickets
from chs.example_data.timeline import make_timeline
from chs.example_data.usage import calibrate, write_usage

DEFAULT_END = dt.date(2026, 11, 20)
# ~120 events per active account and month: enough that active users, feature breadth and
# trends are measurable for small accounts too. Benchmarks lower it (1M accounts x 18
# months x 6 = ~100M events).
DEFAULT_EVENTS_PER_ACCOUNT_MONTH = 120.0
_USAGE_FILE = re.compile(r"usage-\d{4}-\d{2}\.parquet")


def generate(
    out_dir: Path,
    accounts: int = 500,
    seed: int = 7,
    end: dt.date = DEFAULT_END,
    months: int = 18,
    events_per_account_month: float = DEFAULT_EVENTS_PER_ACCOUNT_MONTH,
) -> dict[str, Any]:
    """Write the example company's exports into ``out_dir`` and return a summary.

    Same arguments, same bytes: every random draw comes from a stream seeded by
    (seed, stage, month). Data covers ``months`` calendar months ending on ``end``.
    The summary holds, per file (path relative to ``out_dir``), its size in bytes and
    row count, plus totals and the elapsed seconds.
    """
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    if events_per_account_month < 0:
        raise ValueError(f"events_per_account_month must not be negative, got {events_per_account_month}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    usage_dir = out_dir / "usage"
    usage_dir.mkdir(parents=True, exist_ok=True)

    tl = make_timeline(end, months)
    acc = make_accounts(accounts, seed, tl)
    traj = simulate(acc, tl, seed)
    scale = calibrate(acc, traj, tl, events_per_account_month)

    rows: dict[str, int] = {
        "accounts.csv": write_accounts(acc, traj, tl, out_dir / "accounts.csv"),
        "users.csv": write_users(acc, out_dir / "users.csv"),
    }
    rows.update(write_usage(acc, traj, tl, seed, scale, usage_dir))
    rows["tickets.csv"] = write_tickets(acc, traj, tl, seed, out_dir / "tickets.csv")
    rows["nps.csv"] = write_nps(acc, traj, tl, seed, out_dir / "nps.csv")
    rows["invoices.parquet"] = write_invoices(acc, traj, tl, seed, out_dir / "invoices.parquet")
    rows["addons.csv"] = write_addons(acc, traj, out_dir / "addons.csv")
    rows["churn.csv"] = write_churn(acc, traj, out_dir / "churn.csv")
    _remove_stale_usage(usage_dir, {name.split("/", 1)[1] for name in rows if name.startswith("usage/")})

    files = {name: {"bytes": (out_dir / name).stat().st_size, "rows": count} for name, count in rows.items()}
    return {
        "out_dir": str(out_dir),
        "accounts": accounts,
        "seed": seed,
        "start": str(tl.starts[0]),
        "end": end.isoformat(),
        "months": months,
        "events_per_account_month": events_per_account_month,
        "files": files,
        "totals": {
            "bytes": sum(f["bytes"] for f in files.values()),
            "usage_events": sum(c for name, c in rows.items() if name.startswith("usage/")),
            "churned_accounts": rows["churn.csv"],
        },
        "seconds": round(time.perf_counter() - started, 2),
    }


def _remove_stale_usage(folder: Path, keep: set[str]) -> None:
    """A glob over usage/ must see only this run's months: drop month files from an earlier
    run with a different period. Only files named like ours are touched."""
    for path in folder.iterdir():
        if _USAGE_FILE.fullmatch(path.name) and path.name not in keep:
            path.unlink()
