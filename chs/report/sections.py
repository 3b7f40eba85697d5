"""Aggregate sections of the report, each one or two DuckDB queries over r_cur / r_cmp."""

from __future__ import annotations

import datetime as dt

from chs.report.context import Context
from chs.report.model import (
    ActionsSummary,
    Backlog,
    BacklogRow,
    BandTotal,
    Breakdown,
    GroupRow,
    Header,
    Headline,
    LeafQuality,
    OwnerChange,
    OwnerChanges,
    Quality,
    SourceFreshness,
    TrendPoint,
)
from chs.report.redact import Pseudonyms


def _newest_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def header(ctx: Context, current_hash: str) -> Header:
    sources = []
    for name, info in sorted((ctx.manifest.get("sources") or {}).items()):
        newest = _newest_date(info.get("newest"))
        sources.append(SourceFreshness(
            name=name, files=len(info.get("files") or []), rows=info.get("rows"),
            rejected=info.get("rejected"),
            newest=str(info["newest"]) if info.get("newest") else None,
            stale_days=(ctx.as_of - newest).days if newest else None))
    snap_hash = ctx.manifest.get("config_hash")
    return Header(
        model_name=ctx.options.name, as_of=ctx.as_of, compared=ctx.compared, compared_note=ctx.compared_note,
        snapshots=ctx.snapshots, tool_version=ctx.manifest.get("tool_version"), config_hash=snap_hash,
        config_changed=bool(snap_hash and current_hash and snap_hash != current_hash),
        sources=sources, redacted=ctx.options.redact, since_days=ctx.options.since_days)


def headline(ctx: Context) -> Headline:
    con, has_mrr = ctx.con, ctx.has_mrr
    per_band = {r[0]: r[1:] for r in con.execute(
        "SELECT band, count(*), sum(mrr) FROM r_cur GROUP BY band").fetchall()}
    prev_band = dict(con.execute("SELECT band, count(*) FROM r_cmp GROUP BY band").fetchall())
    accounts, avg, mrr_total, mrr_risk, risk_n = con.execute(
        "SELECT count(*), avg(score), sum(mrr), sum(mrr) FILTER (WHERE list_contains($risk, band)), "
        "count(*) FILTER (WHERE list_contains($risk, band)) FROM r_cur",
        {"risk": ctx.params["risk"]}).fetchone()
    prev_accounts, prev_avg, prev_risk_n = con.execute(
        "SELECT count(*), avg(score), count(*) FILTER (WHERE list_contains($risk, band)) FROM r_cmp",
        {"risk": ctx.params["risk"]}).fetchone()
    bands = []
    for band in ctx.bands:
        n, mrr = per_band.get(band.name, (0, None))
        if band.name == "unknown" and n == 0 and not prev_band.get("unknown"):
            continue
        bands.append(BandTotal(band, n, (mrr or 0.0) if has_mrr else None,
                               prev_band.get(band.name, 0) if ctx.compared else None))
    known = {b.name for b in ctx.bands}
    for name in sorted(set(per_band) - known):  # a band the config no longer has: still counted
        n, mrr = per_band[name]
        bands.append(BandTotal(ctx.band(name), n, (mrr or 0.0) if has_mrr else None,
                               prev_band.get(name, 0) if ctx.compared else None))
    nps, nps_n = None, None
    if ctx.nps_leaf:
        nps, nps_n = con.execute(
            "SELECT avg(raw_value), count(raw_value) FROM node_scores WHERE as_of = $d AND node = $n",
            {"d": ctx.as_of, "n": ctx.nps_leaf.node}).fetchone()
    if not has_mrr:
        mrr_total = mrr_risk = None
    share = (mrr_risk or 0.0) / mrr_total if has_mrr and mrr_total else None
    return Headline(
        accounts=accounts, prev_accounts=prev_accounts if ctx.compared else None, bands=bands,
        has_mrr=has_mrr, mrr_total=mrr_total or (0.0 if has_mrr else None),
        mrr_at_risk=(mrr_risk or 0.0) if has_mrr else None, mrr_at_risk_share=share,
        avg_score=avg, prev_avg_score=prev_avg if ctx.compared else None,
        avg_change=avg - prev_avg if avg is not None and prev_avg is not None else None,
        nps=nps, nps_accounts=nps_n, at_risk_accounts=risk_n,
        prev_at_risk_accounts=prev_risk_n if ctx.compared else None)


def histogram(ctx: Context) -> list[int]:
    """Accounts per 10-point bin; a score of 100 belongs to the last bin."""
    counts = dict(ctx.con.execute(
        "SELECT least(floor(score / 10), 9)::INTEGER, count(*) FROM r_cur WHERE score IS NOT NULL GROUP BY 1"
    ).fetchall())
    return [counts.get(i, 0) for i in range(10)]


_TREND_DATES = """
    CREATE OR REPLACE TEMP TABLE r_trend_dates AS
    SELECT max(as_of) AS as_of FROM (SELECT DISTINCT as_of FROM scores WHERE as_of <= $d)
    WHERE date_diff('day', as_of, $d) < $span
    GROUP BY date_diff('day', as_of, $d) // $since"""


def trend(ctx: Context) -> list[TrendPoint]:
    """Average score, band mix and NPS of the latest snapshot in each of the last 12 `since`
    periods, oldest first, ending at as_of: with weekly scoring, the last 12 snapshots."""
    con = ctx.con
    since, periods = ctx.options.since_days, ctx.options.trend_periods
    con.execute(_TREND_DATES, {"d": ctx.as_of, "span": since * periods, "since": since})
    rows = con.execute("""
        WITH b AS (
          SELECT s.as_of, s.band, count(*) AS n, sum(s.score) AS ssum, count(s.score) AS nscore
          FROM scores AS s SEMI JOIN r_trend_dates AS d ON d.as_of = s.as_of GROUP BY ALL)
        SELECT as_of, list(band), list(n), sum(ssum) / nullif(sum(nscore), 0) FROM b
        GROUP BY as_of ORDER BY as_of""").fetchall()
    nps: dict[dt.date, tuple[float | None, int]] = {}
    if ctx.nps_leaf is not None:
        # The leaf's node_order per snapshot (the tree may change), then one filtered scan.
        nps = {r[0]: (r[1], r[2]) for r in con.execute("""
            WITH o AS (
              SELECT n.as_of, n.node_order FROM snapshot_nodes AS n
              SEMI JOIN r_trend_dates AS d ON d.as_of = n.as_of WHERE n.node = $node)
            SELECT v.as_of, avg(v.raw_value), count(v.raw_value) FROM node_scores AS v
            SEMI JOIN o ON o.as_of = v.as_of AND o.node_order = v.node_order GROUP BY v.as_of""",
            {"node": ctx.nps_leaf.node}).fetchall()}
    points = []
    for as_of, bands, counts, avg in rows:
        by_band = dict(zip(bands, counts, strict=True))
        value, n = nps.get(as_of, (None, 0))
        points.append(TrendPoint(as_of, [by_band.get(b.name, 0) for b in ctx.bands], avg_score=avg,
                                 nps=value, nps_accounts=n))
    return points


def _group_rows(ctx: Context, column: str, names: Pseudonyms | None) -> Breakdown:
    order = "mrr_at_risk DESC NULLS LAST, at_risk DESC" if ctx.has_mrr else "at_risk DESC"
    rows = ctx.con.execute(f"""
        WITH g AS (
          SELECT {column} AS key, band, count(*) AS n, sum(score) AS ssum, count(score) AS nscore,
                 sum(mrr) FILTER (WHERE list_contains($risk, band)) AS risk_mrr
          FROM r_cur GROUP BY ALL),
        t AS (
          SELECT key, sum(n)::BIGINT AS accounts, sum(ssum) / nullif(sum(nscore), 0) AS avg_score,
                 (sum(n) FILTER (WHERE list_contains($risk, band)))::BIGINT AS at_risk,
                 sum(risk_mrr) AS mrr_at_risk, list(band) AS bands, list(n) AS counts
          FROM g GROUP BY key)
        SELECT key, accounts, avg_score, coalesce(at_risk, 0), mrr_at_risk, bands, counts,
               count(*) OVER () AS groups
        FROM t ORDER BY {order}, accounts DESC, key NULLS LAST LIMIT $top""",
        {"risk": ctx.params["risk"], "top": ctx.options.top_groups}).fetchall()
    out = []
    for key, accounts, avg, at_risk, mrr_risk, bands, counts, _ in rows:
        by_band = dict(zip(bands, counts, strict=True))
        out.append(GroupRow(
            key=names.owner(key) if names and key is not None else key, accounts=accounts, avg_score=avg,
            band_counts=[by_band.get(b.name, 0) for b in ctx.bands], at_risk=at_risk,
            mrr_at_risk=(mrr_risk or 0.0) if ctx.has_mrr else None))
    title = "owner" if column == "owner" else "segment"
    return Breakdown(title=title, rows=out, total_groups=rows[0][7] if rows else 0)


def breakdowns(ctx: Context, names: Pseudonyms | None) -> list[Breakdown]:
    return [_group_rows(ctx, "owner", names), _group_rows(ctx, "segment", None)]


def actions(ctx: Context, names: Pseudonyms | None) -> ActionsSummary:
    """Actions created in (as_of - since, as_of], by owner and rule."""
    start = ctx.as_of - dt.timedelta(days=ctx.options.since_days)
    rows: list[tuple] = []
    if ctx.has_actions:
        rows = ctx.con.execute(
            "SELECT owner, rule, count(*) FROM actions WHERE created_as_of > $start AND created_as_of <= $d "
            "GROUP BY ALL", {"start": start, "d": ctx.as_of}).fetchall()
    rules = sorted({r[1] for r in rows})
    per_owner: dict[str | None, list[int]] = {}
    for owner, rule, n in rows:
        per_owner.setdefault(owner, [0] * len(rules))[rules.index(rule)] += n
    ranked = sorted(per_owner.items(), key=lambda kv: (-sum(kv[1]), kv[0] is None, kv[0] or ""))
    top = ranked[: ctx.options.top_groups]
    return ActionsSummary(
        period_start=start, rules=rules,
        rows=[(names.owner(o) if names and o is not None else o, c, sum(c)) for o, c in top],
        total_owners=len(ranked),
        rule_totals=[sum(c[i] for c in per_owner.values()) for i in range(len(rules))],
        total=sum(r[2] for r in rows))


def backlog(ctx: Context, names: Pseudonyms | None) -> Backlog:
    """Open actions per owner and how many are overdue (due before as_of).

    Status is the actions' current state (closing an action is not dated per snapshot), so for
    an old snapshot this is today's view of the actions created up to it.
    """
    if not ctx.has_actions:
        return Backlog(rows=[], total_owners=0, open=0, overdue=0, available=False)
    params = {"d": ctx.as_of, "top": ctx.options.top_groups}
    rows = ctx.con.execute("""
        SELECT owner, count(*), count(*) FILTER (WHERE due_date < $d), min(due_date), count(*) OVER ()
        FROM actions WHERE status = 'open' AND created_as_of <= $d GROUP BY owner
        ORDER BY 3 DESC, 2 DESC, owner NULLS LAST LIMIT $top""", params).fetchall()
    total_open, total_overdue = ctx.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE due_date < $d) FROM actions "
        "WHERE status = 'open' AND created_as_of <= $d", {"d": ctx.as_of}).fetchone()
    return Backlog(
        rows=[BacklogRow(names.owner(o) if names and o is not None else o, n, late, oldest)
              for o, n, late, oldest, _ in rows],
        total_owners=rows[0][4] if rows else 0, open=total_open, overdue=total_overdue, available=True)


def owner_changes(ctx: Context, names: Pseudonyms | None) -> OwnerChanges:
    """Per owner: accounts and average score now (owner at as_of) and then (owner at the compared
    snapshot); of the accounts owned now, how many moved to a lower band, to a higher one, and
    how many lost points. `unknown` (no score) counts as the lowest band."""
    if ctx.compared is None:
        return OwnerChanges(rows=[], total_owners=0)
    rows = ctx.con.execute("""
        WITH cur AS (
          SELECT c.owner, count(*) AS n, avg(c.score) AS avg_score,
                 count(*) FILTER (WHERE bc.rank > bp.rank) AS worse,
                 count(*) FILTER (WHERE c.score < c.prev_score) AS dropped,
                 count(*) FILTER (WHERE bc.rank < bp.rank) AS better
          FROM r_cur AS c LEFT JOIN r_bands AS bc ON bc.band = c.band
          LEFT JOIN r_bands AS bp ON bp.band = c.prev_band GROUP BY c.owner),
        prev AS (SELECT owner, count(*) AS n, avg(score) AS avg_score FROM r_cmp GROUP BY owner)
        SELECT coalesce(cur.owner, prev.owner) AS owner, coalesce(cur.n, 0), coalesce(prev.n, 0),
               cur.avg_score, prev.avg_score, cur.avg_score - prev.avg_score AS change,
               coalesce(cur.worse, 0) AS worse, coalesce(cur.dropped, 0), coalesce(cur.better, 0),
               count(*) OVER ()
        FROM cur FULL JOIN prev ON cur.owner IS NOT DISTINCT FROM prev.owner
        ORDER BY worse DESC, change NULLS LAST, 1 NULLS LAST LIMIT $top""",
        {"top": ctx.options.top_groups}).fetchall()
    return OwnerChanges(
        rows=[OwnerChange(names.owner(o) if names and o is not None else o, *rest)
              for o, *rest, _ in rows],
        total_owners=rows[0][-1] if rows else 0)


def quality(ctx: Context) -> Quality:
    con = ctx.con
    bins = dict(con.execute(
        "SELECT least(floor(coverage * 10), 9)::INTEGER, count(*) FROM r_cur "
        "WHERE coverage IS NOT NULL GROUP BY 1"
    ).fetchall())
    complete = con.execute("SELECT count(*) FROM r_cur WHERE coverage >= 1 - 1e-9").fetchone()[0]
    # node_order (an integer) rather than the node path: far cheaper over node_scores' rows.
    leaf_rows = {r[0]: r[1:] for r in con.execute(
        "SELECT node_order, count(*) FILTER (WHERE missing), count(*) FILTER (WHERE imputed) "
        "FROM node_scores WHERE as_of = $d AND list_contains($orders, node_order) GROUP BY node_order",
        {"d": ctx.as_of, "orders": [lf.node_order for lf in ctx.leaves]}).fetchall()}
    leaves = [LeafQuality(lf.node, lf.label, lf.description, *leaf_rows.get(lf.node_order, (0, 0)))
              for lf in ctx.leaves]
    leaves.sort(key=lambda q: -q.missing)
    return Quality(coverage_bins=[bins.get(i, 0) for i in range(10)], complete=complete, leaves=leaves)
