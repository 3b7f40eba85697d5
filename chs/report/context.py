"""Which snapshots a report compares, what its leaves mean, and the per-report temp tables.

Everything is read from the stored history (runs, scores, node_scores, snapshot_nodes);
nothing is recomputed from the exports. The two temp tables `r_cur` (one row per account
at as_of, with MRR and days to renewal when a leaf provides them) and `r_cmp` (the compared
snapshot) are what every section queries, so each big table is scanned once per report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from chs.errors import InputMissingError, UsageError
from chs.report.model import Band, ReportOptions


@dataclass(frozen=True)
class Leaf:
    node: str
    node_order: int
    label: str
    variable: str | None
    description: str | None


@dataclass
class Context:
    con: duckdb.DuckDBPyConnection
    options: ReportOptions
    bands: list[Band]
    as_of: dt.date
    compared: dt.date | None
    compared_note: str
    snapshots: int
    leaves: list[Leaf]
    mrr_leaf: Leaf | None
    nps_leaf: Leaf | None
    renewal_leaf: Leaf | None
    manifest: dict[str, Any]
    has_actions: bool

    @property
    def params(self) -> dict[str, Any]:
        """Named parameters every section may use."""
        return {"d": self.as_of, "c": self.compared,
                "risk": [b.name for b in self.bands if b.at_risk]}

    def band(self, name: str | None) -> Band:
        for b in self.bands:
            if b.name == name:
                return b
        # A band that no longer exists in the config: shown, never coloured as another one.
        return Band(name or "unknown", None, len(self.bands), "#BBBBBB", "ring", at_risk=False)

    def leaf_label(self, node: str) -> str:
        return next((leaf.label for leaf in self.leaves if leaf.node == node), node)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
    return {r[0] for r in rows}


def _resolve_dates(con: duckdb.DuckDBPyConnection,
                   options: ReportOptions) -> tuple[dt.date, dt.date | None, str, int]:
    """(as_of, compared snapshot or None, how it was chosen, snapshots up to as_of)."""
    dates = [r[0] for r in con.execute("SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall()]
    if not dates:
        raise InputMissingError("no snapshots stored yet; run `chs score` first")
    wanted = options.as_of or dates[-1]
    eligible = [d for d in dates if d <= wanted]
    if not eligible:
        raise UsageError(f"no snapshot on or before {wanted}; the first one is {dates[0]}")
    as_of = eligible[-1]
    target = as_of - dt.timedelta(days=options.since_days)
    older = [d for d in dates if d <= target]
    if older:
        compared, note = older[-1], f"latest snapshot at least {options.since_days} days earlier"
    else:
        before = [d for d in dates if d < as_of]
        compared = before[0] if before else None
        note = (f"no snapshot {options.since_days} days earlier; the oldest one is used" if before
                else "first snapshot: nothing to compare with")
    return as_of, compared, note, len(eligible)


def _leaves(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[Leaf]:
    rows = con.execute(
        "SELECT node, node_order, label, variable, description FROM snapshot_nodes "
        "WHERE as_of = $d AND kind = 'leaf' ORDER BY node_order", {"d": as_of}).fetchall()
    return [Leaf(*r) for r in rows]


def _find(leaves: list[Leaf], test) -> Leaf | None:
    return next((leaf for leaf in leaves if leaf.variable and test(leaf)), None)


def _manifest(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, Any]:
    row = con.execute("SELECT manifest FROM runs WHERE as_of = $d AND status = 'ok' "
                      "ORDER BY finished_at DESC NULLS LAST LIMIT 1", {"d": as_of}).fetchone()
    if not row or not row[0]:
        return {}
    try:
        return json.loads(row[0])
    except ValueError:
        return {}


def open_context(con: duckdb.DuckDBPyConnection, options: ReportOptions, bands: list[Band]) -> Context:
    """Resolve the snapshots and leaf roles, and build r_cur / r_cmp."""
    tables = _tables(con)
    if not {"scores", "node_scores", "snapshot_nodes", "runs"} <= tables:
        raise InputMissingError("no snapshots stored yet; run `chs score` first")
    as_of, compared, note, count = _resolve_dates(con, options)
    leaves = _leaves(con, as_of)
    ctx = Context(
        con=con, options=options, bands=bands, as_of=as_of, compared=compared, compared_note=note,
        snapshots=count, leaves=leaves,
        mrr_leaf=_find(leaves, lambda lf: "mrr" in lf.variable.lower()),
        nps_leaf=_find(leaves, lambda lf: (lf.description or "").lower().startswith("nps")),
        renewal_leaf=_find(leaves, lambda lf: "renewal" in lf.variable.lower()),
        manifest=_manifest(con, as_of), has_actions="actions" in tables,
    )
    _build_tables(ctx)
    return ctx


def _leaf_join(alias: str, leaf: Leaf | None) -> tuple[str, str]:
    """(select expression, join) for one leaf's raw value at as_of.

    Filtering on node_order (an integer, unique within the snapshot) is an order of magnitude
    faster than on the node path over node_scores' many rows.
    """
    if leaf is None:
        return f"NULL::DOUBLE AS {alias}", ""
    return (f"{alias}.raw_value AS {alias}",
            (f"LEFT JOIN (SELECT account_id, raw_value FROM node_scores WHERE as_of = $d "
            f"AND node_order = {int(leaf.node_order)}) AS {alias} ON {alias}.account_id = s.account_id"))


def _build_tables(ctx: Context) -> None:
    """r_cur: one row per account at as_of with its MRR, days to renewal and compared score."""
    con = ctx.con
    mrr_col, mrr_join = _leaf_join("mrr", ctx.mrr_leaf)
    ren_col, ren_join = _leaf_join("renewal", ctx.renewal_leaf)
    con.execute("CREATE OR REPLACE TEMP TABLE r_cmp AS SELECT account_id, score, band FROM scores "
                "WHERE as_of = $c", {"c": ctx.compared})
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_cur AS SELECT s.account_id, s.account_name, s.owner, s.segment, "
        f"s.score, s.band, s.coverage, s.top_risks, {mrr_col}, {ren_col}, p.score AS prev_score, "
        "p.band AS prev_band FROM scores AS s "
        f"{mrr_join} {ren_join} LEFT JOIN r_cmp AS p ON p.account_id = s.account_id WHERE s.as_of = $d",
        {"d": ctx.as_of})
    con.execute("CREATE OR REPLACE TEMP TABLE r_bands (band VARCHAR, rank INTEGER, at_risk BOOLEAN)")
    con.executemany("INSERT INTO r_bands VALUES (?, ?, ?)", [(b.name, b.rank, b.at_risk) for b in ctx.bands])
