"""`chs diff`: what publishing a new config would change, on the same data as of one date (DESIGN 6).

Each config is scored in its own in-memory database (they may differ in sources, variables
and tree), so the stored history is only ever attached READ_ONLY, to give action rules their
deltas. The per-account results of both sides meet in a third in-memory connection, where
every comparison (band matrix, changed accounts, delta distribution, action starts/stops)
is one set-based query; Python only loops over bands, leaves and rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from chs.actions.rules import build_action_input, hits_sql
from chs.config import LoadedConfig
from chs.db import attach_read_only, connect, memory
from chs.export_checks import naming_corrupt_exports
from chs.history import ensure_schema, out_scores_sql, reference_dates
from chs.pipeline import prepare
from chs.scratch import revenue_sql, run_date
from chs.sql import ident, string
from chs.tree import TreeNode

ABSENT, UNKNOWN = "absent", "unknown"
# (label, SQL condition on d = new - old score); ±1 around zero counts as "unchanged".
BUCKETS = [("< -20", "d < -20"), ("-20..-10", "d < -10"), ("-10..-5", "d < -5"), ("-5..-1", "d < -1"),
           ("-1..1", "d <= 1"), ("1..5", "d <= 5"), ("5..10", "d <= 10"), ("10..20", "d <= 20"),
           ("> 20", "true")]
_EMPTY_HITS = pl.DataFrame(schema={"rule": pl.Utf8, "account_id": pl.Utf8})


@dataclass
class Side:
    config: str
    accounts: int
    bands: dict[str, int]
    frame: pl.DataFrame = field(repr=False)  # one row per account; leaf contributions as "c:<path>"
    hits: pl.DataFrame = field(repr=False)  # (rule, account_id) whose `when` holds
    leaves: list[str] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "accounts": self.accounts, "bands": self.bands}


@dataclass
class DiffResult:
    as_of: dt.date
    old: Side
    new: Side
    bands: list[str]
    counts: list[list[int]]
    revenue: list[list[float]] | None
    changed: list[dict[str, Any]]
    changed_total: int
    delta: dict[str, Any]
    actions: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "old": self.old.to_json(), "new": self.new.to_json(),
                "matrix": {"bands": self.bands, "counts": self.counts, "revenue": self.revenue},
                "changed": self.changed, "changed_total": self.changed_total, "delta": self.delta,
                "actions": self.actions}


def default_as_of(loaded: LoadedConfig) -> dt.date:
    """The latest stored snapshot of `loaded`'s database, else today (UTC)."""
    if loaded.database.exists():
        con = connect(loaded.database, read_only=True, require_history=False)
        try:
            has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scores'").fetchone()
            latest = con.execute("SELECT max(as_of) FROM scores").fetchone() if has and has[0] else None
        finally:
            con.close()
        if latest and latest[0] is not None:
            return latest[0]
    return dt.datetime.now(dt.UTC).date()


def _attach_history(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
    """Expose the stored `scores` (read-only) so deltas and previous_band mean what they would
    mean in a real run; an empty schema when there is no history yet."""
    db = loaded.database
    if db.exists():
        attach_read_only(con, db, "__hist")
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = '__hist' "
                            "AND table_name = 'scores'").fetchone()
        if found and found[0]:
            # Only the columns out_scores_sql and action_input read: older histories stay usable.
            con.execute("CREATE VIEW scores AS SELECT account_id, as_of, score, band FROM __hist.scores")
            return
    ensure_schema(con)


def _hits(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, nodes: list[TreeNode]) -> pl.DataFrame:
    if not loaded.config.actions:
        return _EMPTY_HITS
    _attach_history(con, loaded)
    # run_date skips the per-node rows; out_scores only needs them for top drivers, unused here.
    con.execute("CREATE OR REPLACE TEMP TABLE snap_nodes AS SELECT NULL::VARCHAR AS account_id, "
                "NULL::VARCHAR AS node, NULL::DOUBLE AS contribution, NULL::VARCHAR AS kind, "
                "NULL::INTEGER AS node_order WHERE false")
    con.execute(f"CREATE OR REPLACE TEMP TABLE out_scores AS {out_scores_sql(nodes, reference_dates(con))}")
    build_action_input(con, nodes)
    return con.sql(f"SELECT DISTINCT rule, CAST(account_id AS VARCHAR) AS account_id "
                       f"FROM ({hits_sql(loaded)})").pl()


def score_side(loaded: LoadedConfig, as_of: dt.date) -> Side:
    """Score one config as of `as_of` in a scratch database; keep what the comparison needs."""
    con = memory()
    try:
        with naming_corrupt_exports(loaded):
            prep = prepare(con, loaded, as_of)
            run_date(prep, loaded, as_of)
        nodes = prep.plan.nodes
        leaves = [(i, n.path) for i, n in enumerate(nodes) if n.is_leaf]
        contrib = "".join(f", CAST(s.__c_{i} AS DOUBLE) AS {ident('c:' + p)}" for i, p in leaves)
        frame = con.sql(
            f"SELECT CAST(s.__account AS VARCHAR) AS account_id, CAST(s.__name AS VARCHAR) AS account_name, "
            f"s.score, s.band, {revenue_sql(loaded, 'v')} AS revenue{contrib} "
            f"FROM scored AS s JOIN vars AS v ON v.__account = s.__account").pl()
        hits = _hits(con, loaded, nodes)
    finally:
        con.close()
    bands = dict(frame.group_by("band").len().sort("band").iter_rows())
    return Side(config=str(loaded.path), accounts=frame.height, bands=bands, frame=frame, hits=hits,
                leaves=[p for _, p in leaves])


def band_order(old: LoadedConfig, new: LoadedConfig) -> list[str]:
    """Declared bands best first (NEW's minimum wins for a shared name), then unknown, absent."""
    minimum = {**old.config.score.bands, **new.config.score.bands}
    return [b for b, _ in sorted(minimum.items(), key=lambda kv: -kv[1])] + [UNKNOWN, ABSENT]


def _matrix(cmp: duckdb.DuckDBPyConnection, bands: list[str],
            with_revenue: bool) -> tuple[list[str], list[list[int]], list[list[float]] | None]:
    cells = cmp.execute("SELECT old_band, new_band, count(*), coalesce(sum(revenue), 0.0) "
                        "FROM joined GROUP BY ALL").fetchall()
    seen = [b for cell in cells for b in cell[:2]]
    bands = bands[:-2] + [b for b in dict.fromkeys(seen) if b not in bands] + bands[-2:]
    at = {b: k for k, b in enumerate(bands)}
    counts = [[0] * len(bands) for _ in bands]
    revenue = [[0.0] * len(bands) for _ in bands]
    for old_band, new_band, n, rev in cells:
        counts[at[old_band]][at[new_band]] = int(n)
        revenue[at[old_band]][at[new_band]] = float(rev)
    return bands, counts, revenue if with_revenue else None


def _changed(cmp: duckdb.DuckDBPyConnection, old: Side, new: Side, top: int) -> list[dict[str, Any]]:
    """Top accounts by |score change| among those changing band, each with the leaf whose
    contribution moved most in the direction of the change (a leaf absent from a tree = 0)."""
    paths = list(dict.fromkeys(new.leaves + old.leaves))
    cmp.execute("CREATE OR REPLACE TEMP TABLE top_changed AS SELECT * FROM ("
                "SELECT *, row_number() OVER (ORDER BY abs(delta) DESC NULLS LAST, account_id) AS rank "
                "FROM joined WHERE old_band <> new_band) WHERE rank <= $top", {"top": top})
    if not paths:
        return []

    def value(side: Side, alias: str, path: str) -> str:
        return f"coalesce({alias}.{ident('c:' + path)}, 0.0)" if path in side.leaves else "0.0"

    parts = "\nUNION ALL\n".join(
        f"SELECT t.account_id, {k} AS node_order, {string(p)} AS node, "
        f"{value(new, 'n', p)} - {value(old, 'o', p)} AS moved, t.delta FROM top_changed AS t "
        f"LEFT JOIN old_acc AS o ON o.account_id = t.account_id "
        f"LEFT JOIN new_acc AS n ON n.account_id = t.account_id" for k, p in enumerate(paths))
    rows = cmp.sql(f"""
WITH parts AS ({parts}),
best AS (SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY
    CASE WHEN delta > 0 THEN moved WHEN delta < 0 THEN -moved ELSE abs(moved) END DESC, node_order) AS r
  FROM parts)
SELECT t.account_id, t.account_name, t.old_score, t.new_score, t.old_band, t.new_band, t.delta,
  CASE WHEN abs(b.moved) > 1e-9 THEN b.node END AS moved_by,
  CASE WHEN abs(b.moved) > 1e-9 THEN b.moved END AS moved_by_points
FROM top_changed AS t LEFT JOIN best AS b ON b.account_id = t.account_id AND b.r = 1
ORDER BY t.rank""").pl()
    return rows.to_dicts()


def _delta(cmp: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Distribution of new - old over accounts with a score on both sides."""
    n, mean, median, p10, p90, low, high = cmp.execute(
        "SELECT count(delta), avg(delta), median(delta), quantile_cont(delta, 0.1), "
        "quantile_cont(delta, 0.9), min(delta), max(delta) FROM joined").fetchone() or (0,) + (None,) * 6
    case = " ".join(f"WHEN {cond} THEN {k}" for k, (_, cond) in enumerate(BUCKETS))
    found = dict(cmp.execute(f"SELECT CASE {case} END AS b, count(*) FROM (SELECT delta AS d FROM joined "
                             f"WHERE delta IS NOT NULL) GROUP BY b").fetchall())
    return {"n": int(n), "mean": mean, "median": median, "p10": p10, "p90": p90, "min": low, "max": high,
            "histogram": [{"bucket": label, "count": int(found.get(k, 0))} for k, (label, _) in enumerate(BUCKETS)]}


def _actions(cmp: duckdb.DuckDBPyConnection, old: LoadedConfig, new: LoadedConfig,
             top: int) -> dict[str, dict[str, Any]]:
    """Per rule: accounts whose `when` starts or stops holding (no cooldown / open-action logic)."""
    rules = list(dict.fromkeys([r.id for r in new.config.actions] + [r.id for r in old.config.actions]))
    out = {r: {"old": 0, "new": 0, "start": 0, "stop": 0, "start_examples": [], "stop_examples": []}
           for r in rules}
    for side in ("old", "new"):
        for rule, n in cmp.execute(f"SELECT rule, count(*) FROM {side}_hits GROUP BY rule").fetchall():
            out[rule][side] = int(n)
    moves = cmp.execute("""
WITH moves AS (
  SELECT rule, account_id, 'start' AS kind FROM (SELECT rule, account_id FROM new_hits EXCEPT SELECT rule, account_id FROM old_hits)
  UNION ALL
  SELECT rule, account_id, 'stop' FROM (SELECT rule, account_id FROM old_hits EXCEPT SELECT rule, account_id FROM new_hits)
), ranked AS (SELECT *, row_number() OVER (PARTITION BY rule, kind ORDER BY account_id) AS r FROM moves)
SELECT rule, kind, count(*), list(account_id ORDER BY account_id) FILTER (WHERE r <= $top)
FROM ranked GROUP BY rule, kind""", {"top": top}).fetchall()
    for rule, kind, n, examples in moves:
        out[rule][kind] = int(n)
        out[rule][f"{kind}_examples"] = list(examples or [])
    return out


def diff_configs(old: LoadedConfig, new: LoadedConfig, as_of: dt.date, top: int = 20) -> DiffResult:
    """Score both configs as of `as_of` (history untouched) and compare them account by account."""
    old_side, new_side = score_side(old, as_of), score_side(new, as_of)
    cmp = memory()
    try:
        for name, frame in (("old_acc", old_side.frame), ("new_acc", new_side.frame),
                            ("old_hits", old_side.hits), ("new_hits", new_side.hits)):
            cmp.register(name, frame)
        # An account scored by one config only is band `absent` on the other side; revenue
        # comes from NEW where it declares it, else OLD.
        cmp.execute(f"""CREATE TEMP TABLE joined AS
SELECT coalesce(n.account_id, o.account_id) AS account_id, coalesce(n.account_name, o.account_name) AS account_name,
  o.score AS old_score, n.score AS new_score, coalesce(o.band, {string(ABSENT)}) AS old_band,
  coalesce(n.band, {string(ABSENT)}) AS new_band, n.score - o.score AS delta,
  coalesce(n.revenue, o.revenue) AS revenue
FROM old_acc AS o FULL OUTER JOIN new_acc AS n ON n.account_id = o.account_id""")
        with_revenue = new.config.accounts.revenue is not None or old.config.accounts.revenue is not None
        bands, counts, revenue = _matrix(cmp, band_order(old, new), with_revenue)
        total = cmp.execute("SELECT count(*) FROM joined WHERE old_band <> new_band").fetchone()
        return DiffResult(
            as_of=as_of, old=old_side, new=new_side, bands=bands, counts=counts, revenue=revenue,
            changed=_changed(cmp, old_side, new_side, top), changed_total=int(total[0]) if total else 0,
            delta=_delta(cmp), actions=_actions(cmp, old, new, top))
    finally:
        cmp.close()
