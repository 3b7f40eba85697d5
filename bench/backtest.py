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
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.PIPE, text=True)
        # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would be the max of all children).
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{proc.stderr.read()[-2000:] if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


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
    metrics.deciles(score, y)
    t3 = time.perf_counter()
    print(f"metric stage on {snapshots} x {accounts:,} = {n:,} pairs: AUC {t1 - t0:.2f} s, "
          f"200-replicate account bootstrap {t2 - t1:.2f} s, lift+deciles {t3 - t2:.2f} s")


def fake_history(work: Path, snapshots: int) -> None:
    """A history database of `snapshots` weekly snapshots of every account, built in SQL (scores
    that drift and dip before an account's churn, so the metrics have signal), to time the
    backtest over *stored* snapshots without hours of scoring first."""
    import duckdb

    from chs.config import load_config
    from chs.history import ensure_schema
    from chs.tree import flatten
    loaded = load_config(work / "chs.yaml")
    nodes = flatten(loaded.config.score.tree, loaded.config.score.missing)
    db = work / "history.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    ensure_schema(con, nodes)
    cols = [f'"score_{n.path.replace(".", "_")}"' for n in nodes if n.path]
    node_values = ", ".join(f"least(100, greatest(0, s.score + 20 * (random() - 0.5))) AS {c}" for c in cols)
    con.execute(f"""
        CREATE TEMP TABLE acc AS SELECT account_id, TRY_CAST(churned_at AS DATE) AS churned_at
        FROM read_csv('{work}/data/accounts.csv');
        INSERT INTO scores BY NAME
        WITH d AS (SELECT CAST(DATE '2026-08-21' - CAST(7 * i AS INTEGER) AS DATE) AS as_of FROM range({snapshots}) t(i)),
        s AS (
          SELECT d.as_of, a.account_id,
                 least(100, greatest(0, 70 + 12 * (random() - 0.5) * 2
                   - CASE WHEN a.churned_at BETWEEN d.as_of AND d.as_of + 120 THEN 15 ELSE 0 END)) AS score
          FROM d CROSS JOIN acc AS a WHERE a.churned_at IS NULL OR a.churned_at > d.as_of)
        SELECT s.as_of, s.account_id, s.score,
               CASE WHEN s.score >= 75 THEN 'green' WHEN s.score >= 50 THEN 'yellow' ELSE 'red' END AS band,
               {node_values}
        FROM s""")
    con.executemany("INSERT INTO snapshot_nodes (as_of, node, node_order, label) "
                    "SELECT DISTINCT as_of, ?, ?, ? FROM scores",
                    [(n.path, i, n.label) for i, n in enumerate(nodes)])
    con.close()
    text = (work / "chs.yaml").read_text().replace("database: chs.duckdb", "database: history.duckdb")
    (work / "history.yaml").write_text(text)


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
    fake_history(work, 52)
    secs, rss = run(CHS + ["--config", "history.yaml", "backtest", "--json"], work)
    print(f"chs backtest over stored history: 52 weekly snapshots x {args.accounts:,} accounts, 30d+90d, "
          f"200 bootstrap replicates: {secs:.1f} s, peak {rss:.0f} MiB", flush=True)
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
    # Calibrate: half the snapshots to train, half to test; the test period starts 91 days
    # after the last training snapshot, so no training label saw it.
    half = args.snapshots // 2
    test_from = end - dt.timedelta(days=7 * (half - 1))
    train_to = test_from - dt.timedelta(days=91)
    train_to -= dt.timedelta(days=(test_from - train_to).days % 7)  # stay on the weekly grid
    train_from = train_to - dt.timedelta(days=7 * (half - 1))
    secs, rss = run(CHS + ["calibrate", "--train-from", train_from.isoformat(), "--train-to", train_to.isoformat(),
                           "--test-from", test_from.isoformat(), "--test-to", end.isoformat(), "--horizon", "90d",
                           "--json"], work)
    print(f"chs calibrate: {half} training + {half} test weekly snapshots ({train_from}..{train_to}, "
          f"{test_from}..{end}) x {args.accounts:,} accounts: {secs:.1f} s, peak {rss:.0f} MiB", flush=True)

if __name__ == "__main__":
    main()
