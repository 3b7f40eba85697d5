"""Snapshot history in the configured DuckDB database (DESIGN 3).

`scores` (one row per as_of x account, the columns of scores.parquet), `node_scores` (long:
one row per as_of x account x node), `snapshot_nodes` (the tree as scored that day, for
labels and windows), `runs`, and `actions` (state). Re-scoring an as_of replaces its
snapshot inside one transaction.
"""

from __future__ import annotations

import duckdb

from chs.sql import ident, node_column
from chs.tree import TreeNode

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, as_of DATE, started_at TIMESTAMP, finished_at TIMESTAMP,
        tool_version VARCHAR, config_hash VARCHAR, config_path VARCHAR, status VARCHAR,
        accounts BIGINT, manifest VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS scores (
        account_id VARCHAR, account_name VARCHAR, owner VARCHAR, segment VARCHAR, as_of DATE,
        score DOUBLE, band VARCHAR, previous_score DOUBLE, delta DOUBLE, delta_7d DOUBLE,
        delta_30d DOUBLE, coverage DOUBLE, top_risks VARCHAR, top_strengths VARCHAR, run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS node_scores (
        as_of DATE, account_id VARCHAR, node VARCHAR, node_order INTEGER, kind VARCHAR,
        variable VARCHAR, raw_value DOUBLE, raw_text VARCHAR, sub_score DOUBLE, weight DOUBLE,
        effective_weight DOUBLE, contribution DOUBLE, missing BOOLEAN, imputed BOOLEAN)""",
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


def ensure_schema(con: duckdb.DuckDBPyConnection, nodes: list[TreeNode] | None = None) -> None:
    """Create the history tables; add a `score_<path>` column for any new tree node."""
    for ddl in SCHEMA:
        con.execute(ddl)
    for node in nodes or []:
        if node.path:
            con.execute(f"ALTER TABLE scores ADD COLUMN IF NOT EXISTS {ident(node_column(node.path))} DOUBLE")


def _reference_dates(as_of: str) -> str:
    """The snapshots a change is measured against (DESIGN 2.3), relative to the SQL date `as_of`."""
    return (f"(SELECT max(h.as_of) FROM scores AS h WHERE h.as_of < {as_of}) AS prev_as_of, "
            f"(SELECT max(h.as_of) FROM scores AS h WHERE h.as_of <= {as_of} - 7) AS as_of_7d, "
            f"(SELECT max(h.as_of) FROM scores AS h WHERE h.as_of <= {as_of} - 30) AS as_of_30d")


# The change columns of a snapshot row `cur`, joined to the snapshots named by _reference_dates.
_CHANGES = ("prev.score AS previous_score, {cur}.score - prev.score AS delta, "
            "{cur}.score - h7.score AS delta_7d, {cur}.score - h30.score AS delta_30d")
_CHANGE_JOINS = "\n".join(
    f"LEFT JOIN scores AS {alias} ON {alias}.as_of = {{ref}}.{column} AND {alias}.account_id = {{cur}}.account_id"
    for alias, column in (("prev", "prev_as_of"), ("h7", "as_of_7d"), ("h30", "as_of_30d")))


def out_scores_sql(nodes: list[TreeNode]) -> str:
    """snap_scores + changes vs history + top drivers, in the column order of scores.parquet."""
    score_cols = ", ".join("s." + ident(node_column(n.path)) for n in nodes if n.path)
    return f"""
WITH ref AS (SELECT {_reference_dates("(SELECT as_of FROM __params)")}),
ranked AS (
  SELECT account_id, node, contribution,
    row_number() OVER (PARTITION BY account_id ORDER BY contribution, node_order) AS risk_rank,
    row_number() OVER (PARTITION BY account_id ORDER BY contribution DESC, node_order) AS strength_rank
  FROM snap_nodes WHERE kind = 'leaf' AND contribution <> 0
),
tops AS (
  SELECT account_id,
    string_agg(CASE WHEN risk_rank <= 3 AND contribution < 0
      THEN node || ' (' || printf('%.1f', contribution) || ')' END, '; ' ORDER BY risk_rank) AS top_risks,
    string_agg(CASE WHEN strength_rank <= 3 AND contribution > 0
      THEN node || ' (+' || printf('%.1f', contribution) || ')' END, '; ' ORDER BY strength_rank) AS top_strengths
  FROM ranked GROUP BY account_id
)
SELECT s.account_id, s.account_name, s.owner, s.segment, s.as_of, s.score, s.band,
  {_CHANGES.format(cur="s")},
  s.coverage, t.top_risks, t.top_strengths{', ' + score_cols if score_cols else ''}
FROM snap_scores AS s
CROSS JOIN ref
{_CHANGE_JOINS.format(cur="s", ref="ref")}
LEFT JOIN tops AS t ON t.account_id = s.account_id
ORDER BY s.account_id"""


def replace_snapshot(con: duckdb.DuckDBPyConnection, run_id: str, node_meta: list[tuple]) -> None:
    """Replace this as_of's snapshot with out_scores/snap_nodes. Caller holds the transaction."""
    for table in ("scores", "node_scores", "snapshot_nodes"):
        con.execute(f"DELETE FROM {table} WHERE as_of = (SELECT as_of FROM __params)")
    con.execute("INSERT INTO scores BY NAME SELECT *, $run_id AS run_id FROM out_scores", {"run_id": run_id})
    # Stored in account order so that explain's lookup of one account reads few row groups.
    con.execute("INSERT INTO node_scores BY NAME SELECT * FROM snap_nodes ORDER BY account_id, node_order")
    refresh_later_deltas(con)
    con.executemany(
        "INSERT INTO snapshot_nodes SELECT (SELECT as_of FROM __params), ?, ?, ?, ?, ?, ?, ?, ?", node_meta)




REFRESH_LATER_SQL = f"""
CREATE OR REPLACE TEMP TABLE __later_deltas AS
WITH later AS (SELECT DISTINCT as_of FROM scores WHERE as_of > (SELECT as_of FROM __params)),
refs AS (SELECT l.as_of, {_reference_dates("l.as_of")} FROM later AS l)
SELECT c.as_of, c.account_id, {_CHANGES.format(cur="c")}
FROM scores AS c JOIN refs AS r ON r.as_of = c.as_of
{_CHANGE_JOINS.format(cur="c", ref="r")}
"""


def refresh_later_deltas(con: duckdb.DuckDBPyConnection) -> None:
    """Re-scoring or back-filling an earlier date changes what later snapshots compare with:
    recompute their previous_score and deltas so the stored history stays consistent."""
    con.execute(REFRESH_LATER_SQL)
    con.execute("""UPDATE scores SET previous_score = n.previous_score, delta = n.delta,
        delta_7d = n.delta_7d, delta_30d = n.delta_30d
        FROM __later_deltas AS n WHERE scores.as_of = n.as_of AND scores.account_id = n.account_id""")

