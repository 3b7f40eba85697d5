"""The scoring run: config -> sources -> plan -> snapshot -> outputs (DESIGN 5).

`prepare` is shared by validate, compile and score. `score` runs one or several as_of
dates (a backfill); each date is one snapshot stored in one transaction, and the exports of
the last date are swapped into output_dir.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from chs import __version__
from chs.actions_engine import check_actions, deliver_pending, evaluate_actions, write_action_outputs
from chs.bind_check import check_scale_inputs, check_variables, dry_run
from chs.compiler import Plan, compile_plan, needed_sources
from chs.config import LoadedConfig
from chs.db import connect
from chs.durations import parse_days
from chs.errors import ChsError, DataError
from chs.fragment_check import check_action_values, check_fragments, run_step
from chs.history import ensure_schema, out_scores_sql, replace_snapshot
from chs.lock import run_lock
from chs.outputs import Staging
from chs.snapshot_meta import node_metadata
from chs.sources import SourceInfo, register_all
from chs.sql import ident, string
from chs.working_copy import working_copy

Progress = Callable[[str], None]


@dataclass
class Prepared:
    """Registered sources and the compiled, bound plan on an open connection."""

    con: duckdb.DuckDBPyConnection
    sources: dict[str, SourceInfo]
    plan: Plan


@dataclass
class SnapshotResult:
    as_of: dt.date
    run_id: str
    accounts: int
    bands: dict[str, int]
    actions_created: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    snapshots: list[SnapshotResult] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE __params AS SELECT CAST($as_of AS DATE) AS as_of", {"as_of": as_of})


def prepare(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, as_of: dt.date | None = None) -> Prepared:
    """Register sources, check columns and fragments, compile and bind the plan."""
    set_as_of(con, as_of or dt.datetime.now(dt.UTC).date())
    sources = register_all(con, loaded, needed_sources(loaded))
    check_variables(con, loaded, sources)
    plan = compile_plan(loaded, sources)
    dry_run(con, loaded, plan)
    check_scale_inputs(con, loaded, plan)
    check_actions(con, loaded, plan)
    check_fragments(con, loaded, sources, plan)
    return Prepared(con=con, sources=sources, plan=plan)


def freshness(prep: Prepared, loaded: LoadedConfig, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Per source with a `time:` column: the newest row visible at as_of (no look-ahead), its
    age in days and whether that exceeds the source's `max_age` (a stale export)."""
    cfg = loaded.config
    timed = [n for n, info in prep.sources.items() if info.has_time]
    if not timed:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT {string(n)}, CAST(max(s.__ts) AS VARCHAR), max(s.__date) FROM {ident(prep.sources[n].relation)} "
        f"AS s, __params AS p WHERE s.__date <= p.as_of" for n in timed)
    out = {}
    for name, newest, newest_day in prep.con.execute(sql).fetchall():
        src = cfg.sources[name]
        limit = parse_days(src.max_age)
        age = (as_of - newest_day).days if newest_day is not None else None
        # Only event exports (`time:`) go stale; a contract list (`valid:` only) may rightly be old.
        stale = src.time is not None and (age is None or age > limit)
        out[name] = {"newest": newest, "age_days": age, "max_age_days": limit, "stale": stale}
    return out


def _source_manifest(prep: Prepared, fresh: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per source: files, rows, rejects, and the newest row this as_of could see (no look-ahead)."""
    out = {}
    for name, info in prep.sources.items():
        entry = info.manifest()
        entry["newest_in_export"] = entry.pop("newest")
        entry["newest"] = fresh.get(name, {}).get("newest")
        if name in fresh:
            entry.update({k: fresh[name][k] for k in ("age_days", "max_age_days", "stale")})
        out[name] = entry
    return out


def stale_warnings(fresh: dict[str, dict[str, Any]], as_of: dt.date) -> list[str]:
    return [f"source {name}: newest row {f['newest'] or 'none'} is "
            f"{'no row at all' if f['age_days'] is None else str(f['age_days']) + ' days'} before {as_of} "
            f"(max_age {f['max_age_days']}d): the export may be stale"
            for name, f in fresh.items() if f["stale"]]


def _run_one(prep: Prepared, loaded: LoadedConfig, as_of: dt.date, write: Staging | None,
             strict: bool = False) -> SnapshotResult:
    con, plan = prep.con, prep.plan
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    set_as_of(con, as_of)
    fresh = freshness(prep, loaded, as_of)
    warnings = stale_warnings(fresh, as_of)
    if strict and warnings:
        raise DataError("--strict: " + "; ".join(warnings) + f"; nothing stored for {as_of}")
    timings: dict[str, float] = {}
    for step in plan.steps:
        t0 = time.perf_counter()
        run_step(con, loaded, prep.sources, step)  # a fragment failing on real rows: 78 at its line
        timings[step.table] = round(time.perf_counter() - t0, 4)
    con.execute(f"CREATE OR REPLACE TEMP TABLE out_scores AS {out_scores_sql(plan.nodes)}")
    check_action_values(con, loaded, plan)  # before the transaction, which an error would abort
    bands = dict(con.execute("SELECT band, count(*) FROM out_scores GROUP BY 1 ORDER BY 1").fetchall())
    accounts = sum(bands.values())
    con.execute("BEGIN TRANSACTION")
    try:
        replace_snapshot(con, run_id, node_metadata(loaded, plan.nodes))
        created = evaluate_actions(con, loaded, plan, run_id, as_of)
        manifest = {
            "tool": "chs", "tool_version": __version__, "run_id": run_id, "as_of": as_of.isoformat(),
            "config": str(loaded.path), "config_hash": loaded.digest, "status": "ok",
            "started_at": started_at.isoformat() + "Z", "accounts": accounts, "bands": bands,
            "actions_created": created,
            "sources": _source_manifest(prep, fresh), "warnings": warnings,
            "timings_seconds": {**timings, "total": round(time.perf_counter() - started, 4)},
        }
        con.execute(
            "INSERT OR REPLACE INTO runs VALUES ($run_id, $as_of, $started, now()::TIMESTAMP, $version, "
            "$hash, $config, 'ok', $accounts, $manifest)",
            {"run_id": run_id, "as_of": as_of, "started": started_at, "version": __version__,
             "hash": loaded.digest, "config": str(loaded.path), "accounts": accounts,
             "manifest": json.dumps(manifest, default=str)})
        if write is not None:
            write.copy(con, "SELECT * FROM out_scores", "scores.parquet")
            write.copy(con, "SELECT * FROM out_scores", "scores.csv")
            write.copy(con, "SELECT account_id, node, variable, raw_value, sub_score, weight, effective_weight, "
                            "contribution, missing FROM snap_nodes WHERE kind = 'leaf' "
                            "ORDER BY account_id, node_order", "drivers.parquet")
            write_action_outputs(con, write, run_id)
            write.write_json("run.json", manifest)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return SnapshotResult(as_of=as_of, run_id=run_id, accounts=accounts, bands=bands,
                          actions_created=created, seconds=round(time.perf_counter() - started, 3),
                          warnings=warnings)


def score(loaded: LoadedConfig, dates: list[dt.date], progress: Progress | None = None,
          strict: bool = False) -> RunResult:
    """Score each date in order (each a snapshot); export the last one. Holds the run lock.
    `strict`: rows that could not be read, or a stale export, stop the run (DataError, 65)
    before that date is stored."""
    if not dates:
        raise ChsError("no dates to score")
    result = RunResult()
    staging: Staging | None = None
    with run_lock(loaded.database):
        with working_copy(loaded.database) as path:
            con = connect(path)
            try:
                prep = prepare(con, loaded, dates[0])
                result.sources = prep.sources
                rejected = {n: i.rejected for n, i in prep.sources.items() if i.rejected}
                if strict and rejected:
                    raise DataError("--strict: rows that could not be read: " + ", ".join(
                        f"{n} {r}" for n, r in rejected.items()) + "; nothing stored")
                ensure_schema(con, prep.plan.nodes)
                for i, as_of in enumerate(dates):
                    last = i == len(dates) - 1
                    staging = Staging(loaded.output_dir) if last else None
                    snap = _run_one(prep, loaded, as_of, staging, strict)
                    result.snapshots.append(snap)
                    if progress:
                        progress(f"scored {as_of} ({snap.accounts} accounts, {snap.seconds:.2f}s)")
                # Delivery runs after every snapshot committed: a slow or failing webhook never
                # blocks or undoes scoring; what failed is retried on the next run.
                if loaded.config.delivery is not None:
                    result.delivery = deliver_pending(con, loaded)
                con.execute("CHECKPOINT")
            except BaseException:
                if staging is not None:
                    staging.discard()
                raise
            finally:
                con.close()
        # The new history is in place; now the exports of the last date follow it.
        if staging is not None:
            try:
                result.outputs = [str(p) for p in staging.commit()]
            finally:
                staging.discard()
    return result
