"""Scoring into a scratch, in-memory database: backtest --rescore, calibrate and diff (DESIGN 6).

The stored history is never opened for writing here. Each date runs the same compiled plan
as `chs score` (so a rescored snapshot equals what `chs score` would have stored for that
date), and its per-account rows are appended to one scratch table:

- `rescored`: as_of, account_id, account_name, segment, score, band, coverage, revenue and
  one `score_<path>` column per tree node (the columns backtest reads from history too);
- `rescored_vars` (with `keep_variables`): as_of, account_id and every numeric variable,
  for calibrate's screening of variables that are not in the tree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from chs.config import LoadedConfig
from chs.db import memory
from chs.export_checks import naming_corrupt_exports
from chs.pipeline import Prepared, prepare, set_as_of
from chs.sql import ident

# The per-account rows of every node (drivers) are not needed for any of these commands.
SKIPPED_STEPS = {"snap_meta"}
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN")

Progress = Callable[[str], None]


@dataclass
class Scratch:
    """An in-memory connection holding the `rescored` (and `rescored_vars`) tables."""

    con: duckdb.DuckDBPyConnection
    prepared: Prepared
    dates: list[dt.date]


def revenue_sql(loaded: LoadedConfig, alias: str = "v") -> str:
    """Monthly revenue of an account from `accounts.revenue` (NULL when not declared)."""
    acc = loaded.config.accounts
    if acc.revenue is None:
        return "NULL::DOUBLE"
    value = f"TRY_CAST({alias}.{ident(acc.revenue)} AS DOUBLE)"
    return f"{value} / 12.0" if acc.revenue_unit == "year" else value


def run_date(prep: Prepared, loaded: LoadedConfig, as_of: dt.date) -> None:
    """Run the plan for one date: leaves `vars`, `scored` and `snap_scores` for that date.
    Steps run through the same safety net as `chs score`: a fragment failing on data is 78."""
    from chs.fragment_locate import run_step
    set_as_of(prep.con, as_of)
    for step in prep.plan_for(as_of).steps:
        if step.table not in SKIPPED_STEPS:
            run_step(prep.con, loaded, prep.sources, step)


def numeric_variables(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> list[str]:
    """Declared variables whose values are numbers (after a plan run or dry run)."""
    types = {r[0]: r[1] for r in con.execute("DESCRIBE vars").fetchall()}
    names = list(loaded.config.variables) + (["tenure_days"] if "tenure_days" in types else [])
    return [n for n in dict.fromkeys(names) if types.get(n, "").startswith(_NUMERIC)]


def rescore(loaded: LoadedConfig, dates: list[dt.date], keep_variables: bool = False,
            progress: Progress | None = None) -> Scratch:
    """Score `loaded` on each date into a fresh in-memory database."""
    con = memory()
    with naming_corrupt_exports(loaded):
        prep = prepare(con, loaded, dates[0])
    node_cols = [ident("score_" + n.path.replace(".", "_")) for n in prep.plan.nodes if n.path]
    variables = numeric_variables(con, loaded) if keep_variables else []
    select = (f"SELECT s.as_of, s.account_id, s.account_name, s.segment, s.score, s.band, s.coverage, "
              f"{revenue_sql(loaded)} AS revenue{''.join(', s.' + c for c in node_cols)}\n"
              f"FROM snap_scores AS s JOIN vars AS v ON v.__account = s.account_id")
    var_select = ("SELECT p.as_of, v.__account AS account_id"
                  + "".join(f", TRY_CAST(v.{ident(n)} AS DOUBLE) AS {ident(n)}" for n in variables)
                  + " FROM vars AS v, __params AS p")
    for i, as_of in enumerate(dates):
        with naming_corrupt_exports(loaded):
            run_date(prep, loaded, as_of)
        verb = "CREATE TABLE rescored AS" if i == 0 else "INSERT INTO rescored"
        con.execute(f"{verb} {select}")
        if keep_variables:
            verb = "CREATE TABLE rescored_vars AS" if i == 0 else "INSERT INTO rescored_vars"
            con.execute(f"{verb} {var_select}")
        if progress:
            progress(f"rescored {as_of} ({i + 1}/{len(dates)})")
    return Scratch(con=con, prepared=prep, dates=list(dates))
