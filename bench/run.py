"""`make bench`: time and peak memory of `chs score` vs a hand-written DuckDB query, same files, same run.

Data: N accounts and M usage events generated with DuckDB (seeded), written as Parquet.
Each contender runs in its own process so peak RSS (ru_maxrss of the child) is its own.
Prints figures and ratios; asserts nothing about wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-20"

HAND_QUERY = """
SET TimeZone = 'UTC';
CREATE TEMP TABLE u AS
SELECT account_id,
  count(*) FILTER (WHERE event_time::DATE > DATE '{d}' - 30) AS events_30d,
  count(DISTINCT user_id) FILTER (WHERE event_time::DATE > DATE '{d}' - 30) AS active_users_30d,
  count(*) FILTER (WHERE event_time::DATE > DATE '{d}' - 60 AND event_time::DATE <= DATE '{d}' - 30) AS prev_30d,
  date_diff('day', max(event_time::DATE) FILTER (WHERE event_type = 'login'), DATE '{d}') AS days_since_login
FROM read_parquet('{root}/usage/*.parquet') WHERE event_time::DATE <= DATE '{d}' GROUP BY 1;
CREATE TEMP TABLE t AS
SELECT account_id,
  count(*) FILTER (WHERE priority = 'urgent' AND created_at::DATE > DATE '{d}' - 90) AS urgent,
  avg(csat) FILTER (WHERE created_at::DATE > DATE '{d}' - 180) AS csat
FROM read_parquet('{root}/tickets.parquet') WHERE created_at::DATE <= DATE '{d}' GROUP BY 1;
CREATE TEMP TABLE n AS
SELECT account_id, 100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) / count(*) AS nps
FROM read_parquet('{root}/nps.parquet')
WHERE responded_at::DATE <= DATE '{d}' AND responded_at::DATE > DATE '{d}' - 365 GROUP BY 1;
COPY (
  SELECT a.account_id, coalesce(u.events_30d, 0) AS events_30d, u.active_users_30d / nullif(a.seats, 0) AS seat_use,
    (u.events_30d - u.prev_30d)::DOUBLE / nullif(u.prev_30d, 0) AS usage_trend, u.days_since_login,
    coalesce(t.urgent, 0) AS urgent, t.csat, n.nps,
    percent_rank() OVER (PARTITION BY a.tier ORDER BY a.mrr) AS mrr_rank
  FROM read_parquet('{root}/accounts.parquet') a
  LEFT JOIN u USING (account_id) LEFT JOIN t USING (account_id) LEFT JOIN n USING (account_id)
) TO '{out}' (FORMAT parquet);
"""


def generate(root: Path, accounts: int, events: int) -> None:
    """Seeded synthetic exports; usage split into 10 Parquet files."""
    (root / "usage").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""COPY (SELECT printf('ACC-%07d', i) AS account_id, 'Account ' || i AS account_name,
        'csm' || (i % 50) || '@example.com' AS owner, ['smb','mid','ent'][1 + i % 3] AS tier,
        DATE '2022-01-01' + CAST(random() * 1400 AS INT) AS since, 1 + CAST(random() * 50 AS INT) AS seats,
        round(100 + random() * 5000, 2) AS mrr FROM range({accounts}) t(i)) TO '{root}/accounts.parquet' (FORMAT parquet)""")
    per_file = events // 10
    for f in range(10):
        con.execute(f"""COPY (SELECT printf('ACC-%07d', CAST(floor(pow(random(), 1.5) * {accounts}) AS BIGINT)) AS account_id,
            'u' || CAST(random() * 40 AS INT) AS user_id,
            TIMESTAMP '2025-11-20 00:00:00' + to_seconds(CAST(random() * 365 * 86400 AS BIGINT)) AS event_time,
            CASE WHEN random() < 0.3 THEN 'login' ELSE 'feature_use' END AS event_type
            FROM range({per_file})) TO '{root}/usage/part-{f}.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT printf('ACC-%07d', CAST(random() * {accounts} AS BIGINT)) AS account_id,
        TIMESTAMP '2025-11-20' + to_seconds(CAST(random() * 365 * 86400 AS BIGINT)) AS created_at,
        CASE WHEN random() < 0.1 THEN 'urgent' ELSE 'normal' END AS priority, 1 + CAST(random() * 4 AS INT) AS csat
        FROM range({accounts * 3})) TO '{root}/tickets.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT printf('ACC-%07d', CAST(random() * {accounts} AS BIGINT)) AS account_id,
        TIMESTAMP '2025-11-20' + to_seconds(CAST(random() * 365 * 86400 AS BIGINT)) AS responded_at,
        CAST(random() * 10.99 AS INT) AS score FROM range({accounts})) TO '{root}/nps.parquet' (FORMAT parquet)""")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.read() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = args.dir.resolve()
    data = root / "data"
    if not (data / "accounts.parquet").exists() or (root / ".size").read_text() != f"{args.accounts} {args.events}":
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        generate(data, args.accounts, args.events)
        (root / ".size").write_text(f"{args.accounts} {args.events}")
        print(f"generated {args.accounts:,} accounts / {args.events:,} events in {time.perf_counter() - t0:.1f}s")
    shutil.copy(HERE / "bench.yaml", root / "chs.yaml")
    sql_file = root / "hand.sql"
    sql_file.write_text(HAND_QUERY.format(d=AS_OF, root=data, out=root / "hand.parquet"))
    chs = [sys.executable, "-m", "chs", "--quiet", "--config", str(root / "chs.yaml"), "score", "--as-of", AS_OF]
    hand = [sys.executable, "-c", f"import duckdb; duckdb.connect().execute(open({str(sql_file)!r}).read())"]
    results: dict[str, list[tuple[float, float]]] = {"chs score": [], "hand-written DuckDB": []}
    for _ in range(args.repeat):
        results["hand-written DuckDB"].append(timed(hand, root))
        results["chs score"].append(timed(chs, root))
    print(f"{'contender':<22}{'median s':>10}{'peak MiB':>10}")
    med = {}
    for name, runs in results.items():
        walls = sorted(r[0] for r in runs)
        med[name] = (walls[len(walls) // 2], max(r[1] for r in runs))
        print(f"{name:<22}{med[name][0]:>10.2f}{med[name][1]:>10.0f}")
    ratio_t = med["chs score"][0] / med["hand-written DuckDB"][0]
    ratio_m = med["chs score"][1] / med["hand-written DuckDB"][1]
    print(f"ratio chs / hand: time {ratio_t:.2f}x, peak memory {ratio_m:.2f}x "
          f"(chs also stores history, node_scores and writes 5 output files)")


if __name__ == "__main__":
    main()
