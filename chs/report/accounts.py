"""Account lists: movers, band changes, the at-risk list, renewals, churned and new accounts;
each a top-N query.

The driver of a change is the leaf with the largest |Δ(effective_weight × sub_score)|
between the two snapshots: those parts add up exactly to the score change (DESIGN 2.3).
"""

from __future__ import annotations

import re
from typing import Any

from chs.report.context import Context
from chs.report.model import AccountRow, AtRisk, Churn, Driver, Movers, Renewals
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
    # Worst first: to a lower band (or to unknown) before to a higher one, more bands down
    # first, then the largest drop in points, then revenue.
    changed = ("FROM r_cur AS c LEFT JOIN r_bands AS bc ON bc.band = c.band "
               "LEFT JOIN r_bands AS bp ON bp.band = c.prev_band "
               "WHERE c.prev_band IS NOT NULL AND c.band IS DISTINCT FROM c.prev_band")
    order = ("coalesce(bc.rank, 99) > coalesce(bp.rank, 99) DESC, "
             "coalesce(bc.rank, 99) - coalesce(bp.rank, 99) DESC, "
             "c.score - c.prev_score NULLS FIRST, c.mrr DESC NULLS LAST, c.account_id")
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


def _attach_open_actions(ctx: Context, rows: list[AccountRow]) -> None:
    if ctx.has_actions and rows:
        counts = dict(ctx.con.execute(
            "SELECT account_id, count(*) FROM actions WHERE status = 'open' AND created_as_of <= $d "
            "AND list_contains($ids, account_id) GROUP BY 1",
            {"d": ctx.as_of, "ids": [r.account_id for r in rows]}).fetchall())
        for row in rows:
            row.open_actions = counts.get(row.account_id, 0)


def at_risk(ctx: Context, names: Pseudonyms | None) -> AtRisk:
    """Accounts in an at-risk band, worst band first (red before yellow; `unknown`, which has
    no score, last), then by MRR × (100 − score), or by (100 − score) without revenue."""
    by_mrr = ctx.has_mrr
    rank = "coalesce(c.mrr, 0) * (100 - c.score)" if by_mrr else "100 - c.score"
    where = "WHERE list_contains($risk, c.band)"
    band_order = "CASE WHEN c.band = 'unknown' THEN -1 ELSE coalesce(b.rank, -1) END DESC"
    rows = _rows(ctx, f"SELECT {_COLUMNS} FROM r_cur AS c LEFT JOIN r_bands AS b ON b.band = c.band "
                      f"{where} ORDER BY {band_order}, {rank} DESC NULLS LAST, c.score, c.account_id LIMIT $n",
                 {"risk": ctx.params["risk"], "n": ctx.options.top_at_risk}, names)
    total = ctx.con.execute(f"SELECT count(*) FROM r_cur AS c {where}",
                            {"risk": ctx.params["risk"]}).fetchone()[0]
    _attach_open_actions(ctx, rows)
    return AtRisk(rows=rows, total=total, ranked_by_mrr=by_mrr, has_renewal=ctx.renewal_leaf is not None)


def renewals(ctx: Context, names: Pseudonyms | None) -> Renewals:
    """Accounts whose days-to-renewal leaf is within [0, renewal_days] at as_of, soonest first."""
    days = ctx.options.renewal_days
    if ctx.renewal_leaf is None:
        return Renewals(rows=[], total=0, mrr=None, mrr_at_risk=None, days=days, available=False)
    where = "WHERE c.renewal >= 0 AND c.renewal <= $days"
    rows = _rows(ctx, f"SELECT {_COLUMNS} FROM r_cur AS c {where} "
                      "ORDER BY c.renewal, c.score NULLS FIRST, c.account_id LIMIT $n",
                 {"days": days, "n": ctx.options.top_renewals}, names)
    total, mrr, mrr_risk = ctx.con.execute(
        f"SELECT count(*), sum(mrr), sum(mrr) FILTER (WHERE list_contains($risk, band)) FROM r_cur AS c {where}",
        {"days": days, "risk": ctx.params["risk"]}).fetchone()
    _attach_open_actions(ctx, rows)
    return Renewals(rows=rows, total=total, mrr=(mrr or 0.0) if ctx.has_mrr else None,
                    mrr_at_risk=(mrr_risk or 0.0) if ctx.has_mrr else None, days=days, available=True)


def _plain_rows(ctx: Context, sql: str, params: dict[str, Any], names: Pseudonyms | None) -> list[AccountRow]:
    """Rows of (account_id, name, owner, segment, score, band, mrr)."""
    return [AccountRow(account_id=a, name=names.account(a) if names else name,
                       owner=names.owner(owner) if names and owner is not None else owner,
                       segment=segment, score=score, band=ctx.band(band), mrr=mrr)
            for a, name, owner, segment, score, band, mrr in ctx.con.execute(sql, params).fetchall()]


def churn(ctx: Context, names: Pseudonyms | None) -> Churn:
    """Churned: scored at the compared snapshot, not at as_of (shown as they were then).
    New: scored at as_of, not at the compared snapshot. Largest revenue first."""
    if ctx.compared is None:
        return Churn([], 0, None, [], 0, None)
    cols = "x.account_id, x.account_name, x.owner, x.segment, x.score, x.band, x.mrr"
    order = "ORDER BY x.mrr DESC NULLS LAST, x.score NULLS FIRST, x.account_id LIMIT $n"
    gone_from = "FROM r_cmp AS x ANTI JOIN r_cur AS o ON o.account_id = x.account_id"
    new_from = "FROM r_cur AS x ANTI JOIN r_cmp AS o ON o.account_id = x.account_id"
    n = {"n": ctx.options.top_accounts}
    gone = _plain_rows(ctx, f"SELECT {cols} {gone_from} {order}", n, names)
    new = _plain_rows(ctx, f"SELECT {cols} {new_from} {order}", n, names)
    (gone_n, gone_mrr), (new_n, new_mrr) = (ctx.con.execute(f"SELECT count(*), sum(x.mrr) {f}").fetchone()
                                            for f in (gone_from, new_from))
    has = ctx.has_mrr
    return Churn(gone, gone_n, (gone_mrr or 0.0) if has else None, new, new_n, (new_mrr or 0.0) if has else None)
