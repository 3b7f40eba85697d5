"""An action's reason: its account's top 3 risk drivers in words, computed in SQL.

"Support load 12 (−6.1 pts); Usage trend −42% (−4.0 pts); NPS −20 (−2.2 pts)": the leaves
with the most negative contributions, each with its label, raw value and points.
"""

from __future__ import annotations

import duckdb

from chs.config import LoadedConfig
from chs.tree import TreeNode

MINUS = "\u2212"  # a real minus sign: reasons are read by people, not parsed
PERCENT_AGGS = {"pct_change", "share"}  # fractions people read as percentages


def build_leaf_labels(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, nodes: list[TreeNode]) -> None:
    """Temp table `__action_leaves(node, label, percent)` from the scored tree."""
    con.execute("CREATE OR REPLACE TEMP TABLE __action_leaves (node VARCHAR, label VARCHAR, percent BOOLEAN)")
    rows = []
    for n in nodes:
        if n.is_leaf:
            var = loaded.config.variables.get(n.variable or "")
            rows.append((n.path, n.label, bool(var and var.agg in PERCENT_AGGS)))
    if rows:
        con.executemany("INSERT INTO __action_leaves VALUES (?, ?, ?)", rows)


def _signed(expr: str) -> str:
    """SQL text of a number with a real minus sign (printf would give a hyphen)."""
    return f"(CASE WHEN ({expr}) < 0 THEN '{MINUS}' ELSE '' END)"


def _value_text() -> str:
    raw = "n.raw_value"
    plain = (f"CASE WHEN {raw} = trunc({raw}) AND abs({raw}) < 1e15 "
             f"THEN printf('%d', CAST(abs({raw}) AS BIGINT)) "
             f"ELSE rtrim(rtrim(printf('%.2f', abs({raw})), '0'), '.') END")
    return (f"CASE WHEN n.missing THEN 'missing' WHEN n.raw_text IS NOT NULL THEN n.raw_text "
            f"WHEN l.percent THEN {_signed(raw)} || printf('%.0f', abs({raw}) * 100) || '%' "
            f"ELSE {_signed(raw)} || {plain} END")


def reasons_sql(accounts_table: str) -> str:
    """SELECT account_id, reason for the accounts in `accounts_table` (a column account_id)."""
    points = f"{_signed('n.contribution')} || printf('%.1f', abs(n.contribution)) || ' pts'"
    return f"""
WITH ranked AS (
  SELECT n.account_id, l.label || ' ' || ({_value_text()}) || ' (' || {points} || ')' AS driver,
    row_number() OVER (PARTITION BY n.account_id ORDER BY n.contribution, n.node_order) AS k
  FROM snap_nodes AS n
  JOIN __action_leaves AS l ON l.node = n.node
  WHERE n.kind = 'leaf' AND n.contribution <= -0.05
    AND n.account_id IN (SELECT account_id FROM {accounts_table})
)
SELECT account_id, string_agg(driver, '; ' ORDER BY k) AS reason
FROM ranked WHERE k <= 3 GROUP BY account_id"""
