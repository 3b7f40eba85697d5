"""Which snapshots a report compares, what its leaves mean, and the per-report temp tables.

Everything is read from the stored history (runs, scores, node_scores, snapshot_nodes);
nothing is recomputed from the exports. The one exception is revenue: the history does not
store it, so when the config declares `accounts.revenue` that column is read from the
account list (chs/report/revenue.py). The two temp tables `r_cur` (one row per account at
as_of, with monthly revenue and days to renewal) and `r_cmp` (the compared snapshot) are
what every section queries, so each big table is scanned once per report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from chs.errors import InputMissingError, UsageError
from chs.report.model import Band, ReportOptions

if TYPE_CHECKING:
    from chs.config import LoadedConfig


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
    revenue_source: str | None = None  # "accounts" (accounts.revenue), "leaf" (name fallback) or None
    revenue_note: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def has_mrr(self) -> bool:
        return self.revenue_source is not None

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
    # Views count: `node_scores` is a view over `node_values` since history layout 2.
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                       "UNION SELECT view_name FROM duckdb_views() WHERE NOT temporary").fetchall()
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


def _is_nps(leaf: Leaf) -> bool:
    """An `agg: nps` variable (its description starts with `nps`), else a variable named like nps."""
    return (leaf.description or "").lower().startswith("nps")


def open_context(con: duckdb.DuckDBPyConnection, options: ReportOptions, bands: list[Band],
                 loaded: LoadedConfig | None = None) -> Context:
    """Resolve the snapshots, leaf roles and revenue, and build r_cur / r_cmp.

    With `loaded` and `accounts.revenue` declared, revenue is that column of the account list;
    otherwise (the old behaviour) the raw value of a leaf whose variable is named like `mrr`,
    with a warning, since a name is a guess.
    """
    tables = _tables(con)
    if not {"scores", "node_scores", "snapshot_nodes", "runs"} <= tables:
        raise InputMissingError("no snapshots stored yet; run `chs score` first")
    as_of, compared, note, count = _resolve_dates(con, options)
    leaves = _leaves(con, as_of)
    declared = loaded is not None and loaded.config.accounts.revenue is not None
    mrr_leaf = None if declared else _find(leaves, lambda lf: "mrr" in lf.variable.lower())
    ctx = Context(
        con=con, options=options, bands=bands, as_of=as_of, compared=compared, compared_note=note,
        snapshots=count, leaves=leaves, mrr_leaf=mrr_leaf,
        nps_leaf=(_find(leaves, _is_nps) or _find(leaves, lambda lf: "nps" in lf.variable.lower())),
        renewal_leaf=_find(leaves, lambda lf: "renewal" in lf.variable.lower()),
        manifest=_manifest(con, as_of), has_actions="actions" in tables,
    )
    if declared:
        from chs.report.revenue import register_revenue
        ctx.revenue_source = "accounts"
        ctx.revenue_note, warnings = register_revenue(con, loaded)
        ctx.warnings += warnings
    elif mrr_leaf is not None:
        ctx.revenue_source = "leaf"
        ctx.revenue_note = (f"MRR is the raw value of leaf {mrr_leaf.node} (variable '{mrr_leaf.variable}', "
                            "found by its name)")
        ctx.warnings.append(
            f"no accounts.revenue declared: revenue at risk uses the leaf {mrr_leaf.node} because its "
            f"variable '{mrr_leaf.variable}' is named like mrr; declare accounts.revenue (and "
            "revenue_unit) in the config to use the account list's revenue column")
    _build_tables(ctx)
    return ctx


def _leaf_order(ctx: Context, leaf: Leaf | None, day: dt.date | None) -> int | None:
    """The leaf's node_order in the snapshot of `day` (the tree may differ between snapshots)."""
    if leaf is None or day is None:
        return None
    if day == ctx.as_of:
        return leaf.node_order
    row = ctx.con.execute("SELECT node_order FROM snapshot_nodes WHERE as_of = $day AND node = $n",
                          {"day": day, "n": leaf.node}).fetchone()
    return None if row is None else int(row[0])


def _leaf_join(alias: str, order: int | None, day_param: str = "$d") -> tuple[str, str]:
    """(select expression, join) for one leaf's raw value on the snapshot `day_param`.

    Filtering on node_order (an integer, unique within the snapshot) is an order of magnitude
    faster than on the node path over node_scores' many rows.
    """
    if order is None:
        return f"NULL::DOUBLE AS {alias}", ""
    return (f"{alias}.raw_value AS {alias}",
            (f"LEFT JOIN (SELECT account_id, raw_value FROM node_scores WHERE as_of = {day_param} "
            f"AND node_order = {int(order)}) AS {alias} ON {alias}.account_id = s.account_id"))


def _revenue_join(ctx: Context, day_param: str, day: dt.date | None) -> tuple[str, str]:
    if ctx.revenue_source == "accounts":
        return "rv.revenue AS mrr", "LEFT JOIN r_revenue AS rv ON rv.account_id = s.account_id"
    return _leaf_join("mrr", _leaf_order(ctx, ctx.mrr_leaf, day), day_param)


def _build_tables(ctx: Context) -> None:
    """r_cur: one row per account at as_of with its revenue, days to renewal and compared score;
    r_cmp: the compared snapshot's accounts with their revenue."""
    con = ctx.con
    mrr_col, mrr_join = _revenue_join(ctx, "$d", ctx.as_of)
    ren_col, ren_join = _leaf_join("renewal", _leaf_order(ctx, ctx.renewal_leaf, ctx.as_of))
    cmp_col, cmp_join = _revenue_join(ctx, "$c", ctx.compared)
    con.execute("CREATE OR REPLACE TEMP TABLE r_cmp AS SELECT s.account_id, s.account_name, s.owner, "
                f"s.segment, s.score, s.band, {cmp_col} FROM scores AS s {cmp_join} WHERE s.as_of = $c",
                {"c": ctx.compared})
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_cur AS SELECT s.account_id, s.account_name, s.owner, s.segment, "
        f"s.score, s.band, s.coverage, s.top_risks, {mrr_col}, {ren_col}, p.score AS prev_score, "
        "p.band AS prev_band, p.owner AS prev_owner FROM scores AS s "
        f"{mrr_join} {ren_join} LEFT JOIN r_cmp AS p ON p.account_id = s.account_id WHERE s.as_of = $d",
        {"d": ctx.as_of})
    con.execute("CREATE OR REPLACE TEMP TABLE r_bands (band VARCHAR, rank INTEGER, at_risk BOOLEAN)")
    con.executemany("INSERT INTO r_bands VALUES (?, ?, ?)", [(b.name, b.rank, b.at_risk) for b in ctx.bands])
