"""`chs backtest`: does the score rank next period's churners low? (DESIGN 6)

Snapshots (stored or rescored) are joined with the churn outcomes in DuckDB into one table
of labelled pairs (`bt_pairs`: one label column per horizon, NULL = censored); band counts
are grouped there, and numpy computes the ranking metrics. Node sub-scores are fetched one
column at a time, so memory stays at a few columns of pairs however big the tree is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np

from chs.backtest import metrics
from chs.backtest.snapshots import SnapshotSet, from_history, from_rescore
from chs.config import LoadedConfig
from chs.durations import Step, parse_step
from chs.errors import DataError
from chs.outcomes import Outcomes, labels_sql, load_outcomes, require_outcomes
from chs.sql import ident, node_column

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BacktestOptions:
    start: dt.date | None = None
    end: dt.date | None = None
    horizons: tuple[str, ...] = ("30d", "90d")
    rescore: bool = False
    every: str = "7d"
    bootstrap: int = 200
    seed: int = 0


def parse_horizons(text: str) -> tuple[str, ...]:
    """`30d,90d` -> ("30d", "90d"), each checked (days, weeks or months)."""
    items = tuple(h.strip() for h in text.split(",") if h.strip())
    if not items:
        raise ValueError("give at least one horizon, e.g. 30d,90d")
    for h in items:
        parse_step(h)
    return items


def label_pairs(snaps: SnapshotSet, outcomes: Outcomes, horizons: list[Step]) -> None:
    """`bt_pairs`: every labelled pair, an integer account code, score, band, node sub-scores."""
    assert outcomes.observed_until is not None
    node_cols = "".join(f", CAST({ident(node_column(n))} AS DOUBLE) AS {ident('n_' + n)}"
                        for n in snaps.nodes if n)
    snaps.con.execute(f"""CREATE OR REPLACE TEMP TABLE bt_pairs AS
        WITH ids AS (SELECT account_id, row_number() OVER (ORDER BY account_id) AS acc
                     FROM (SELECT DISTINCT account_id FROM bt_snapshots))
        SELECT l.as_of, ids.acc, CAST(l.score AS DOUBLE) AS score, l.band{node_cols},
               {', '.join(f'l.label_{i}' for i in range(len(horizons)))}
        FROM ({labels_sql('bt_snapshots', horizons, outcomes.observed_until)}) AS l
        JOIN ids ON ids.account_id = l.account_id""")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    """One column; queries over bt_pairs without ORDER BY keep its row order (DuckDB's
    preserve_insertion_order), so columns fetched one by one line up."""
    data = con.execute(sql).fetchnumpy()
    return np.asarray(next(iter(data.values())))


def _band_table(con: duckdb.DuckDBPyConnection, i: int, order: list[str]) -> dict[str, dict]:
    rows = con.execute(f"SELECT band, count(*), count(*) FILTER (WHERE label_{i}) FROM bt_pairs "
                       f"WHERE label_{i} IS NOT NULL GROUP BY band").fetchall()
    found = {band: (int(n), int(c)) for band, n, c in rows}
    # Every configured band is listed (an empty one with n 0); `unknown` only when present.
    names = [b for b in order if b != "unknown" or b in found] + sorted(set(found) - set(order))
    out = {}
    for band in names:
        n, churned = found.get(band, (0, 0))
        out[band] = {"n": n, "churned": churned, "rate": churned / n if n else None}
    return out


def _horizon_metrics(con: duckdb.DuckDBPyConnection, i: int, label: str, snaps: SnapshotSet,
                     band_order: list[str], opts: BacktestOptions, observed: dt.date) -> dict:
    known_count = con.execute(f"SELECT count(*) FROM bt_pairs WHERE label_{i} IS NOT NULL").fetchall()[0][0]
    if not known_count:
        raise DataError(f"horizon {label}: no snapshot can be labelled, because every snapshot + {label} is "
                        f"after observed_until {observed} (outcomes end there; snapshots run to "
                        f"{max(snaps.dates)}). Use a shorter horizon, earlier snapshots (--to), or set "
                        f"outcomes.observed_until")
    scored = f"label_{i} IS NOT NULL AND score IS NOT NULL"
    data = con.execute(f"SELECT score, CAST(label_{i} AS INTEGER) AS y, acc FROM bt_pairs WHERE {scored}"
                       ).fetchnumpy()
    score, y, acc = (np.asarray(data["score"], dtype=np.float64), np.asarray(data["y"], dtype=np.int64),
                     np.asarray(data["acc"]))
    risk = 100.0 - score
    lift_10, recall_10 = metrics.top_share(risk, y, 0.10)
    lift_20, recall_20 = metrics.top_share(risk, y, 0.20)
    ci = metrics.auc_interval(risk, y, acc, reps=opts.bootstrap, seed=opts.seed)
    dates = [r[0].isoformat() for r in con.execute(
        f"SELECT DISTINCT as_of FROM bt_pairs WHERE label_{i} IS NOT NULL ORDER BY 1").fetchall()]
    unscored = con.execute(f"SELECT count(*) FROM bt_pairs WHERE label_{i} IS NOT NULL AND score IS NULL"
                           ).fetchall()[0][0]
    n, positives = len(y), int(y.sum())
    return {
        "snapshots": dates, "n": n, "positives": positives, "base_rate": positives / n if n else None,
        "auc": metrics.auc(risk, y), "auc_ci": list(ci) if ci else None,
        "lift_10": lift_10, "lift_20": lift_20, "recall_10": recall_10, "recall_20": recall_20,
        "bands": _band_table(con, i, band_order), "deciles": metrics.deciles(score, y),
        "nodes": {"": metrics.auc(risk, y)}, "roc": metrics.roc_points(risk, y), "unscored": int(unscored),
    }


def _node_aucs(con: duckdb.DuckDBPyConnection, snaps: SnapshotSet, count: int) -> list[dict[str, float | None]]:
    """Per horizon, the AUC of every node's sub-score alone (pairs where it is missing left out).
    One node column is in memory at a time."""
    labels = [_fetch(con, f"SELECT coalesce(CAST(label_{i} AS INTEGER), -1) FROM bt_pairs") for i in range(count)]
    out: list[dict[str, float | None]] = [{} for _ in range(count)]
    for path in snaps.nodes:
        if not path:
            continue
        values = _fetch(con, f"SELECT coalesce({ident('n_' + path)}, 'NaN'::DOUBLE) FROM bt_pairs")
        risk = 100.0 - values.astype(np.float64)
        for i in range(count):
            known = labels[i] >= 0
            out[i][path] = metrics.auc(risk[known], labels[i][known])
    return out


def _to_date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def backtest(loaded: LoadedConfig, opts: BacktestOptions, progress: Progress | None = None) -> dict:
    """The backtest result: the DESIGN 6 document plus `roc`, labels and warnings for the page."""
    require_outcomes(loaded)
    steps = [parse_step(h) for h in opts.horizons]
    if opts.rescore:
        end = opts.end or loaded.config.outcomes.observed_until or dt.datetime.now(dt.UTC).date()  # type: ignore[union-attr]
        snaps = from_rescore(loaded, opts.start, end, parse_step(opts.every), progress=progress)
    else:
        snaps = from_history(loaded, opts.start, opts.end)
    outcomes = load_outcomes(snaps.con, loaded)
    if outcomes.observed_until is None:
        raise DataError("outcomes: no churn dates found and no outcomes.observed_until set; a backtest needs "
                        "to know until when the outcome data is complete")
    observed = _to_date(outcomes.observed_until)
    con = snaps.con
    label_pairs(snaps, outcomes, steps)
    if progress:
        total = con.execute("SELECT count(*) FROM bt_pairs").fetchall()[0][0]
        progress(f"labelled {total} (snapshot, account) pairs of {len(snaps.dates)} snapshots")
    band_order = [b for b, _ in sorted(loaded.config.score.bands.items(), key=lambda kv: -kv[1])] + ["unknown"]
    result: dict = {"config": loaded.config.name, "mode": snaps.mode,
                    "snapshots": [d.isoformat() for d in snaps.dates], "outcomes": outcomes.to_json(),
                    "horizons": {}, "node_labels": snaps.labels, "warnings": []}
    for i, label in enumerate(opts.horizons):
        result["horizons"][label] = _horizon_metrics(con, i, label, snaps, band_order, opts, observed)
    for i, nodes in enumerate(_node_aucs(con, snaps, len(steps))):
        result["horizons"][opts.horizons[i]]["nodes"].update(nodes)
    for label, h in result["horizons"].items():
        left_out = len(snaps.dates) - len(h["snapshots"])
        if left_out:
            result["warnings"].append(f"{label}: {left_out} of {len(snaps.dates)} snapshots left out (censored: "
                                      f"snapshot + {label} is after observed_until {observed})")
        if h["unscored"]:
            result["warnings"].append(f"{label}: {h['unscored']} pairs without a score (band unknown) are counted "
                                      f"in the band table only")
        if h["positives"] == 0:
            result["warnings"].append(f"{label}: no account churned within the horizon; AUC and lift are undefined")
    if outcomes.unknown_accounts:
        result["warnings"].append(f"outcomes: {outcomes.unknown_accounts} churn rows name accounts that are not in "
                                  f"the account list (e.g. {', '.join(outcomes.unknown_samples)}); left out")
    if outcomes.unreadable_dates:
        result["warnings"].append(f"outcomes: {outcomes.unreadable_dates} churn rows have a date that could not be "
                                  f"read; left out")
    return result


JSON_KEYS = ("n", "positives", "auc", "auc_ci", "lift_10", "lift_20", "recall_10", "recall_20",
             "bands", "deciles", "nodes")


def to_json(result: dict) -> dict:
    """The `--json` document (DESIGN 6), plus base_rate, the snapshots used per horizon,
    outcomes and warnings."""
    horizons = {}
    for label, h in result["horizons"].items():
        horizons[label] = {k: h[k] for k in JSON_KEYS} | {"base_rate": h["base_rate"], "snapshots": h["snapshots"]}
    return {"snapshots": result["snapshots"], "horizons": horizons, "mode": result["mode"],
            "outcomes": result["outcomes"], "warnings": result["warnings"]}
