"""Action rules as SQL: the one-row-per-account `action_input` table and every rule's hits.

`action_input` holds exactly the names DESIGN 2.4 promises to `when:` and the templates.
Built-in names win over variables, variables over account columns (as in `vars`).
"""

from __future__ import annotations

import duckdb

from chs.config import LoadedConfig
from chs.errors import ConfigError
from chs.history import reference_dates, snapshot_rows
from chs.sql import ident, node_column, string
from chs.tree import TreeNode

# name in action_input -> expression over out_scores (o) / previous snapshot (pb)
BUILTINS = {
    "account_id": "o.account_id", "name": "o.account_name", "owner": "o.owner", "segment": "o.segment",
    "as_of": "o.as_of", "score": "o.score", "band": "o.band", "previous_band": "pb.band",
    "delta": "o.delta", "delta_7d": "o.delta_7d", "delta_30d": "o.delta_30d", "coverage": "o.coverage",
}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {ident(table)}").fetchall()]


def action_input_sql(con: duckdb.DuckDBPyConnection, nodes: list[TreeNode], check: bool = False) -> str:
    """SELECT of one row per scored account: built-ins, node scores, variables, account columns.

    With `check`, the same columns from the plan's own tables only (no history), so `when:`
    fragments can be bound before anything is scored (validate, or the start of a run).
    """
    cols = [f"{expr} AS {ident(name)}" for name, expr in BUILTINS.items()]
    taken = set(BUILTINS)
    # `level` ('account' | 'parent', chs/rollup.py) lets a rule target parents; a scoring
    # table without rollups (the validate check, chs diff's side runs) has account rows only.
    # A variable or account column of that name predates rollups and keeps its meaning.
    if "level" not in _columns(con, "vars"):
        has_level = not check and "level" in _columns(con, "out_scores")
        cols.append(f"{'o.level' if has_level else string('account')} AS level")
        taken.add("level")
    for node in nodes:
        if node.path and node_column(node.path) not in taken:
            cols.append("o." + ident(node_column(node.path)))
            taken.add(node_column(node.path))
    # `vars` = account columns + variables (variables already shadow same-named columns);
    # internal columns start with "__".
    cols += ["v." + ident(c) for c in _columns(con, "vars") if not c.startswith("__") and c not in taken]
    if check:
        source = ("(SELECT *, NULL::DOUBLE AS delta, NULL::DOUBLE AS delta_7d, NULL::DOUBLE AS delta_30d "
                  "FROM snap_scores) AS o")
        previous = "(SELECT NULL::VARCHAR AS band) AS pb ON true"
    else:
        source = "out_scores AS o"
        # The previous snapshot by its date: only its row groups are read and hashed.
        prev = snapshot_rows(reference_dates(con)["prev"], {"band": "VARCHAR"})
        previous = f"{prev} AS pb ON pb.account_id = o.account_id"
    return (f"SELECT {', '.join(cols)}\nFROM {source}\n"
            f"JOIN vars AS v ON v.__account = o.account_id\nLEFT JOIN {previous}")


def build_action_input(con: duckdb.DuckDBPyConnection, nodes: list[TreeNode], check: bool = False) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE action_input AS\n{action_input_sql(con, nodes, check)}")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0].removeprefix("Binder Error: ").removeprefix("Parser Error: ")


def check_rules(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
    """Bind every `when`, `owner` and `channel` against action_input/acct; all problems at once (78)."""
    if not loaded.config.actions:
        return
    problems: list[str] = []
    account_columns = [c for c in _columns(con, "acct") if not c.startswith("__")]
    for i, rule in enumerate(loaded.config.actions):
        try:
            con.execute(f"SELECT ({rule.when}) FROM action_input LIMIT 0")
        except duckdb.Error as exc:
            problems.append(f"{loaded.at('actions', i, 'when')}: {_first_line(exc)}")
        for key in ("owner", "channel"):
            column = getattr(rule, key)
            if column is not None and column not in account_columns:
                problems.append(f"{loaded.at('actions', i, key)}: no column '{column}' in the accounts "
                                f"source (columns: {', '.join(account_columns)})")
    if problems:
        raise ConfigError(problems)


def hits_sql(loaded: LoadedConfig) -> str:
    """Every (rule, account) whose `when` holds, with the rule's routing: one SELECT per rule."""
    parts = []
    for i, rule in enumerate(loaded.config.actions):
        owner = f"CAST(a.{ident(rule.owner)} AS VARCHAR)" if rule.owner else "h.owner"
        channel = f"CAST(a.{ident(rule.channel)} AS VARCHAR)" if rule.channel else "NULL::VARCHAR"
        parts.append(
            f"SELECT {i} AS rule_order, {string(rule.id)} AS rule, h.account_id, {owner} AS owner, "
            f"{channel} AS channel\n"
            f"FROM (SELECT account_id, owner FROM action_input WHERE ({rule.when})) AS h\n"
            f"LEFT JOIN acct AS a ON a.__account = h.account_id")
    return "\nUNION ALL\n".join(parts)


def rules_rows(loaded: LoadedConfig) -> list[tuple]:
    """(rule, priority, due days, cooldown days) per rule, for the `__action_rules` table."""
    from chs.durations import parse_days
    return [(r.id, r.priority, parse_days(r.due), parse_days(r.cooldown) if r.cooldown else 0)
            for r in loaded.config.actions]

