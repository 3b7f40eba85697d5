"""Creating actions for one snapshot: de-duplication, ids and storage, all in SQL (DESIGN 2.4).

A (rule, account) pair that fires on as_of D is created unless an action for it, created
before D, is still open or D is within the rule's cooldown of that action's creation date.
Re-scoring D replaces D's actions: a pair that fires again keeps its action_id, status,
note and delivery state (so a re-run never re-sends or duplicates it); a pair that no longer
fires is deleted. Ids come from a high-water mark, so a deleted id is never reused.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import polars as pl

from chs.actions.reason import build_leaf_labels, reasons_sql
from chs.actions.rules import build_action_input, check_rules, hits_sql, rules_rows
from chs.actions.templates import render_action
from chs.compiler import Plan
from chs.config import LoadedConfig

# Columns added after the first schema; old databases get them on the next run.
_LATE_COLUMNS = {"created_at": "TIMESTAMP", "delivered_at": "TIMESTAMP"}

_NEW = """
CREATE OR REPLACE TEMP TABLE __action_new AS
WITH fresh AS (
  SELECT h.rule_order, h.rule, h.account_id, h.owner, h.channel, r.priority,
    p.as_of + r.due_days AS due_date, p.as_of + r.cooldown_days AS cooldown_until,
    old.action_id AS old_id
  FROM __action_hits AS h
  JOIN __action_rules AS r ON r.rule = h.rule
  CROSS JOIN __params AS p
  LEFT JOIN actions AS old
    ON old.rule = h.rule AND old.account_id = h.account_id AND old.created_as_of = p.as_of
  WHERE NOT EXISTS (
    SELECT 1 FROM actions AS a
    WHERE a.rule = h.rule AND a.account_id = h.account_id AND a.created_as_of < p.as_of
      AND (a.status = 'open' OR p.as_of < a.created_as_of + r.cooldown_days))
)
SELECT f.*, coalesce(f.old_id, (SELECT max(last_id) FROM action_ids)
  + row_number() OVER (PARTITION BY f.old_id IS NULL ORDER BY f.rule_order, f.account_id)) AS action_id
FROM fresh AS f"""

_BUMP_IDS = """
UPDATE action_ids SET last_id = greatest(last_id, (SELECT coalesce(max(action_id), 0) FROM actions))"""

# Actions created on this as_of by an earlier run whose pair does not fire any more.
_DELETE_STALE = """
DELETE FROM actions
WHERE created_as_of = (SELECT as_of FROM __params)
  AND NOT EXISTS (SELECT 1 FROM __action_new AS n
                  WHERE n.rule = actions.rule AND n.account_id = actions.account_id)"""

_FINAL = """
CREATE OR REPLACE TEMP TABLE __action_final AS
SELECT n.action_id, n.old_id, n.rule, n.account_id, i.name AS account_name, n.owner, n.channel,
  n.priority, p.as_of AS created_as_of, n.due_date, n.cooldown_until, t.title, t.detail, rs.reason
FROM __action_new AS n
JOIN action_input AS i ON i.account_id = n.account_id
JOIN __action_text AS t ON t.action_id = n.action_id
LEFT JOIN __action_reasons AS rs ON rs.account_id = n.account_id
CROSS JOIN __params AS p"""

_REFRESH = """
UPDATE actions SET account_name = f.account_name, owner = f.owner, channel = f.channel,
  priority = f.priority, due_date = f.due_date, cooldown_until = f.cooldown_until, title = f.title,
  detail = f.detail, reason = f.reason, run_id = $run_id
FROM __action_final AS f
WHERE actions.action_id = f.action_id AND f.old_id IS NOT NULL"""

_INSERT = """
INSERT INTO actions BY NAME
SELECT action_id, rule, account_id, account_name, owner, channel, priority, created_as_of, due_date,
  cooldown_until, title, detail, reason, 'open' AS status, $run_id AS run_id,
  $delivery AS delivery_status, 0 AS delivery_attempts, now()::TIMESTAMP AS created_at
FROM __action_final WHERE old_id IS NULL"""


def check_actions(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, plan: Plan) -> None:
    """Bind every rule on the plan's (dry-run) tables; ConfigError (78) naming each bad rule key.

    For `prepare` (validate, and the start of `score`), after `dry_run`: a bad `when:` is
    reported before anything is scored instead of failing inside the snapshot transaction.
    """
    if loaded.config.actions:
        build_action_input(con, plan.nodes, check=True)
        check_rules(con, loaded)


def ensure_action_tables(con: duckdb.DuckDBPyConnection) -> None:
    for column, kind in _LATE_COLUMNS.items():
        con.execute(f"ALTER TABLE actions ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.execute("INSERT INTO action_ids SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM action_ids)")
    con.execute(_BUMP_IDS)


def _hits(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, plan: Plan) -> None:
    """`__action_rules` and `__action_hits` (every (rule, account) whose `when` holds)."""
    con.execute("CREATE OR REPLACE TEMP TABLE __action_rules "
                "(rule VARCHAR, priority VARCHAR, due_days INTEGER, cooldown_days INTEGER)")
    if not loaded.config.actions:
        con.execute("CREATE OR REPLACE TEMP TABLE __action_hits (rule_order INTEGER, rule VARCHAR, "
                    "account_id VARCHAR, owner VARCHAR, channel VARCHAR)")
        return
    con.executemany("INSERT INTO __action_rules VALUES (?, ?, ?, ?)", rules_rows(loaded))
    build_action_input(con, plan.nodes)
    check_rules(con, loaded)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __action_hits AS\n{hits_sql(loaded)}")


def _render(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> pl.DataFrame:
    """Title and detail of every action of this snapshot, rendered from its account's row."""
    import polars as pl  # only when there are actions to render: keeps `chs` start-up fast
    cur = con.execute("SELECT * FROM action_input WHERE account_id IN (SELECT account_id FROM __action_new)")
    names = [d[0] for d in cur.description]
    rows = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    rules = {r.id: r for r in loaded.config.actions}
    ids, titles, details = [], [], []
    for action_id, rule, account_id, priority, due_date, channel, reason in con.execute(
            "SELECT n.action_id, n.rule, n.account_id, n.priority, n.due_date, n.channel, rs.reason "
            "FROM __action_new AS n LEFT JOIN __action_reasons AS rs ON rs.account_id = n.account_id "
            "ORDER BY n.action_id").fetchall():
        extras = {"rule": rule, "priority": priority, "due_date": due_date, "channel": channel,
                  "reason": reason}
        context = {**extras, **rows[account_id]}  # the account's row wins over the extras
        title, detail = render_action(rule, rules[rule].title, rules[rule].detail, context)
        ids.append(action_id)
        titles.append(title)
        details.append(detail)
    return pl.DataFrame({"action_id": ids, "title": titles, "detail": details},
                        schema={"action_id": pl.Int64, "title": pl.String, "detail": pl.String})


def evaluate_actions(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, plan: Plan, run_id: str,
                     as_of: dt.date) -> int:
    """Create this snapshot's actions (caller holds the transaction); return how many it has."""
    ensure_action_tables(con)
    _hits(con, loaded, plan)
    con.execute(_NEW)
    con.execute(_DELETE_STALE)
    count = con.execute("SELECT count(*) FROM __action_new").fetchone()[0]  # type: ignore[index]
    if count == 0:
        return 0
    build_leaf_labels(con, loaded, plan.nodes)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __action_reasons AS {reasons_sql('__action_new')}")
    text = _render(con, loaded)
    con.register("__action_text_frame", text)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE __action_text AS SELECT * FROM __action_text_frame")
    finally:
        con.unregister("__action_text_frame")
    con.execute(_FINAL)
    con.execute(_REFRESH, {"run_id": run_id})
    delivery = "pending" if loaded.config.delivery is not None else None
    con.execute(_INSERT, {"run_id": run_id, "delivery": delivery})
    con.execute(_BUMP_IDS)
    return int(count)
