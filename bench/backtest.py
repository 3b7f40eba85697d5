"""`make bench-backtest`: run times and peak memory of `chs backtest` and `chs calibrate`.

Data: the example company generator at N accounts (default 100k, ~7 usage events per
account and month), the example scorecard with its churn outcomes. Each command runs in its
own process (peak RSS = ru_maxrss of the child). Also times the metric stage alone on
52 weekly snapshots x N accounts of synthetic pairs (the part that does not depend on how
fast scoring is). Prints figures; asserts nothing about wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHS = [sys.executable, "-m", "chs"]


def run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def prepare(work: Path, accounts: int) -> None:
    data = work / "data"
    if not (data / "accounts.csv").exists():
        print(f"generating {accounts} accounts into {data} ...", flush=True)
        subprocess.run([sys.executable, "-m", "chs.example_data", str(data), "--accounts", str(accounts),
                        "--events-per-account-month", "7.2"], check=True, capture_output=True)
    shutil.copy(ROOT / "chs" / "resources" / "configs" / "example.yaml", work / "chs.yaml")


def metric_stage(accounts: int, snapshots: int) -> None:
    import numpy as np

    from chs.backtest import metrics
    rng = np.random.default_rng(1)
    n = accounts * snapshots
    acc = np.repeat(np.arange(accounts), snapshots)
    score = np.clip(rng.normal(65, 15, n), 0, 100)
    y = (rng.random(n) < 0.06 * (1.5 - score / 100)).astype(np.int64)
    risk = 100 - score
    t0 = time.perf_counter()
    metrics.auc(risk, y)
    t1 = time.perf_counter()
    metrics.auc_interval(risk, y, acc, reps=200)
    t2 = time.perf_counter()
    metrics.top_share(risk, y, 0.1)
    metrics.deciles(score, y, np.arange(n))
    t3 = time.perf_counter()
    print(f"metric stage on {snapshots} x {accounts:,} = {n:,} pairs: AUC {t1 - t0:.2f} s, "
          f"200-replicate account bootstrap {t2 - t1:.2f} s, lift+deciles {t3 - t2:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=26)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "backtest")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    metric_stage(args.accounts, 52)
    prepare(work, args.accounts)
    # 26 weekly snapshots ending 2026-08-21 (90-day outcomes known: the data ends 2026-11-20).
    first = "2026-02-27" if args.snapshots == 26 else None
    import datetime as dt
    end = dt.date(2026, 8, 21)
    start = (end - dt.timedelta(days=7 * (args.snapshots - 1))).isoformat() if first is None else first
    env_note = f"{os.cpu_count()} cores"
    secs, rss = run(CHS + ["backtest", "--rescore", "--from", start, "--to", end.isoformat(), "--every", "7d",
                           "--json"], work)
    print(f"chs backtest --rescore: {args.snapshots} weekly snapshots x {args.accounts:,} accounts, 30d+90d: "
          f"{secs:.1f} s, peak {rss:.0f} MiB ({env_note})", flush=True)
    half = (dt.date.fromisoformat(start) + dt.timedelta(days=7 * (args.snapshots // 2 - 1))).isoformat()
    test_from = (dt.date.fromisoformat(half) + dt.timedelta(days=91)).isoformat()
    secs, rss = run(CHS + ["calibrate", "--train-from", start, "--train-to", half, "--test-from", test_from,
                           "--test-to", end.isoformat(), "--horizon", "90d", "--json"], work)
    print(f"chs calibrate: train {start}..{half}, test {test_from}..{end} (weekly) x {args.accounts:,} accounts: "
          f"{secs:.1f} s, peak {rss:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
