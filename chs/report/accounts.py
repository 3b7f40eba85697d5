"""Account lists: movers, band changes and the at-risk list, each a top-N query.

The driver of a change is the leaf with the largest |Δ(effective_weight × sub_score)|
between the two snapshots: those parts add up exactly to the score change (DESIGN 2.3).
"""

from __future__ import annotations

import re
from typing import Any

from chs.report.context import Context
from chs.report.model import AccountRow, AtRisk, Driver, Movers
from chs.report.redact import Pseudonyms

_COLUMNS = ("c.account_id, c.account_name, c.owner, c.segment, c.score, c.band, c.prev_score, c.prev_band, "
            "c.score - c.prev_score AS delta, c.mrr, c.renewal, c.top_risks")
_RISK = re.compile(r"^(?P<node>.+) \((?P<points>[-+]?[0-9.]+)\)$")


def _rows(ctx: Context, sql: str, params: dict[str, Any], names: Pseudonyms | None) -> list[AccountRow]:
    out = []
    for (account_id, name, owner, segment, score, band, prev_score, prev_band, delta, mrr, renewal,
         top_risks) in ctx.con.execute(sql, params).fetchall():
        out.append(AccountRow(
            account_id=account_id,
            name=names.account(account_id) if names else name,
            owner=names.owner(owner) if names and owner is not None else owner,
            segment=segment, score=score, band=ctx.band(band), prev_score=prev_score,
            prev_band=ctx.band(prev_band) if prev_band is not None else None, delta=delta,
            mrr=mrr, days_to_renewal=renewal, risks=_parse_risks(ctx, top_risks)))
    return out


def _parse_risks(ctx: Context, text: str | None) -> list[Driver]:
    """`success.adoption (-12.0); value.payment (-6.3)` as stored in scores.top_risks."""
    drivers = []
    for part in (text or "").split("; "):
        match = _RISK.match(part.strip())
        if match:
            node = match["node"]
            drivers.append(Driver(node, ctx.leaf_label(node), float(match["points"])))
    return drivers


def _attach_drivers(ctx: Context, rows: list[AccountRow]) -> None:
    ids = sorted({r.account_id for r in rows})
    if not ids or ctx.compared is None:
        return
    found = ctx.con.execute("""
        WITH parts AS (
          SELECT account_id, node, min(node_order) AS node_order,
                 sum(CASE WHEN as_of = $d THEN coalesce(effective_weight * sub_score, 0) ELSE 0 END)
               - sum(CASE WHEN as_of = $c THEN coalesce(effective_weight * sub_score, 0) ELSE 0 END) AS part
          FROM node_scores
          WHERE kind = 'leaf' AND (as_of = $d OR as_of = $c) AND list_contains($ids, account_id)
          GROUP BY account_id, node)
        SELECT account_id, node, part FROM parts WHERE part <> 0
        QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY abs(part) DESC, node_order) = 1""",
        {"d": ctx.as_of, "c": ctx.compared, "ids": ids}).fetchall()
    by_id = {a: Driver(node, ctx.leaf_label(node), part) for a, node, part in found}
    for row in rows:
        row.driver = by_id.get(row.account_id)


def movers(ctx: Context, names: Pseudonyms | None) -> Movers:
    o = ctx.options
    drops = _rows(ctx, f"SELECT {_COLUMNS} FROM r_cur AS c WHERE c.score < c.prev_score "
                       "ORDER BY delta, c.account_id LIMIT $n", {"n": o.top_movers}, names)
    gains = _rows(ctx, f"SELECT {_COLUMNS} FROM r_cur AS c WHERE c.score > c.prev_score "
                       "ORDER BY delta DESC, c.account_id LIMIT $n", {"n": o.top_movers}, names)
    # Worsening first (to a lower band or to unknown), then by MRR, then by size of the change.
    changed = ("FROM r_cur AS c LEFT JOIN r_bands AS bc ON bc.band = c.band "
               "LEFT JOIN r_bands AS bp ON bp.band = c.prev_band "
               "WHERE c.prev_band IS NOT NULL AND c.band IS DISTINCT FROM c.prev_band")
    order = ("coalesce(bc.rank, 99) > coalesce(bp.rank, 99) DESC, c.mrr DESC NULLS LAST, "
             "abs(c.score - c.prev_score) DESC NULLS LAST, c.account_id")
    band_changes = _rows(ctx, f"SELECT {_COLUMNS} {changed} ORDER BY {order} LIMIT $n",
                         {"n": o.top_band_changes}, names)
    total, new, matched = ctx.con.execute(
        "SELECT count(*) FILTER (WHERE prev_band IS NOT NULL AND band IS DISTINCT FROM prev_band), "
        "count(*) FILTER (WHERE prev_band IS NULL), count(*) FILTER (WHERE prev_band IS NOT NULL) FROM r_cur"
    ).fetchone()
    gone = ctx.con.execute("SELECT count(*) FROM r_cmp").fetchone()[0] - matched
    if ctx.compared is None:
        new = gone = 0
    _attach_drivers(ctx, drops + gains + band_changes)
    return Movers(drops, gains, band_changes, total, new, gone)


def at_risk(ctx: Context, names: Pseudonyms | None) -> AtRisk:
    """Accounts in an at-risk band, ranked by MRR × (100 − score), or by (100 − score)."""
    by_mrr = ctx.mrr_leaf is not None
    rank = "coalesce(c.mrr, 0) * (100 - c.score)" if by_mrr else "100 - c.score"
    where = "WHERE list_contains($risk, c.band)"
    rows = _rows(ctx, f"SELECT {_COLUMNS} FROM r_cur AS c {where} "
                      f"ORDER BY {rank} DESC, c.score, c.account_id LIMIT $n",
                 {"risk": ctx.params["risk"], "n": ctx.options.top_at_risk}, names)
    total = ctx.con.execute(f"SELECT count(*) FROM r_cur AS c {where}",
                            {"risk": ctx.params["risk"]}).fetchone()[0]
    if ctx.has_actions and rows:
        counts = dict(ctx.con.execute(
            "SELECT account_id, count(*) FROM actions WHERE status = 'open' AND created_as_of <= $d "
            "AND list_contains($ids, account_id) GROUP BY 1",
            {"d": ctx.as_of, "ids": [r.account_id for r in rows]}).fetchall())
        for row in rows:
            row.open_actions = counts.get(row.account_id, 0)
    return AtRisk(rows=rows, total=total, ranked_by_mrr=by_mrr, has_renewal=ctx.renewal_leaf is not None)
