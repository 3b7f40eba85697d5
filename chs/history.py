"""Snapshot history in the configured DuckDB database (DESIGN 3).

`scores` (one row per as_of x account, the columns of scores.parquet), `node_scores` (long:
one row per as_of x account x node), `snapshot_nodes` (the tree as scored that day, for
labels and windows), `runs`, and `actions` (state). Re-scoring an as_of replaces its
snapshot inside one transaction.

Layout version 2 stores the node values as `node_values`: one row per as_of x account with
one list per field, indexed by node_order + 1, and `node_scores` is a view that presents them
in the documented long shape (joined to `snapshot_nodes` for the node names). A night then
writes 1 row per account instead of one per account x node, and nothing is sorted by node:
at 1M accounts that was 15M rows sorted by text key. Version 1 databases (a `node_scores`
table) are migrated when `chs score` opens them; readers work on both layouts unchanged.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from chs.errors import DataError
from chs.sql import date_literal, ident, node_column, string
from chs.tree import TreeNode

LAYOUT_VERSION = 2
NODE_FIELDS = ("raw_value", "raw_text", "sub_score", "weight", "effective_weight", "contribution", "missing",
               "imputed")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, as_of DATE, started_at TIMESTAMP, finished_at TIMESTAMP,
        tool_version VARCHAR, config_hash VARCHAR, config_path VARCHAR, status VARCHAR,
        accounts BIGINT, manifest VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS scores (
        account_id VARCHAR, account_name VARCHAR, owner VARCHAR, segment VARCHAR, as_of DATE,
        score DOUBLE, band VARCHAR, previous_score DOUBLE, delta DOUBLE, delta_7d DOUBLE,
        delta_30d DOUBLE, coverage DOUBLE, top_risks VARCHAR, top_strengths VARCHAR, run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS node_values (
        as_of DATE, account_id VARCHAR, raw_value DOUBLE[], raw_text VARCHAR[], sub_score DOUBLE[],
        weight DOUBLE[], effective_weight DOUBLE[], contribution DOUBLE[], missing BOOLEAN[],
        imputed BOOLEAN[], run_id VARCHAR, config_hash VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS chs_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS snapshot_nodes (
        as_of DATE, node VARCHAR, node_order INTEGER, parent VARCHAR, label VARCHAR, kind VARCHAR,
        variable VARCHAR, description VARCHAR, missing_policy VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS actions (
        action_id BIGINT PRIMARY KEY, rule VARCHAR, account_id VARCHAR, account_name VARCHAR,
        owner VARCHAR, channel VARCHAR, priority VARCHAR, created_as_of DATE, due_date DATE,
        cooldown_until DATE, title VARCHAR, detail VARCHAR, reason VARCHAR, status VARCHAR,
        note VARCHAR, closed_at TIMESTAMP, run_id VARCHAR, delivery_status VARCHAR,
        delivery_attempts INTEGER DEFAULT 0, delivery_error VARCHAR, created_at TIMESTAMP,
        delivered_at TIMESTAMP)""",
    # High-water mark of action ids: an id deleted by a re-score is never handed out again.
    "CREATE TABLE IF NOT EXISTS action_ids (last_id BIGINT)",
]


def long_select(values: str, meta: str) -> str:
    """The long rows (DESIGN 3 `node_scores`) of per-account lists `values` x node rows `meta`."""
    fields = ", ".join(f"{values}.{f}[{meta}.node_order + 1] AS {f}" for f in NODE_FIELDS)
    return (f"{values}.account_id, {meta}.node, {meta}.node_order, {meta}.kind, {meta}.variable, {fields}")


NODE_SCORES_VIEW = f"""CREATE VIEW IF NOT EXISTS node_scores AS
SELECT v.as_of, {long_select("v", "m")}, v.run_id, v.config_hash
FROM node_values AS v JOIN snapshot_nodes AS m ON m.as_of = v.as_of"""


# Accounts whose snapshot row is rolled up from children (chs.rollup) have no node rows.
_NOT_PARENT = ("__account NOT IN (SELECT account_id FROM out_scores WHERE level = 'parent')")


def _lists_select(nodes: list[TreeNode]) -> str:
    """One row per scored account (in `scored`'s account order) with its per-node lists."""
    from chs.compiler import node_lists_sql
    lists = ", ".join(f"{sql} AS {name}" for name, sql in node_lists_sql(nodes))
    return f"SELECT __account AS account_id, {lists} FROM scored WHERE {_NOT_PARENT}"


def snap_nodes_view(nodes: list[TreeNode]) -> str:
    """The long rows of this run's snapshot, for the few readers that want them (action reasons)."""
    return (f"CREATE OR REPLACE TEMP VIEW snap_nodes AS\nSELECT {long_select('l', 'm')}\n"
            f"FROM ({_lists_select(nodes)}) AS l CROSS JOIN snap_meta AS m")


def layout_version(con: duckdb.DuckDBPyConnection, schema: str = "main") -> int | None:
    """1 for a database with a `node_scores` table, the stored version, or None when empty."""
    tables = dict(con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = $s",
        {"s": schema}).fetchall())
    if "chs_meta" in tables:
        rows = con.execute(f"SELECT value FROM {ident(schema)}.chs_meta WHERE key = 'layout_version'").fetchall()
        if rows:
            return int(rows[0][0])
    if tables.get("node_scores") == "BASE TABLE":
        return 1
    return None


def _migrate_v1(con: duckdb.DuckDBPyConnection) -> None:
    """node_scores table (long) -> node_values (lists) + the node_scores view; scores and node
    rows get the config_hash of the run that stored them. Same values, bit for bit."""
    con.execute("UPDATE scores SET config_hash = r.config_hash FROM runs AS r "
                "WHERE r.run_id = scores.run_id AND scores.config_hash IS NULL")
    lists = ", ".join(f"list(n.{f} ORDER BY n.node_order) AS {f}" for f in NODE_FIELDS)
    con.execute(f"""INSERT INTO node_values
        SELECT n.as_of, n.account_id, {lists}, any_value(s.run_id), any_value(s.config_hash)
        FROM node_scores AS n LEFT JOIN scores AS s ON s.as_of = n.as_of AND s.account_id = n.account_id
        GROUP BY n.as_of, n.account_id ORDER BY n.as_of, n.account_id""")
    con.execute("DROP TABLE node_scores")


def ensure_schema(con: duckdb.DuckDBPyConnection, nodes: list[TreeNode] | None = None) -> None:
    """Create the history tables, migrating an older layout; add a `score_<path>` column for
    any new tree node. The caller's transaction makes this all-or-nothing."""
    version = layout_version(con)
    if version is not None and version > LAYOUT_VERSION:
        raise DataError(f"the history database has layout version {version}, written by a newer chs "
                        f"(this one knows {LAYOUT_VERSION}); nothing was changed")
    for ddl in SCHEMA:
        con.execute(ddl)
    con.execute("ALTER TABLE scores ADD COLUMN IF NOT EXISTS config_hash VARCHAR")
    if version == 1:
        _migrate_v1(con)
    con.execute(NODE_SCORES_VIEW)
    con.execute("INSERT OR REPLACE INTO chs_meta VALUES ('layout_version', $v)", {"v": str(LAYOUT_VERSION)})
    # v1.1 rollups (chs/rollup.py): 'parent' rows are rolled up from children; older rows are accounts.
    con.execute("ALTER TABLE scores ADD COLUMN IF NOT EXISTS level VARCHAR DEFAULT 'account'")
    for node in nodes or []:
        if node.path:
            con.execute(f"ALTER TABLE scores ADD COLUMN IF NOT EXISTS {ident(node_column(node.path))} DOUBLE")


# Aliases of the three reference snapshots a change is measured against (DESIGN 2.3).
REF_ALIASES = ("prev", "h7", "h30")
RefDates = dict[str, dt.date | None]


def reference_dates(con: duckdb.DuckDBPyConnection, as_of: str = "(SELECT as_of FROM __params)") -> RefDates:
    """The dates of the previous, 7-day and 30-day reference snapshots before the SQL date
    `as_of` (None: not stored), in one pass over the stored dates."""
    row = con.execute(
        f"SELECT max(as_of), max(as_of) FILTER (WHERE as_of <= {as_of} - 7), "
        f"max(as_of) FILTER (WHERE as_of <= {as_of} - 30) FROM scores WHERE as_of < {as_of}").fetchall()[0]
    return dict(zip(REF_ALIASES, row))


# The change columns of a snapshot row `cur`, joined to the snapshots of change_joins.
CHANGES = ("prev.score AS previous_score, {cur}.score - prev.score AS delta, "
            "{cur}.score - h7.score AS delta_7d, {cur}.score - h30.score AS delta_30d")


def change_joins(cur: str, refs: RefDates) -> str:
    """LEFT JOINs of `cur` to each reference snapshot's scores, the dates as literals: the scan
    reads that snapshot's row groups only and the hash table holds one snapshot. (With the
    date a join column, every stored row went into three hash tables: out of memory after a
    few nights at 1M accounts.)"""
    return "\n".join(f"LEFT JOIN {snapshot_rows(refs[alias], {'score': 'DOUBLE'})} AS {alias} "
                     f"ON {alias}.account_id = {cur}.account_id" for alias in REF_ALIASES)


def snapshot_rows(day: dt.date | None, columns: dict[str, str]) -> str:
    """A subquery of one stored snapshot's account_id and `columns` (name: type), the date a
    literal so that only its row groups are read; no rows (typed) when `day` is None."""
    if day is None:
        typed = ", ".join(f"NULL::{t} AS {ident(c)}" for c, t in columns.items())
        return f"(SELECT NULL::VARCHAR AS account_id, {typed} WHERE false)"
    return f"(SELECT account_id, {', '.join(ident(c) for c in columns)} FROM scores WHERE as_of = {date_literal(day)})"


def out_scores_sql(nodes: list[TreeNode], refs: RefDates, run_id: str | None = None,
                   config_hash: str | None = None) -> str:
    """snap_scores + changes vs history (`refs`: reference_dates of this as_of), in the column
    order of scores.parquet, then `level` (parents added by chs.rollup are 'parent'), the
    run's id and config hash (traceable)."""
    score_cols = ", ".join("s." + ident(node_column(n.path)) for n in nodes if n.path)
    trace = ", ".join(f"{string(v) if v is not None else 'NULL::VARCHAR'} AS {k}"
                      for k, v in (("run_id", run_id), ("config_hash", config_hash)))
    return f"""
SELECT s.account_id, s.account_name, s.owner, s.segment, s.as_of, s.score, s.band,
  {CHANGES.format(cur="s")},
  s.coverage, s.top_risks, s.top_strengths{', ' + score_cols if score_cols else ''},
  'account' AS level, {trace}
FROM snap_scores AS s
{change_joins("s", refs)}
ORDER BY s.account_id"""


def drivers_sql(nodes: list[TreeNode], run_id: str, config_hash: str) -> str:
    """drivers.parquet: one row per account x leaf, leaf by leaf in tree order and accounts in
    order within each, read from `scored`'s columns (already in account order: no sort, no
    node rows); map leaves keep their text in raw_text."""
    from chs.compiler import node_fields
    per_field = node_fields(nodes)
    trace = f"{string(run_id)} AS run_id, {string(config_hash)} AS config_hash"
    parts = []
    for i, n in enumerate(nodes):
        if not n.is_leaf:
            continue
        cols = ", ".join(f"{per_field[f][i]} AS {f}" for f in
                         ("raw_value", "sub_score", "weight", "effective_weight", "contribution", "missing",
                          "raw_text"))
        parts.append(f"SELECT __account AS account_id, {string(n.path)} AS node, {string(n.variable)} AS variable, "
                     f"{cols}, {trace} FROM scored WHERE {_NOT_PARENT}")
    return "\nUNION ALL\n".join(parts)


def replace_snapshot(con: duckdb.DuckDBPyConnection, run_id: str, node_meta: list[tuple],
                     config_hash: str | None, nodes: list[TreeNode]) -> None:
    """Replace this as_of's snapshot with out_scores and scored's node lists. Caller holds the
    transaction."""
    for table in ("scores", "node_values", "snapshot_nodes"):
        con.execute(f"DELETE FROM {table} WHERE as_of = (SELECT as_of FROM __params)")
    con.execute("INSERT INTO scores BY NAME SELECT * FROM out_scores")
    # In account order (scored's), so explain's lookup of one account reads few row groups.
    con.execute(f"INSERT INTO node_values BY NAME SELECT (SELECT as_of FROM __params) AS as_of, l.*, "
                f"$run_id AS run_id, $hash AS config_hash FROM ({_lists_select(nodes)}) AS l",
                {"run_id": run_id, "hash": config_hash})
    refresh_later_deltas(con)
    con.executemany(
        "INSERT INTO snapshot_nodes SELECT (SELECT as_of FROM __params), ?, ?, ?, ?, ?, ?, ?, ?", node_meta)


def refresh_later_deltas(con: duckdb.DuckDBPyConnection) -> None:
    """Re-scoring or back-filling an earlier date changes what later snapshots compare with:
    recompute their previous_score and deltas so the stored history stays consistent.
    One statement per later date (a loop over dates, not accounts); the nightly run scores the
    newest date, so then there is nothing to do."""
    later = con.execute("SELECT DISTINCT as_of FROM scores WHERE as_of > (SELECT as_of FROM __params) "
                        "ORDER BY 1").fetchall()
    for (day,) in later:
        refs = reference_dates(con, date_literal(day))
        con.execute(f"""UPDATE scores SET previous_score = n.previous_score, delta = n.delta,
            delta_7d = n.delta_7d, delta_30d = n.delta_30d
            FROM (SELECT c.account_id, {CHANGES.format(cur="c")}
                  FROM {snapshot_rows(day, {"score": "DOUBLE"})} AS c
                  {change_joins("c", refs)}) AS n
            WHERE scores.as_of = {date_literal(day)} AND scores.account_id = n.account_id""")

