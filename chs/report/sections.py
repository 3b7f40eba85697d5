"""Aggregate sections of the report, each one or two DuckDB queries over r_cur / r_cmp."""

from __future__ import annotations

import datetime as dt

from chs.report.context import Context
from chs.report.model import (
    ActionsSummary,
    BandTotal,
    Breakdown,
    GroupRow,
    Header,
    Headline,
    LeafQuality,
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
        sources=sources, redacted=ctx.options.redact)


def headline(ctx: Context) -> Headline:
    con, has_mrr = ctx.con, ctx.mrr_leaf is not None
    per_band = {r[0]: r[1:] for r in con.execute(
        "SELECT band, count(*), sum(mrr) FROM r_cur GROUP BY band").fetchall()}
    prev_band = dict(con.execute("SELECT band, count(*) FROM r_cmp GROUP BY band").fetchall())
    accounts, avg, mrr_total, mrr_risk = con.execute(
        "SELECT count(*), avg(score), sum(mrr), sum(mrr) FILTER (WHERE list_contains($risk, band)) "
        "FROM r_cur",
        {"risk": ctx.params["risk"]}).fetchone()
    prev_accounts, prev_avg = con.execute("SELECT count(*), avg(score) FROM r_cmp").fetchone()
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
    share = mrr_risk / mrr_total if has_mrr and mrr_total else None
    return Headline(
        accounts=accounts, prev_accounts=prev_accounts if ctx.compared else None, bands=bands,
        has_mrr=has_mrr, mrr_total=mrr_total or (0.0 if has_mrr else None),
        mrr_at_risk=(mrr_risk or 0.0) if has_mrr else None, mrr_at_risk_share=share,
        avg_score=avg, prev_avg_score=prev_avg if ctx.compared else None,
        avg_change=avg - prev_avg if avg is not None and prev_avg is not None else None,
        nps=nps, nps_accounts=nps_n)


def histogram(ctx: Context) -> list[int]:
    """Accounts per 10-point bin; a score of 100 belongs to the last bin."""
    counts = dict(ctx.con.execute(
        "SELECT least(floor(score / 10), 9)::INTEGER, count(*) FROM r_cur WHERE score IS NOT NULL GROUP BY 1"
    ).fetchall())
    return [counts.get(i, 0) for i in range(10)]


def trend(ctx: Context) -> list[TrendPoint]:
    """Band mix of the latest snapshot in each `since` period, oldest first, ending at as_of."""
    since, periods = ctx.options.since_days, ctx.options.trend_periods
    rows = ctx.con.execute("""
        WITH d AS (
          SELECT max(as_of) AS as_of FROM (SELECT DISTINCT as_of FROM scores WHERE as_of <= $d)
          WHERE date_diff('day', as_of, $d) < $span
          GROUP BY date_diff('day', as_of, $d) // $since)
        SELECT s.as_of, s.band, count(*) FROM scores AS s SEMI JOIN d ON d.as_of = s.as_of
        GROUP BY ALL ORDER BY 1""", {"d": ctx.as_of, "span": since * periods, "since": since}).fetchall()
    points: dict[dt.date, dict[str, int]] = {}
    for as_of, band, n in rows:
        points.setdefault(as_of, {})[band] = n
    return [TrendPoint(d, [c.get(b.name, 0) for b in ctx.bands]) for d, c in sorted(points.items())]


def _group_rows(ctx: Context, column: str, names: Pseudonyms | None) -> Breakdown:
    order = "mrr_at_risk DESC NULLS LAST, at_risk DESC" if ctx.mrr_leaf else "at_risk DESC"
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
            mrr_at_risk=(mrr_risk or 0.0) if ctx.mrr_leaf else None))
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
