"""The report's enterprise section: at-risk parents (accounts.parent, chs/rollup.py).

A parent's row in `scores` (level 'parent') is rolled up from its children; the stored
`rollup_children` rows give its family revenue (its own plus every account below it, as
scored) and the children that pull it down most. Ranked by family revenue, largest first:
the enterprise customers whose loss would cost most.
"""

from __future__ import annotations

import duckdb

from chs.report.context import Context
from chs.report.model import Driver, ParentRow, Parents
from chs.report.redact import Pseudonyms

_SQL = """
WITH fam AS (
  SELECT parent_id, any_value(parent_revenue) AS revenue, count(*) AS children,
         count(child_score) AS scored,
         list({'id': child_id, 'name': coalesce(child_name, child_id), 'points': contribution} ORDER BY contribution, child_id)
           FILTER (WHERE contribution < 0) AS risks
  FROM rollup_children WHERE as_of = $d GROUP BY parent_id
)
SELECT s.account_id, s.account_name, s.owner, s.segment, s.score, s.band, s.delta, f.revenue,
       coalesce(f.children, 0), coalesce(f.scored, 0), f.risks[1:3]
FROM scores AS s LEFT JOIN fam AS f ON f.parent_id = s.account_id
WHERE s.as_of = $d AND s.level = 'parent' AND list_contains($risk, s.band)
ORDER BY f.revenue DESC NULLS LAST, s.score NULLS LAST, s.account_id
"""


def parents(ctx: Context, names: Pseudonyms | None) -> Parents | None:
    """At-risk parents by family revenue; None when the snapshot has no parent rows."""
    try:
        total = ctx.con.execute("SELECT count(*) FROM scores WHERE as_of = $d AND level = 'parent'",
                                {"d": ctx.as_of}).fetchall()[0][0]
    except duckdb.BinderException:  # a history from before rollups
        return None
    if not total:
        return None
    try:
        found = ctx.con.execute(_SQL, {"d": ctx.as_of, "risk": ctx.params["risk"]}).fetchall()
    except duckdb.CatalogException:  # parent rows without stored children: nothing to rank by
        found = []
    rows = [ParentRow(
        account_id=a, name=names.account(a) if names else name,
        owner=names.owner(owner) if names and owner is not None else owner, segment=segment, score=score,
        band=ctx.band(band), delta=delta, revenue=revenue, children=children, scored=scored,
        risks=[Driver(r["id"], names.account(r["id"]) if names else r["name"], r["points"])
               for r in risks or []])
        for a, name, owner, segment, score, band, delta, revenue, children, scored, risks in found]
    has_revenue = any(r.revenue is not None for r in rows)
    return Parents(rows=rows[:ctx.options.top_at_risk], at_risk=len(rows), total=total, has_revenue=has_revenue)

