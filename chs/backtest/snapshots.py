"""Where a backtest's snapshots come from: the stored history, or a rescore in a scratch database.

Either way the result is a temp view `bt_snapshots(as_of, account_id, score, band, score_<path>...)`
on an in-memory connection that also holds the outcomes, plus the node paths and labels.
The history database is attached read-only and never written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from chs.config import LoadedConfig
from chs.db import attach_read_only, memory
from chs.durations import Step, step_dates
from chs.errors import InputMissingError, UsageError
from chs.sql import ident, node_column, string


@dataclass
class SnapshotSet:
    con: duckdb.DuckDBPyConnection
    mode: str  # "history" | "rescore"
    dates: list[dt.date]
    nodes: list[str]  # tree paths in tree order, "" (the score) first
    labels: dict[str, str]


def attach_history(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
    """ATTACH the history read-only as `hist`; a running `chs score` holds DuckDB's lock (75)."""
    db = loaded.database
    if not db.exists():
        raise InputMissingError(f"{db}: no history yet; run `chs score --from ... --every 7d` first, "
                                f"or use --rescore")
    attach_read_only(con, db, "hist")
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'hist'").fetchall()}
    if not {"scores", "snapshot_nodes"} <= tables:
        raise InputMissingError(f"{db}: no snapshots stored yet; run `chs score` first, or use --rescore")


def from_history(loaded: LoadedConfig, start: dt.date | None, end: dt.date | None) -> SnapshotSet:
    con = memory()
    attach_history(con, loaded)
    lo = start or dt.date(1, 1, 1)
    hi = end or dt.date(9999, 12, 31)
    dates = [r[0] for r in con.execute(
        "SELECT DISTINCT as_of FROM hist.scores WHERE as_of BETWEEN $lo AND $hi ORDER BY 1",
        {"lo": lo, "hi": hi}).fetchall()]
    if not dates:
        raise InputMissingError(f"{loaded.database}: no stored snapshots between {start or 'the first'} and "
                                f"{end or 'the last'}; score a range first (`chs score --from D --every 7d`) "
                                f"or use --rescore")
    # The tree as it was scored: the newest snapshot's nodes in its own order, labels from there.
    rows = con.execute(
        "SELECT node, label FROM hist.snapshot_nodes WHERE as_of = (SELECT max(as_of) FROM hist.snapshot_nodes "
        "WHERE as_of BETWEEN $lo AND $hi) ORDER BY node_order", {"lo": lo, "hi": hi}).fetchall()
    columns = {r[0] for r in con.execute("DESCRIBE hist.scores").fetchall()}
    nodes = [n for n, _ in rows if n and node_column(n) in columns]
    labels = {n: label for n, label in rows}
    cols = "".join(f", {ident(node_column(n))}" for n in nodes)
    con.execute(f"CREATE TEMP VIEW bt_snapshots AS SELECT as_of, account_id, score, band{cols} "
                f"FROM hist.scores WHERE as_of BETWEEN {string(lo.isoformat())} AND {string(hi.isoformat())}")
    return SnapshotSet(con=con, mode="history", dates=dates, nodes=[""] + nodes, labels=labels)


def from_rescore(loaded: LoadedConfig, start: dt.date | None, end: dt.date, every: Step,
                 keep_variables: bool = False, progress: Callable[[str], None] | None = None) -> SnapshotSet:
    from chs.scratch import rescore
    if start is None:
        raise UsageError("--rescore needs --from (the first snapshot date to recompute)")
    dates = step_dates(start, end, every)
    if not dates:
        raise UsageError(f"no dates between --from {start} and --to {end}")
    scratch = rescore(loaded, dates, keep_variables=keep_variables, progress=progress)
    nodes = [n for n in scratch.prepared.plan.nodes]
    cols = "".join(f", {ident(node_column(n.path))}" for n in nodes if n.path)
    scratch.con.execute(f"CREATE TEMP VIEW bt_snapshots AS SELECT as_of, account_id, score, band{cols} FROM rescored")
    return SnapshotSet(con=scratch.con, mode="rescore", dates=dates, nodes=[n.path for n in nodes],
                       labels={n.path: n.label for n in nodes})
