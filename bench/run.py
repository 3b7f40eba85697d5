"""`make bench`: `chs score` end to end against a tuned hand-written DuckDB query, same files, same run.

Data: N accounts and M usage events (plus tickets and NPS answers) generated with DuckDB,
seeded, written as Parquet. `--scale medium` is 100k accounts / 10M events (the default),
`--scale large` 1M / 100M.

Contenders, each in its own process (peak RSS = ru_maxrss of that child), interleaved, each
repeat on a fresh database:
- `hand-written DuckDB`: one tuned query per source (timestamp literals that reach the scan,
  one pass per source, native keys) computing the same 10 variables, the same score tree and
  bands, written to Parquet. Its scores are compared with chs's (max |diff| is printed), so the
  reference does the same job.
- `hand, same outputs`: the same queries, then what a night of chs writes, by hand and in the
  same shapes: scores.parquet and scores.csv (every column but the top-risk text and the
  deltas), drivers.parquet (account x leaf: raw value, sub-score, weights, contribution) and a
  fresh history database (the scores rows and the per-node lists). Its scores, contributions
  and coverage equal chs's. The ratio to it separates chs's own cost from the cost of the
  outputs the contract asks for (a lower bound: no checks, no top-risk text, no actions).
- `chs score (first night)`: a fresh database: features, scores, drivers, history snapshot,
  outputs (scores.parquet/csv, drivers.parquet, actions, run.json).
- `chs score (next night)`: the next day on the database the first night left (history present).
- with `--nights N` (N > 2), nights 3..N follow, one day apart, each timed; the last is printed
  as `chs score (night N)`: a longer history must not cost more time or memory per night.
Then, on that history, `chs explain ACCOUNT` and `chs report`.

Prints medians and minimums of time and peak RSS, and ratios against the hand query.
Asserts nothing about wall-clock time: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2026, 11, 20)
SCALES = {"medium": (100_000, 10_000_000), "large": (1_000_000, 100_000_000)}


def _ts(day: dt.date) -> str:
    return f"TIMESTAMP '{day.isoformat()}'"


def hand_query(root: Path, out: Path, as_of: dt.date, same_outputs: Path | None = None) -> str:
    """The best hand-written DuckDB of bench.yaml's variables and tree (missing: skip).
    With `same_outputs` (a folder), it writes what a night of chs writes, in the same shapes
    and row counts, instead of `out` alone: scores.parquet, scores.csv, drivers.parquet (one
    row per account x leaf) and a history database (a scores row and the per-node lists per
    account). Left out: top_risks/top_strengths, deltas, actions and every check of the
    exports, so it is a lower bound on what writing chs's outputs costs by hand."""
    d = as_of
    end, w30, w60 = _ts(d + dt.timedelta(days=1)), _ts(d - dt.timedelta(days=29)), _ts(d - dt.timedelta(days=59))
    w90, w180, w365 = (_ts(d - dt.timedelta(days=n - 1)) for n in (90, 180, 365))

    def thresholds(x: str, pts: list[tuple[float, float]]) -> str:
        parts = [f"WHEN {x} IS NULL THEN NULL", f"WHEN {x} <= {pts[0][0]} THEN {float(pts[0][1])}"]
        for (xa, sa), (xb, sb) in zip(pts, pts[1:]):
            parts.append(f"WHEN {x} <= {xb} THEN {float(sa)} + ({x} - {xa}) * ({float(sb)} - {sa}) / ({float(xb)} - {xa})")
        return f"CASE {' '.join(parts)} ELSE {float(pts[-1][1])} END"

    def mean(pairs: list[tuple[str, float]]) -> str:
        num = " + ".join(f"coalesce({w} * {s}, 0)" for s, w in pairs)
        den = " + ".join(f"CASE WHEN {s} IS NULL THEN 0 ELSE {w} END" for s, w in pairs)
        return f"(({num}) / nullif({den}, 0))"

    success = mean([("s_adopt", 50), ("s_trend", 30), ("s_recency", 20)])
    loyalty = mean([("s_nps", 40), ("s_csat", 30), ("s_support", 30)])
    score = mean([(success, 40), (loyalty, 35), ("s_volume", 25)])
    extra = same_outputs is not None
    prefix = f"""
SET TimeZone = 'UTC';
-- The 30-day distinct count over its own 30 days: 2x faster than a FILTER over the year.
CREATE TEMP TABLE u AS
SELECT * FROM (
  SELECT account_id,
    count(*) FILTER (WHERE event_time >= {w30}) AS events_30d,
    count(*) FILTER (WHERE event_time >= {w60} AND event_time < {w30}) AS prev_30d,
    max(event_time) FILTER (WHERE event_type = 'login') AS last_login
  FROM read_parquet('{root}/usage/*.parquet') WHERE event_time < {end} GROUP BY 1)
FULL JOIN (
  SELECT account_id, count(DISTINCT user_id) AS active_users_30d
  FROM read_parquet('{root}/usage/*.parquet') WHERE event_time < {end} AND event_time >= {w30} GROUP BY 1)
USING (account_id);
CREATE TEMP TABLE t AS
SELECT account_id,
  count(*) FILTER (WHERE priority = 'urgent' AND created_at >= {w90}) AS urgent,
  avg(csat) FILTER (WHERE created_at >= {w180}) AS csat
FROM read_parquet('{root}/tickets.parquet') WHERE created_at < {end} GROUP BY 1;
CREATE TEMP TABLE n AS
SELECT account_id, 100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6))
  / count(*) FILTER (WHERE score IS NOT NULL) AS nps
FROM read_parquet('{root}/nps.parquet') WHERE responded_at < {end} AND responded_at >= {w365} GROUP BY 1;
"""
    subscores = f"""
  WITH v AS (
    SELECT a.account_id, {"a.account_name, a.owner, " if extra else ""}a.tier, a.mrr,
      coalesce(u.active_users_30d, 0) / nullif(a.seats, 0) AS seat_use,
      CAST(coalesce(u.events_30d, 0) - coalesce(u.prev_30d, 0) AS DOUBLE) / nullif(u.prev_30d, 0) AS usage_trend,
      date_diff('day', CAST(u.last_login AS DATE), DATE '{d}') AS days_since_login,
      coalesce(t.urgent, 0) AS urgent, t.csat, n.nps
    FROM read_parquet('{root}/accounts.parquet') AS a
    LEFT JOIN u USING (account_id) LEFT JOIN t USING (account_id) LEFT JOIN n USING (account_id)
    WHERE a.since <= DATE '{d}'),
  s AS (
    SELECT {"*," if extra else "account_id,"}
      {thresholds("seat_use", [(0.1, 0), (0.5, 60), (0.9, 100)])} AS s_adopt,
      {thresholds("usage_trend", [(-0.5, 0), (0, 60), (0.2, 100)])} AS s_trend,
      CASE WHEN days_since_login IS NULL THEN NULL WHEN days_since_login < 7 THEN 100.0
        WHEN days_since_login < 30 THEN 70.0 WHEN days_since_login < 60 THEN 20.0 ELSE 0.0 END AS s_recency,
      coalesce({thresholds("nps", [(-100, 0), (0, 50), (50, 100)])}, 50.0) AS s_nps,
      {thresholds("csat", [(1, 0), (5, 100)])} AS s_csat,
      {thresholds("urgent", [(0, 100), (3, 40), (10, 0)])} AS s_support,
      100.0 * percent_rank() OVER (PARTITION BY tier ORDER BY mrr) AS s_volume
    FROM v)"""
    if same_outputs is None:
        return prefix + f"""COPY ({subscores}
  SELECT account_id, {score} AS score,
    CASE WHEN {score} >= 70 THEN 'green' WHEN {score} >= 40 THEN 'yellow' ELSE 'red' END AS band
  FROM s
) TO '{out}' (FORMAT parquet);
"""
    return prefix + f"CREATE TEMP TABLE sub AS {subscores}\nSELECT * FROM s;\n" + _same_outputs(same_outputs, as_of)


# bench.yaml's tree: group -> (weight, [(leaf, variable, raw column, sub-score column, weight)]).
TREE = {
    "success": (40, [("adoption", "seat_use", "seat_use", "s_adopt", 50),
                     ("trend", "usage_trend", "usage_trend", "s_trend", 30),
                     ("recency", "days_since_login", "days_since_login", "s_recency", 20)]),
    "loyalty": (35, [("nps", "nps", "nps", "s_nps", 40), ("csat", "csat", "csat", "s_csat", 30),
                     ("support", "urgent_tickets", "urgent", "s_support", 30)]),
    "value": (25, [("volume", "mrr", "mrr", "s_volume", 100)]),
}


def _same_outputs(folder: Path, as_of: dt.date) -> str:
    """After `sub` (one row per account with raw values and sub-scores): the files and history
    rows a chs night writes, by hand. Contribution of a leaf = its share of the root (weights
    renormalised over present siblings, missing: skip) x (sub-score - 50)."""
    def present(col: str, w: float) -> str:
        return f"CASE WHEN {col} IS NULL THEN 0 ELSE {w} END"
    groups = []
    for g, (_, leaves) in TREE.items():
        den = " + ".join(present(sc, w) for _, _, _, sc, w in leaves)
        num = " + ".join(f"coalesce({w} * {sc}, 0)" for _, _, _, sc, w in leaves)
        groups.append(f"{den} AS d_{g}, ({num}) / nullif({den}, 0) AS g_{g}")
    root_den = " + ".join(present(f"g_{g}", w) for g, (w, _) in TREE.items())
    root_num = " + ".join(f"coalesce({w} * g_{g}, 0)" for g, (w, _) in TREE.items())
    leaves = [(g, gw, leaf, var, raw, sc, w) for g, (gw, ls) in TREE.items() for leaf, var, raw, sc, w in ls]
    shares = ", ".join(f"CASE WHEN {sc} IS NULL THEN 0.0 ELSE {gw} / d_root * {w} / d_{g} END AS e_{sc}"
                       for g, gw, _, _, _, sc, w in leaves)
    contribs = ", ".join(f"e_{sc} * coalesce({sc} - 50, 0) AS c_{sc}" for *_, sc, _ in leaves)
    # Coverage: the share of the tree's weight whose leaves have a value (imputed ones do not).
    coverage = " + ".join(f"CASE WHEN {raw} IS NULL THEN 0 ELSE {gw / 100 * w / sum(x[-1] for x in TREE[g][1])} END"
                          for g, gw, _, _, raw, _, w in leaves)
    node_cols = ", ".join([f"g_{g} AS score_{g}" for g in TREE] +
                          [f"{sc} AS score_{g}_{leaf}" for g, _, leaf, _, _, sc, _ in leaves])
    scores = (f"account_id, account_name, owner, tier AS segment, DATE '{as_of}' AS as_of, score, band, "
              "NULL::DOUBLE AS previous_score, NULL::DOUBLE AS delta, NULL::DOUBLE AS delta_7d, "
              f"NULL::DOUBLE AS delta_30d, {coverage} AS coverage, NULL::VARCHAR AS top_risks, "
              f"NULL::VARCHAR AS top_strengths, {node_cols}, 'bench' AS run_id, 'bench' AS config_hash")
    drivers = "\nUNION ALL\n".join(
        f"SELECT account_id, '{g}.{leaf}' AS node, '{var}' AS variable, CAST({raw} AS DOUBLE) AS raw_value, "
        f"{sc} AS sub_score, {float(w)} AS weight, e_{sc} AS effective_weight, c_{sc} AS contribution, "
        f"{raw} IS NULL AS missing, NULL::VARCHAR AS raw_text, 'bench' AS run_id, 'bench' AS config_hash FROM snap"
        for g, _, leaf, var, raw, sc, w in leaves)
    # Node lists in tree order: root, then each group followed by its leaves.
    order: list[tuple[str, str | None, str | None]] = [("score", None, None)]
    for g, (_, ls) in TREE.items():
        order.append((f"g_{g}", None, None))
        order += [(sc, raw, f"c_{sc}") for _, _, raw, sc, _ in ls]

    def lst(f: Callable[[str, str | None, str | None], str]) -> str:
        return "[" + ", ".join(f(*node) for node in order) + "]"
    lists = ", ".join([
        lst(lambda v, raw, c: f"CAST({raw} AS DOUBLE)" if raw else "NULL::DOUBLE") + " AS raw_value",
        "NULL::VARCHAR[] AS raw_text",
        lst(lambda v, raw, c: f"CAST({v} AS DOUBLE)") + " AS sub_score",
        lst(lambda v, raw, c: "1.0::DOUBLE") + " AS weight",
        lst(lambda v, raw, c: f"e_{v}" if c else "1.0::DOUBLE") + " AS effective_weight",
        lst(lambda v, raw, c: c if c else "0.0::DOUBLE") + " AS contribution",
        lst(lambda v, raw, c: f"{raw} IS NULL" if raw else f"{v} IS NULL") + " AS missing",
        lst(lambda v, raw, c: "false") + " AS imputed"])
    return f"""
CREATE TEMP TABLE snap AS
SELECT *, {contribs}
FROM (SELECT *, {shares}
      FROM (SELECT *, CASE WHEN score >= 70 THEN 'green' WHEN score >= 40 THEN 'yellow' ELSE 'red' END AS band
            FROM (SELECT *, {root_den} AS d_root, ({root_num}) / nullif({root_den}, 0) AS score
                  FROM (SELECT *, {", ".join(groups)} FROM sub))))
ORDER BY account_id;
COPY (SELECT {scores} FROM snap) TO '{folder}/scores.parquet' (FORMAT parquet);
COPY (SELECT {scores} FROM snap) TO '{folder}/scores.csv' (HEADER);
COPY ({drivers}) TO '{folder}/drivers.parquet' (FORMAT parquet);
ATTACH '{folder}/history.duckdb' AS h (ROW_GROUP_SIZE 32768);
BEGIN;
CREATE TABLE h.scores AS SELECT {scores} FROM snap;
CREATE TABLE h.node_values AS SELECT DATE '{as_of}' AS as_of, account_id, {lists}, 'bench' AS run_id,
  'bench' AS config_hash FROM snap;
COMMIT;
CHECKPOINT h;
"""


def generate(root: Path, accounts: int, events: int) -> None:
    """Seeded synthetic exports; usage split into 10 Parquet files."""
    (root / "usage").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
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
    con.close()


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would be the max of all children).
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def _fresh(root: Path) -> None:
    for leftover in ("chs.duckdb", "chs.duckdb.wal", "out", "hand_out"):
        path = root / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    (root / "hand_out").mkdir()


def _max_diff(root: Path, hand: str = "hand.parquet") -> tuple[float, int]:
    """Largest |score difference| between chs and a hand-written contender, and band disagreements."""
    con = duckdb.connect()
    row = con.execute(f"""SELECT max(abs(c.score - h.score)), count(*) FILTER (WHERE c.band <> h.band)
        FROM read_parquet('{root}/out/scores.parquet') AS c JOIN read_parquet('{root}/{hand}') AS h
        USING (account_id)""").fetchall()[0]
    con.close()
    return float(row[0] or 0.0), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    parser.add_argument("--accounts", type=int, help="override the scale's account count")
    parser.add_argument("--events", type=int, help="override the scale's event count")
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nights", type=int, default=2, help="nights scored per repeat (>= 2); the last is printed")
    args = parser.parse_args()
    accounts, events = SCALES[args.scale]
    accounts, events = args.accounts or accounts, args.events or events
    root = (args.dir / f"{accounts}x{events}").resolve()
    data = root / "data"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        generate(data, accounts, events)
        (root / ".complete").write_text(f"{accounts} {events}\n")
        print(f"generated {accounts:,} accounts / {events:,} events in {time.perf_counter() - t0:.1f}s", flush=True)
    shutil.copy(HERE / "bench.yaml", root / "chs.yaml")
    # As an installed chs starts: from bytecode (an editable install with
    # PYTHONDONTWRITEBYTECODE set would otherwise compile chs's modules on every command).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "chs")], check=True)
    sql_file, same_file = root / "hand.sql", root / "hand_same_outputs.sql"
    sql_file.write_text(hand_query(data, root / "hand.parquet", AS_OF))
    same_file.write_text(hand_query(data, root / "hand.parquet", AS_OF, same_outputs=root / "hand_out"))
    chs = [sys.executable, "-m", "chs", "--quiet", "--config", str(root / "chs.yaml")]
    hand = [sys.executable, "-c", f"import duckdb; duckdb.connect().execute(open({str(sql_file)!r}).read())"]
    hand_same = [sys.executable, "-c", f"import duckdb; duckdb.connect().execute(open({str(same_file)!r}).read())"]
    night1 = chs + ["score", "--as-of", (AS_OF - dt.timedelta(days=1)).isoformat()]
    night2 = chs + ["score", "--as-of", AS_OF.isoformat()]
    later = [chs + ["score", "--as-of", (AS_OF + dt.timedelta(days=k)).isoformat()] for k in range(1, args.nights - 1)]
    last_day = (AS_OF + dt.timedelta(days=len(later))).isoformat()
    account = "ACC-0000007"
    explain = chs + ["explain", account, "--as-of", last_day]
    report = chs + ["report", "--as-of", last_day, "-o", str(root / "out" / "report.html")]
    same = "hand, same outputs"
    names = ["hand-written DuckDB", same, "chs score (first night)", "chs score (next night)"] + \
        ([f"chs score (night {args.nights})"] if later else []) + ["chs explain", "chs report"]
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for i in range(args.repeat):
        _fresh(root)  # a fresh database per repeat; contenders interleaved within it
        results[names[0]].append(timed(hand, root))
        results[same].append(timed(hand_same, root))
        results[names[2]].append(timed(night1, root))
        results[names[3]].append(timed(night2, root))
        for k, night in enumerate(later):
            took = timed(night, root)
            if k == len(later) - 1:
                results[names[4]].append(took)
        results["chs explain"].append(timed(explain, root))
        results["chs report"].append(timed(report, root))
        print(f"repeat {i + 1}/{args.repeat}: " + ", ".join(f"{n} {results[n][-1][0]:.2f}s" for n in names),
              file=sys.stderr, flush=True)
    # The hand query scores AS_OF; compare with chs's AS_OF night (the last export when nights = 2).
    if later:
        subprocess.run(night2, cwd=root, stdout=subprocess.DEVNULL, check=True)
    diff, bands = _max_diff(root)
    same_diff, same_bands = _max_diff(root, "hand_out/scores.parquet")
    db_mb = (root / "chs.duckdb").stat().st_size / 2**20
    print(f"\n{accounts:,} accounts / {events:,} events, {args.repeat} repeats (fresh database each), as_of {AS_OF}"
          + (f", {args.nights} nights" if later else ""))
    print(f"{'contender':<26}{'median s':>10}{'min s':>8}{'peak MiB':>10}{'x hand time':>13}{'x hand mem':>12}")
    hand_t = statistics.median(r[0] for r in results[names[0]])
    hand_m = statistics.median(r[1] for r in results[names[0]])
    for name in names:
        walls, peaks = [r[0] for r in results[name]], [r[1] for r in results[name]]
        med_t, med_m = statistics.median(walls), statistics.median(peaks)
        ratios = f"{med_t / hand_t:>13.2f}{med_m / hand_m:>12.2f}" if name.startswith(("hand", "chs score")) else ""
        print(f"{name:<26}{med_t:>10.2f}{min(walls):>8.2f}{max(peaks):>10.0f}{ratios}")
    same_t = statistics.median(r[0] for r in results[same])
    print("chs score vs hand, same outputs: " + ", ".join(
        f"{n.removeprefix('chs score ')} {statistics.median(r[0] for r in results[n]) / same_t:.2f}x"
        for n in names if n.startswith("chs score")))
    print(f"scores: chs vs hand max |diff| {diff:.2e}, band disagreements {bands}; vs hand, same outputs "
          f"{same_diff:.2e}, {same_bands}; history after {args.nights} nights {db_mb:.0f} MiB")


if __name__ == "__main__":
    main()
