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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from chs import __version__
from chs.actions_engine import check_actions, deliver_pending, evaluate_actions, write_action_outputs
from chs.bind_check import check_scale_inputs, check_variables, dry_run
from chs.compiler import Plan, compile_plan, needed_sources
from chs.config import LoadedConfig
from chs.db import memory, restrict_file_access
from chs.durations import parse_days
from chs.engines import engine_aggregates
from chs.errors import ChsError, DataError, OutputError
from chs.export_checks import check_exports, naming_corrupt_exports
from chs.exports import Exports
from chs.fragment_check import check_action_values, check_fragments
from chs.fragment_locate import run_step
from chs.history import (
    ensure_schema,
    out_scores_sql,
    reference_dates,
    replace_snapshot,
    snap_nodes_view,
)
from chs.history_file import HistoryFile, history_paths, spill_directory
from chs.key_mapping import check_key_match
from chs.lock import run_lock
from chs.outputs import Staging
from chs.privacy import Redactor
from chs.rollup import apply_rollup, store_rollup
from chs.snapshot_meta import node_metadata
from chs.sources import SourceInfo, register_all
from chs.sql import ident, string, timestamp_literal

Progress = Callable[[str], None]


@dataclass
class Prepared:
    """Registered sources and the compiled, bound plan on an open connection."""

    con: duckdb.DuckDBPyConnection
    sources: dict[str, SourceInfo]
    plan: Plan  # compiled for the first date: nodes, checks and `chs compile`
    loaded: LoadedConfig
    # Sources whose account keys are checked on the first date's aggregate (see register_all).
    keys_unchecked: set[str] = field(default_factory=set)

    def plan_for(self, as_of: dt.date) -> Plan:
        """The plan with this date compiled in (milliseconds of Python, no SQL run)."""
        return self.plan if as_of == self.plan.as_of else compile_plan(self.loaded, self.sources, as_of)


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


def limit_memory(con: duckdb.DuckDBPyConnection, limit: str) -> None:
    """Cap DuckDB's working memory (`storage.memory_limit`); what does not fit spills to disk."""
    if limit.lower() != "none":
        con.execute(f"SET memory_limit = {string(limit)}")


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE __params AS SELECT CAST($as_of AS DATE) AS as_of", {"as_of": as_of})


def prepare(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, as_of: dt.date | None = None,
            lock_down: list[Path] | None = None, keys_on_aggregates: bool = False,
            own_files: list[Path] | None = None) -> Prepared:
    """Register sources, check columns and fragments, compile and bind the plan. `lock_down`:
    after the sources are registered, the connection may touch only their files, `own_files`
    (the history's) and these folders (enable_external_access off). `keys_on_aggregates`: the account keys of
    aggregated sources are checked by `_run_one` on the first date's aggregates, which saves
    a pass over every event export (a tenth of a run)."""
    day = as_of or dt.datetime.now(dt.UTC).date()
    set_as_of(con, day)
    check_exports(con, loaded, needed_sources(loaded) | {loaded.config.accounts.source}, decode=False)
    # A mapped key (`via`) is checked on every row at registration: rows it did not map have
    # no key and never reach an aggregate.
    deferred = frozenset(v.source for v in loaded.config.variables.values()
                         if keys_on_aggregates and v.agg is not None and v.source is not None
                         and loaded.config.sources[v.source].account_via is None)
    sources = register_all(con, loaded, needed_sources(loaded), defer_keys=deferred)
    if lock_down is not None:  # a run: from here on fragments read no other file (README)
        restrict_file_access(con, [f for info in sources.values() for f in info.files]
                             + [str(f) for f in own_files or []], lock_down)
    check_variables(con, loaded, sources)
    plan = compile_plan(loaded, sources, day)
    dry_run(con, loaded, plan)
    check_scale_inputs(con, loaded, plan)
    check_actions(con, loaded, plan)
    check_fragments(con, loaded, sources, plan)
    return Prepared(con=con, sources=sources, plan=plan, loaded=loaded, keys_unchecked=set(deferred))


def freshness(prep: Prepared, loaded: LoadedConfig, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Per source with a `time:` column: the newest row visible at as_of (no look-ahead), its
    age in days and whether that exceeds the source's `max_age` (a stale export)."""
    cfg = loaded.config
    timed = [n for n, info in prep.sources.items() if info.has_time]
    if not timed:
        return {}
    rows = []
    scan = []
    for n in timed:
        # The export's newest row (counted when it was registered) is visible at as_of, as on
        # a nightly run: no need to read the export again.
        newest = prep.sources[n].newest
        day = _day_of(newest)
        if newest is None or (day is not None and day <= as_of):
            rows.append((n, newest, day))
        else:
            scan.append(n)
    if scan:
        # __date <= as_of written as a timestamp bound, so it reaches the scan (see aggregates.py).
        end = timestamp_literal(as_of + dt.timedelta(days=1))
        rows += prep.con.execute(" UNION ALL ".join(
            f"SELECT {string(n)}, CAST(max(s.__ts) AS VARCHAR), CAST(max(s.__ts) AS DATE) "
            f"FROM {ident(prep.sources[n].relation)} AS s WHERE s.__ts < {end}" for n in scan)).fetchall()
    out = {}
    for name, newest, newest_day in sorted(rows, key=lambda r: timed.index(r[0])):
        src = cfg.sources[name]
        limit = parse_days(src.max_age)
        age = (as_of - newest_day).days if newest_day is not None else None
        # Only event exports (`time:`) go stale; a contract list (`valid:` only) may rightly be old.
        stale = src.time is not None and (age is None or age > limit)
        out[name] = {"newest": newest, "age_days": age, "max_age_days": limit, "stale": stale}
    return out


def _day_of(timestamp: str | None) -> dt.date | None:
    """The date of a TIMESTAMP's text ('2026-11-20 13:45:00'); None if it is not plain ISO."""
    try:
        return dt.date.fromisoformat(timestamp[:10]) if timestamp else None
    except ValueError:
        return None


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


# What the exports read, kept where a second connection sees it (Step.shared, chs/exports.py);
# out_scores is made so too.
SHARED = {"scored"}

# After the step on the left has run, the tables on the right are read by nothing later in
# `chs score` (actions read acct, vars, out_scores and scored; history and outputs scored).
_DONE_WITH: dict[str, Callable[[Plan], list[str]]] = {
    "vars": lambda plan: list(plan.aggregate_tables.values()),
}


def _check_keys(prep: Prepared, plan: Plan, table: str) -> None:
    """After a source's aggregate step: do its keys name accounts? (once, on the first date)"""
    for source in [s for s in prep.keys_unchecked if plan.aggregate_tables.get(s) == table]:
        accounts = prep.sources[prep.loaded.config.accounts.source]
        check_key_match(prep.con, prep.loaded, source, prep.sources[source], accounts, counted=table)
        prep.keys_unchecked.discard(source)


def _run_one(prep: Prepared, loaded: LoadedConfig, as_of: dt.date, write: Staging | None,
             history: HistoryFile) -> SnapshotResult:
    """One snapshot: computed while the history is only read, stored in one transaction for
    which it is opened for writing (chs.history_file); the exports before that COMMIT."""
    con, plan = prep.con, prep.plan_for(as_of)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    set_as_of(con, as_of)
    fresh = freshness(prep, loaded, as_of)
    warnings = stale_warnings(fresh, as_of)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    engine_tables = engine_aggregates(con, loaded, prep.sources, plan)  # storage.engine (DESIGN 7)
    if engine_tables:
        timings["engine_aggregates"] = round(time.perf_counter() - t0, 4)
    for table in engine_tables:  # their `__rows` serve the account-key check as DuckDB's do
        _check_keys(prep, plan, table)
    for step in plan.steps:
        if step.table in engine_tables:
            continue
        t0 = time.perf_counter()
        # a fragment failing on real rows: 78 at its line
        run_step(con, loaded, prep.sources, replace(step, shared=True) if step.table in SHARED else step)
        timings[step.table] = round(time.perf_counter() - t0, 4)
        _check_keys(prep, plan, step.table)
        # Memory: each intermediate is dropped as soon as nothing later reads it.
        for table in _DONE_WITH.get(step.table, lambda p: [])(plan):
            con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
    con.execute(f"CREATE OR REPLACE TABLE memory.main.out_scores AS "
                f"{out_scores_sql(plan.nodes, reference_dates(con), run_id, loaded.digest)}")
    apply_rollup(con, loaded, plan.nodes)  # parents' rows from their children (accounts.parent)
    con.execute(snap_nodes_view(plan.nodes))
    check_action_values(con, loaded, plan)  # before the transaction, which an error would abort
    bands = dict(con.execute("SELECT band, count(*) FROM out_scores GROUP BY 1 ORDER BY 1").fetchall())
    accounts = sum(bands.values())
    exports = Exports(con, write, plan.nodes, run_id, loaded.digest, accounts) if write is not None else None
    try:
        if exports is not None:
            exports.start()  # now, or on a second connection when cores would idle (chs/exports.py)
        history.write()
    except BaseException:
        if exports is not None:
            exports.wait()
        raise
    con.execute("BEGIN TRANSACTION")
    try:
        store_rollup(con, loaded)
        replace_snapshot(con, run_id, node_metadata(loaded, plan.nodes), loaded.digest, plan.nodes)
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
        if exports is not None:
            write_action_outputs(con, exports.write, run_id)
            exports.write.write_json("run.json", manifest)
            exports.finish()
        con.execute("COMMIT")
    except BaseException:
        if exports is not None:
            exports.wait()  # never leave the second connection writing behind a rollback
        con.execute("ROLLBACK")
        raise
    return SnapshotResult(as_of=as_of, run_id=run_id, accounts=accounts, bands=bands,
                          actions_created=created, seconds=round(time.perf_counter() - started, 3),
                          warnings=warnings)


def score(loaded: LoadedConfig, dates: list[dt.date], progress: Progress | None = None,
          strict: bool = False, redactor: Redactor | None = None) -> RunResult:
    """Score each date in order (each a snapshot, committed on its own); export the last one.
    Holds the run lock. `strict`: rows that could not be read, or a stale export on any of the
    dates, stop the run (DataError, 65) before anything is stored.

    A backfill that fails part-way keeps the dates before the failing one: they are complete
    snapshots, and rerunning the same command replaces them with the same values. When the
    last date cannot write its exports (OutputError, 73), the run records that date in `runs`
    (status 'outputs_failed') and says "stored k of n snapshots"."""
    if not dates:
        raise ChsError("no dates to score")
    result = RunResult()
    staging: Staging | None = None
    failed: OutputError | None = None
    with run_lock(loaded.database):
        with naming_corrupt_exports(loaded):
            con = memory()
            try:
                history = HistoryFile(con, loaded.database)
                history.read()
                limit_memory(con, loaded.config.storage.memory_limit)
                lock_down = [loaded.output_dir, spill_directory(loaded.database)]
                prep = prepare(con, loaded, dates[0], lock_down=lock_down, keys_on_aggregates=True,
                               own_files=history_paths(loaded.database))
                result.sources = prep.sources
                rejected = {n: i.rejected for n, i in prep.sources.items() if i.rejected}
                if strict and rejected:
                    raise DataError("--strict: rows that could not be read: " + ", ".join(
                        f"{n} {r}" for n, r in rejected.items()) + "; nothing stored")
                if strict:  # each date commits on its own: a stale one stops the run before any
                    for as_of in dates:
                        stale = stale_warnings(freshness(prep, loaded, as_of), as_of)
                        if stale:
                            raise DataError("--strict: " + "; ".join(stale) + f" (as of {as_of}); nothing stored")
                for name in SHARED:  # the dry run's empty temp table would hide the shared one
                    con.execute(f"DROP TABLE IF EXISTS temp.main.{ident(name)}")
                history.write()
                _in_transaction(con, lambda: ensure_schema(con, prep.plan.nodes))  # a migration: all or nothing
                for i, as_of in enumerate(dates):
                    last = i == len(dates) - 1
                    history.read()
                    try:
                        staging = Staging(loaded.output_dir, redactor) if last else None
                        snap = _run_one(prep, loaded, as_of, staging, history)
                    except OutputError as exc:
                        if i == 0:
                            raise
                        failed = exc  # the snapshots before this date are complete: keep them
                        history.write()
                        _record_failed_date(con, loaded, as_of, str(exc), i, len(dates))
                        break
                    result.snapshots.append(snap)
                    if progress:
                        progress(f"scored {as_of} ({snap.accounts} accounts, {snap.seconds:.2f}s)")
                history.write()
                # Delivery runs after every snapshot committed: a slow or failing webhook never
                # blocks or undoes scoring; what failed is retried on the next run.
                if loaded.config.delivery is not None:
                    result.delivery = deliver_pending(con, loaded, redactor=redactor)
                con.execute("CHECKPOINT")
                history.close()
            except BaseException:
                if staging is not None:
                    staging.discard()
                raise
            finally:
                con.close()
        if failed is not None:
            if staging is not None:
                staging.discard()
            stored = len(result.snapshots)
            raise OutputError(
                f"{failed}; stored {stored} of {len(dates)} snapshots ({dates[0]} .. {dates[stored - 1]}), "
                f"{dates[stored]} not stored and no exports written; rerun the same command to complete it")
        # The new history is in place; now the exports of the last date follow it.
        if staging is not None:
            try:
                result.outputs = [str(p) for p in staging.commit()]
            finally:
                staging.discard()
    return result


def _in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], None]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        work()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _record_failed_date(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, as_of: dt.date, error: str,
                        stored: int, total: int) -> None:
    """A `runs` row for a backfill date that was not stored, so the history says why it is missing."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    manifest = {"tool": "chs", "tool_version": __version__, "as_of": as_of.isoformat(),
                "status": "outputs_failed", "error": error, "stored": stored, "dates": total}
    con.execute(
        "INSERT OR REPLACE INTO runs (run_id, as_of, started_at, finished_at, tool_version, config_hash, "
        "config_path, status, accounts, manifest) VALUES ($run_id, $as_of, $now, $now, $version, $hash, "
        "$config, 'outputs_failed', 0, $manifest)",
        {"run_id": f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}", "as_of": as_of, "now": now,
         "version": __version__, "hash": loaded.digest, "config": str(loaded.path),
         "manifest": json.dumps(manifest)})
