"""`explain` on a parent account: its children as stored in `rollup_children` (chs/rollup.py).

A parent's score is 50 + Σ children's contributions, contribution = share × (child score − 50),
so the children's contributions add up exactly to score − 50, and their `delta_part`
(contribution now − contribution then) to the change, when the compared snapshot rolled the
same parent up too. Nothing is recomputed from the exports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

_CHILDREN_SQL = """
SELECT as_of, child_id, child_name, child_level, child_score, child_band, revenue, weight, share,
       contribution, basis, parent_revenue
FROM rollup_children WHERE parent_id = $parent AND as_of IN ($now, $then)
ORDER BY contribution, child_id
"""


@dataclass
class ChildExplanation:
    """One child of the explained parent: its score, its weight in the rollup and its points.

    `weight` is the weight used (revenue, or 1 for equal weights; 0 for an unscored child),
    `share` its fraction of the scored children's total weight, `contribution` =
    share × (score − 50) in points. `delta_part` is None when nothing is compared."""

    account_id: str
    account_name: str | None
    level: str | None
    score: float | None
    band: str | None
    revenue: float | None
    weight: float
    share: float
    contribution: float
    delta_part: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_name": self.account_name, "level": self.level,
                "score": self.score, "band": self.band, "revenue": self.revenue, "weight": self.weight,
                "share": self.share, "contribution": self.contribution, "delta_part": self.delta_part}


@dataclass
class Rollup:
    """The children of a parent as of one snapshot, and how they were weighed."""

    children: list[ChildExplanation]
    basis: str | None  # revenue | equal | equal (no revenue)
    revenue: float | None  # the parent's family revenue (its own + every account below it)
    comparable: bool  # the compared snapshot rolled this parent up too: delta parts add up


def account_level(con: duckdb.DuckDBPyConnection, account_id: str, as_of: dt.date) -> str:
    """'parent' or 'account'; a history from before rollups has account rows only."""
    try:
        rows = con.execute("SELECT level FROM scores WHERE account_id = $a AND as_of = $d",
                           {"a": account_id, "d": as_of}).fetchall()
    except duckdb.BinderException:
        return "account"
    return rows[0][0] if rows and rows[0][0] else "account"


def load_rollup(con: duckdb.DuckDBPyConnection, parent_id: str, now: dt.date, then: dt.date | None) -> Rollup:
    """The stored rollup of `parent_id` at `now`, with per-child changes since `then`."""
    try:
        rows = con.execute(_CHILDREN_SQL, {"parent": parent_id, "now": now,
                                           "then": then if then is not None else now}).fetchall()
    except duckdb.CatalogException:  # a database scored before rollups existed
        return Rollup(children=[], basis=None, revenue=None, comparable=False)
    current = [r for r in rows if r[0] == now]
    before = {r[1]: r[9] for r in rows if then is not None and then != now and r[0] == then}
    comparable = bool(before)
    children = [ChildExplanation(
        account_id=r[1], account_name=r[2], level=r[3], score=r[4], band=r[5], revenue=r[6],
        weight=float(r[7]), share=float(r[8]), contribution=float(r[9]),
        delta_part=(float(r[9]) - float(before.get(r[1], 0.0))) if comparable else None)
        for r in current]
    # A child that was there then and is gone now still moved the parent: keep its part.
    gone = sorted(set(before) - {c.account_id for c in children})
    children += [ChildExplanation(account_id=c, account_name=None, level=None, score=None, band=None,
                                  revenue=None, weight=0.0, share=0.0, contribution=0.0,
                                  delta_part=-float(before[c])) for c in gone]
    return Rollup(children=children, basis=current[0][10] if current else None,
                  revenue=current[0][11] if current else None, comparable=comparable)
