"""Monthly revenue per account for the report, from the column the config names (`accounts.revenue`).

The history stores scores, not revenue, so the account list is read through the config (only
that one source, on the report's own read-only connection: temp tables only) and joined by
account id. `revenue_unit: year` is divided by 12, exactly as in `chs diff` (chs.scratch).
The export is read as it is now: for an old snapshot that is today's revenue, and the report
says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from chs.errors import DataError
from chs.sql import ident

if TYPE_CHECKING:
    from chs.config import LoadedConfig


def register_revenue(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> tuple[str, list[str]]:
    """Create TEMP TABLE r_revenue(account_id, revenue): monthly revenue, one row per account id.

    Returns (a sentence on where revenue comes from, warnings). A missing export or column
    is an error (exit 66 / 65), as for every command that reads the account list.
    """
    from chs.scratch import revenue_sql
    from chs.sources import register_source

    acc, warnings = loaded.config.accounts, []
    info = register_source(con, loaded, acc.source, acc.id)
    if acc.revenue not in info.columns:
        path = loaded.config.sources[acc.source].path
        raise DataError(f"{path}: column '{acc.revenue}' not found (accounts.revenue of source "
                        f"'{acc.source}'; columns: {', '.join(info.columns)})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE r_revenue AS SELECT __account AS account_id, "
        f"max({revenue_sql(loaded, 'a')}) AS revenue, count(*) AS n_rows, "
        f"count(a.{ident(acc.revenue)}) - count({revenue_sql(loaded, 'a')}) AS unreadable "
        f"FROM {ident(info.relation)} AS a WHERE __account IS NOT NULL GROUP BY __account")
    dupes, unreadable = con.execute(
        "SELECT count(*) FILTER (WHERE n_rows > 1), coalesce(sum(unreadable), 0) FROM r_revenue").fetchone()
    if dupes:
        warnings.append(f"accounts.revenue: {dupes} account ids occur more than once in the account "
                        "list; the largest revenue is used")
    if unreadable:
        warnings.append(f"accounts.revenue: {unreadable} values of column '{acc.revenue}' are not "
                        "numbers and count as no revenue")
    unit = " ÷ 12 (yearly figures)" if acc.revenue_unit == "year" else " (monthly)"
    note = (f"MRR is column '{acc.revenue}' of the account list{unit}, read when the report was made")
    return note, warnings
