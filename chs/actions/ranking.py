"""`chs actions --sort revenue`: actions ordered by their account's revenue, largest first.

Revenue is the declared `accounts.revenue` column of the account list (monthly; yearly
figures ÷ 12), read now as the report reads it; never guessed from column names. A parent
account (accounts.parent) counts with its family revenue: its own plus every account's
below it, as in the rollup weights. Ties keep the list's order (due date, priority, id).
"""

from __future__ import annotations

from typing import Any

from chs.config import LoadedConfig
from chs.errors import UsageError


def by_revenue(loaded: LoadedConfig, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """`rows` (from list_actions) reordered by revenue, each with a `revenue` key; and warnings.

    Without `accounts.revenue` in the config: UsageError (2) saying what to declare, as `chs scores`."""
    acc = loaded.config.accounts
    if acc.revenue is None:
        raise UsageError("--sort revenue needs revenue: declare `accounts.revenue` (the revenue column of the "
                         "accounts export, with `revenue_unit: month|year`) in the config; it is never guessed "
                         "from column names")
    if not rows:
        return rows, []
    from chs.db import memory
    from chs.report.revenue import register_revenue
    from chs.rollup import register_hierarchy

    con = memory()
    try:
        _, warnings = register_revenue(con, loaded)  # r_revenue(account_id, revenue)
        family = "rv.revenue"
        if acc.parent is not None:
            register_hierarchy(con, loaded)  # __ancestors(account_id, ancestor_id, ...)
            con.execute("""CREATE TEMP TABLE __below AS SELECT x.ancestor_id AS account_id,
                sum(greatest(coalesce(r.revenue, 0.0), 0.0)) AS revenue
                FROM __ancestors AS x JOIN r_revenue AS r ON r.account_id = x.account_id GROUP BY 1""")
            family = "CASE WHEN b.account_id IS NULL THEN rv.revenue ELSE coalesce(rv.revenue, 0.0) + b.revenue END"
        below = "LEFT JOIN __below AS b ON b.account_id = l.account_id" if acc.parent is not None else ""
        order = con.execute(f"""
            WITH listed AS (SELECT unnest($ids) AS account_id, unnest(range(len($ids))) AS pos)
            SELECT l.pos, {family} AS revenue FROM listed AS l
            LEFT JOIN r_revenue AS rv ON rv.account_id = l.account_id {below}
            ORDER BY revenue DESC NULLS LAST, l.pos""",
                            {"ids": [str(r["account_id"]) for r in rows]}).fetchall()
    finally:
        con.close()
    return [{**rows[pos], "revenue": revenue} for pos, revenue in order], warnings
