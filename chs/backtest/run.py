"""`chs backtest`: does the score rank next period's churners low? (DESIGN 6)

Snapshots (stored or rescored) are joined with the churn outcomes in DuckDB, one label column
per horizon; numpy then computes every metric over all (snapshot, account) pairs. Each node's
sub-score is ranked once and reused across horizons (censoring is a 0/1 weight).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

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


def load_pairs(snaps: SnapshotSet, outcomes: Outcomes, horizons: list[Step]) -> dict[str, np.ndarray]:
    """Every (snapshot, account) pair with its score, band, node sub-scores and labels, as numpy."""
    assert outcomes.observed_until is not None
    node_cols = "".join(f", CAST({ident(node_column(n))} AS DOUBLE) AS {ident('n_' + n)}"
                        for n in snaps.nodes if n)
    sql = labels_sql("bt_snapshots", horizons, outcomes.observed_until)
    data = snaps.con.execute(
        f"SELECT as_of, account_id, CAST(score AS DOUBLE) AS score, band{node_cols}, "
        + ", ".join(f"label_{i}" for i in range(len(horizons)))
        # Ordered, so decile cuts through tied scores are the same on every run.
        + f" FROM ({sql}) AS l ORDER BY as_of, account_id").fetchnumpy()
    return {k: (v.filled(np.nan) if hasattr(v, "filled") and v.dtype.kind == "f" else v)
            for k, v in data.items()}


def _labels(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(known, churned) masks from a nullable boolean column."""
    if hasattr(raw, "mask"):
        known = ~np.ma.getmaskarray(raw)
        return known, np.asarray(raw.filled(False), dtype=bool) & known
    values = np.asarray(raw, dtype=object)
    known = np.array([v is not None for v in values]) if values.dtype == object else np.ones(len(values), bool)
    return known, np.asarray(np.where(known, values, False), dtype=bool)


def _band_table(bands: np.ndarray, y: np.ndarray, order: list[str]) -> dict[str, dict]:
    out = {}
    seen = set(bands.tolist())
    # Every configured band is listed (an empty one with n 0); `unknown` only when present.
    names = [b for b in order if b != "unknown" or b in seen] + sorted(seen - set(order))
    for band in names:
        sel = bands == band
        n, churned = int(sel.sum()), int(y[sel].sum())
        out[band] = {"n": n, "churned": churned, "rate": churned / n if n else None}
    return out


def _horizon_metrics(pairs: dict[str, np.ndarray], i: int, snaps: SnapshotSet, band_order: list[str],
                     ranked_nodes: dict[str, tuple[metrics.Ranked, np.ndarray]], opts: BacktestOptions,
                     label: str, observed: dt.date) -> dict:
    known, churned = _labels(pairs[f"label_{i}"])
    if not known.any():
        latest = max(snaps.dates)
        raise DataError(f"horizon {label}: no snapshot can be labelled, because every snapshot + {label} is "
                        f"after observed_until {observed} (outcomes end there; snapshots run to {latest}). "
                        f"Use a shorter horizon, earlier snapshots (--to), or set outcomes.observed_until")
    score = pairs["score"]
    scored = known & ~np.isnan(score)
    y_all = churned.astype(np.int64)
    risk = 100.0 - score[scored]
    y = y_all[scored]
    lift_10, recall_10 = metrics.top_share(risk, y, 0.10)
    lift_20, recall_20 = metrics.top_share(risk, y, 0.20)
    ci = metrics.auc_interval(risk, y, pairs["account_id"][scored], reps=opts.bootstrap, seed=opts.seed)
    nodes: dict[str, float | None] = {}
    for path, (ranked, valid) in ranked_nodes.items():
        w = ranked.sort((valid & known).astype(np.int64))
        nodes[path] = metrics.weighted_auc(ranked, ranked.sort(y_all), w)
    dates = sorted(set(np.asarray(pairs["as_of"][known]).astype("datetime64[D]").astype(str).tolist()))
    n, positives = int(scored.sum()), int(y.sum())
    return {
        "snapshots": dates,
        "n": n, "positives": positives, "base_rate": positives / n if n else None,
        "auc": nodes.get(""), "auc_ci": list(ci) if ci else None,
        "lift_10": lift_10, "lift_20": lift_20, "recall_10": recall_10, "recall_20": recall_20,
        "bands": _band_table(pairs["band"][known], y_all[known], band_order),
        "deciles": metrics.deciles(score[scored], y, np.arange(n)),
        "nodes": nodes,
        "roc": metrics.roc_points(risk, y),
        "unscored": int((known & np.isnan(score)).sum()),
    }


def _to_date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


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
    pairs = load_pairs(snaps, outcomes, steps)
    if progress:
        progress(f"labelled {len(pairs['score'])} (snapshot, account) pairs of {len(snaps.dates)} snapshots")
    # Rank each node once over every pair that has its sub-score; horizons reuse the order.
    ranked_nodes = {}
    for path in snaps.nodes:
        values = pairs["score"] if path == "" else pairs["n_" + path]
        valid = ~np.isnan(values)
        ranked_nodes[path] = (metrics.rank(np.where(valid, 100.0 - values, -np.inf)), valid)
    band_order = [b for b, _ in sorted(loaded.config.score.bands.items(), key=lambda kv: -kv[1])] + ["unknown"]
    result: dict = {"config": loaded.config.name, "mode": snaps.mode,
                    "snapshots": [d.isoformat() for d in snaps.dates], "outcomes": outcomes.to_json(),
                    "horizons": {}, "node_labels": snaps.labels, "warnings": []}
    observed = _to_date(outcomes.observed_until)
    for i, label in enumerate(opts.horizons):
        h = _horizon_metrics(pairs, i, snaps, band_order, ranked_nodes, opts, label, observed)
        result["horizons"][label] = h
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
