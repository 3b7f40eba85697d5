"""Parent/child rollups (DESIGN 6.1 `accounts.parent`, `accounts.rollup`).

An account is a *parent* when any row of the account list names it in the `accounts.parent`
column. Its row in a snapshot is not scored from its own data but rolled up from its
children's rows of the same snapshot:

    share(child)        = w(child) / Σ w over scored children   (0 for an unscored child)
    contribution(child) = share × (child score − 50)
    parent score        = 50 + Σ contributions               (so the parts add up exactly)

with w = 1 (`weight: equal`) or the child's revenue (`weight: revenue`): its own monthly
revenue plus that of every account below it that is scored on the day, NULL and negative
counting as 0. When no scored child has revenue the scored children weigh equally rather
than leave the parent without a score. The parent's band uses the same bands, its
coverage is the share-weighted coverage of its children, its top risks / strengths are the
children that pull it down / up most, and its `score_<path>` columns are NULL (it has no
tree of its own, so it has no node_scores or drivers rows). A parent without scored
children is `unknown`. Hierarchies may be deeper than one level: parents are rolled up
bottom-up, one SQL statement per level (never a loop over accounts).

A parent id that is not an account of the list, and cycles, are data errors (65) naming the
accounts. Each snapshot's rollup (children, weights, shares, contributions) is stored in
`rollup_children` for `chs explain PARENT` and the report, which never recompute it.
"""

from __future__ import annotations

import duckdb

from chs.config import LoadedConfig
from chs.errors import DataError
from chs.history import CHANGES, change_joins, reference_dates
from chs.sources import relation_name
from chs.sql import ident, node_column, number, string
from chs.tree import TreeNode

ROLLUP_TABLE = """CREATE TABLE IF NOT EXISTS rollup_children (
    as_of DATE, parent_id VARCHAR, parent_revenue DOUBLE, child_id VARCHAR, child_name VARCHAR,
    child_level VARCHAR, child_score DOUBLE, child_band VARCHAR, revenue DOUBLE, weight DOUBLE,
    share DOUBLE, contribution DOUBLE, basis VARCHAR)"""

SAMPLE = 10  # accounts named in an error message, at most


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t AND NOT temporary "
                        "AND database_name = current_database()", {"t": name}).fetchall()
    return bool(found[0][0])


def _where(loaded: LoadedConfig) -> str:
    acc = loaded.config.accounts
    return f"{loaded.config.sources[acc.source].path}: column '{acc.parent}' (accounts.parent)"


def register_hierarchy(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> int:
    """Temp tables `__parent_of(account_id, parent_id)` (the whole account list) and
    `__parent_height(parent_id, height)` (1 = only leaf children). Raises DataError (65) for
    a missing column, parents that are not accounts, and cycles. Returns the deepest height."""
    acc = loaded.config.accounts
    relation = relation_name(acc.source)
    columns = [r[0] for r in con.execute(f"DESCRIBE {ident(relation)}").fetchall()]
    if acc.parent not in columns:
        raise DataError(f"{loaded.config.sources[acc.source].path}: column '{acc.parent}' not found "
                        f"(accounts.parent of source '{acc.source}'; columns: "
                        f"{', '.join(c for c in columns if not c.startswith('__'))})")
    # An empty cell means "no parent", as does a NULL.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __parent_of AS
        SELECT DISTINCT __account AS account_id,
               nullif(trim(CAST({ident(acc.parent)} AS VARCHAR)), '') AS parent_id
        FROM {ident(relation)} WHERE __account IS NOT NULL""")
    unknown = con.execute("""SELECT account_id, parent_id FROM __parent_of
        WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT account_id FROM __parent_of)
        ORDER BY account_id""").fetchall()
    if unknown:
        named = ", ".join(f"account {a} names parent '{p}'" for a, p in unknown[:SAMPLE])
        more = f" and {len(unknown) - SAMPLE} more" if len(unknown) > SAMPLE else ""
        raise DataError(f"{_where(loaded)}: {len(unknown)} parent id(s) are not accounts of the list: "
                        f"{named}{more}")
    # Walk up from every account; the walk stops where it would revisit an account, so it
    # ends on cycles too, and a walk that comes back to its start has found one.
    con.execute("""CREATE OR REPLACE TEMP TABLE __ancestors AS
        WITH RECURSIVE up(account_id, ancestor_id, dist, path) AS (
          SELECT account_id, parent_id, 1, [account_id] FROM __parent_of WHERE parent_id IS NOT NULL
          UNION ALL
          SELECT u.account_id, m.parent_id, u.dist + 1, list_append(u.path, u.ancestor_id)
          FROM up AS u JOIN __parent_of AS m ON m.account_id = u.ancestor_id
          WHERE m.parent_id IS NOT NULL AND NOT list_contains(u.path, u.ancestor_id)
        )
        SELECT * FROM up""")
    cycles = con.execute("""SELECT DISTINCT list_sort(path) AS members, path FROM __ancestors
        WHERE ancestor_id = account_id
        QUALIFY row_number() OVER (PARTITION BY list_sort(path) ORDER BY path[1]) = 1
        ORDER BY members""").fetchall()
    if cycles:
        named = "; ".join(" -> ".join([*path, path[0]]) for _, path in cycles[:SAMPLE])
        raise DataError(f"{_where(loaded)}: parents form {len(cycles)} cycle(s) (each account's "
                        f"parent, in turn): {named}")
    con.execute("""CREATE OR REPLACE TEMP TABLE __parent_height AS
        SELECT ancestor_id AS parent_id, max(dist) AS height FROM __ancestors GROUP BY 1""")
    height = con.execute("SELECT coalesce(max(height), 0) FROM __parent_height").fetchall()[0][0]
    return int(height)


def _family_revenue(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
    """`__family_revenue(account_id, revenue)`: monthly revenue of each scored account plus that
    of every scored account below it (NULL and negative revenue count as 0)."""
    from chs.scratch import revenue_sql  # chs.scratch imports the pipeline, which imports this module
    declared = loaded.config.accounts.revenue is not None
    own = f"greatest(coalesce({revenue_sql(loaded, 'a')}, 0.0), 0.0)" if declared else "NULL::DOUBLE"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __family_revenue AS
        WITH own AS (SELECT a.__account AS account_id, max({own}) AS revenue FROM acct AS a
                     JOIN out_scores AS o ON o.account_id = a.__account GROUP BY 1),
        below AS (SELECT x.ancestor_id AS account_id, sum(own.revenue) AS revenue
                  FROM __ancestors AS x JOIN own ON own.account_id = x.account_id GROUP BY 1)
        SELECT own.account_id, own.revenue + coalesce(below.revenue, 0.0) AS revenue
        FROM own LEFT JOIN below USING (account_id)""")


def _level_sql(loaded: LoadedConfig, height: int) -> str:
    """Every (parent, child) pair of the parents at `height`, with weight, share, contribution."""
    by_revenue = loaded.config.accounts.rollup_weight == "revenue"
    weight = "coalesce(fr.revenue, 0.0)" if by_revenue else "1.0"
    return f"""
WITH parents AS (
  SELECT h.parent_id FROM __parent_height AS h JOIN out_scores AS o ON o.account_id = h.parent_id
  WHERE h.height = {height}
),
kids AS (
  SELECT m.parent_id, o.account_id AS child_id, o.account_name AS child_name, o.level AS child_level,
         o.score AS child_score, o.band AS child_band, o.coverage, fr.revenue,
         CAST({weight} AS DOUBLE) AS w
  FROM parents AS p JOIN __parent_of AS m ON m.parent_id = p.parent_id
  JOIN out_scores AS o ON o.account_id = m.account_id
  LEFT JOIN __family_revenue AS fr ON fr.account_id = o.account_id
),
totals AS (
  SELECT parent_id, sum(w) FILTER (WHERE child_score IS NOT NULL) AS w_sum,
         count(*) FILTER (WHERE child_score IS NOT NULL) AS n_scored
  FROM kids GROUP BY parent_id
),
weighed AS (
  SELECT k.*, t.n_scored,
    CASE WHEN k.child_score IS NULL THEN 0.0 WHEN t.w_sum > 0 THEN k.w ELSE 1.0 END AS weight,
    CASE WHEN k.child_score IS NULL THEN 0.0 WHEN t.w_sum > 0 THEN k.w / t.w_sum
         ELSE 1.0 / t.n_scored END AS share,
    CASE WHEN {'false' if by_revenue else 'true'} THEN 'equal'
         WHEN t.w_sum > 0 THEN 'revenue' ELSE 'equal (no revenue)' END AS basis
  FROM kids AS k JOIN totals AS t USING (parent_id)
)
SELECT parent_id, child_id, child_name, child_level, child_score, child_band, coverage, revenue,
       weight, share, CASE WHEN child_score IS NULL THEN 0.0 ELSE share * (child_score - 50) END
       AS contribution, basis
FROM weighed"""


def _band_sql(bands: dict[str, float], score: str) -> str:
    whens = " ".join(f"WHEN {score} >= {number(m)} THEN {string(b)}"
                     for b, m in sorted(bands.items(), key=lambda kv: -kv[1]))
    return f"CASE WHEN {score} IS NULL THEN 'unknown' {whens} ELSE 'unknown' END"


def _drivers_sql(sign: str, order: str) -> str:
    """The 3 children that pull the parent down (`<`) or up (`>`) most, as in top_risks."""
    plus = "+" if sign == ">" else ""
    return (f"string_agg(CASE WHEN rank_{order} <= 3 AND contribution {sign} 0 THEN child_id || ' ({plus}' || "
            f"printf('%.1f', contribution) || ')' END, '; ' ORDER BY rank_{order})")


def _roll_level(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, nodes: list[TreeNode], height: int) -> None:
    """Roll up the parents at `height` (their children are final) into out_scores."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rollup_level AS {_level_sql(loaded, height)}")
    con.execute("INSERT INTO __rollup_rows SELECT * FROM __rollup_level")
    score = "greatest(0.0, least(100.0, 50 + r.total))"
    # A parent has no tree of its own: its node score columns are NULL, not its own data's.
    nulls = "".join(f", {ident(node_column(n.path))} = NULL" for n in nodes if n.path)
    con.execute(f"""
UPDATE out_scores SET level = 'parent', score = r.score, band = r.band, coverage = r.coverage,
  top_risks = r.top_risks, top_strengths = r.top_strengths{nulls}
FROM (
  SELECT h.parent_id, CASE WHEN r.n_scored > 0 THEN {score} END AS score,
    {_band_sql(loaded.config.score.bands, f"CASE WHEN r.n_scored > 0 THEN {score} END")} AS band,
    r.coverage, r.top_risks, r.top_strengths
  FROM __parent_height AS h
  LEFT JOIN (
    SELECT parent_id, fsum(contribution) AS total, count(child_score) AS n_scored,
      fsum(share * coalesce(coverage, 0.0)) AS coverage,
      {_drivers_sql('<', 'risk')} AS top_risks, {_drivers_sql('>', 'strength')} AS top_strengths
    FROM (SELECT *,
            row_number() OVER (PARTITION BY parent_id ORDER BY contribution, child_id) AS rank_risk,
            row_number() OVER (PARTITION BY parent_id ORDER BY contribution DESC, child_id) AS rank_strength
          FROM __rollup_level)
    GROUP BY parent_id
  ) AS r ON r.parent_id = h.parent_id
  WHERE h.height = {height}
) AS r
WHERE out_scores.account_id = r.parent_id""")


def _parent_changes(con: duckdb.DuckDBPyConnection) -> None:
    """Parent rows' changes, against the history exactly as out_scores_sql measures account rows."""
    con.execute(f"""
UPDATE out_scores SET delta = c.delta, delta_7d = c.delta_7d, delta_30d = c.delta_30d,
  previous_score = c.previous_score
FROM (
  SELECT o.account_id, {CHANGES.format(cur="o")}
  FROM out_scores AS o
  {change_joins("o", reference_dates(con))}
  WHERE o.level = 'parent'
) AS c
WHERE out_scores.account_id = c.account_id""")


def apply_rollup(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, nodes: list[TreeNode]) -> None:
    """Give out_scores its `level` column and, with `accounts.parent`, roll parents up.

    Called once per snapshot right after out_scores is created, while the history is only
    read; `store_rollup` stores the children's rows inside the snapshot's transaction.
    """
    con.execute("ALTER TABLE out_scores ADD COLUMN IF NOT EXISTS level VARCHAR DEFAULT 'account'")
    if loaded.config.accounts.parent is None:
        return
    height = register_hierarchy(con, loaded)
    _family_revenue(con, loaded)
    con.execute("""CREATE OR REPLACE TEMP TABLE __rollup_rows (parent_id VARCHAR, child_id VARCHAR,
        child_name VARCHAR, child_level VARCHAR, child_score DOUBLE, child_band VARCHAR, coverage DOUBLE,
        revenue DOUBLE, weight DOUBLE, share DOUBLE, contribution DOUBLE, basis VARCHAR)""")
    for level in range(1, height + 1):  # a loop over hierarchy levels, not over accounts
        _roll_level(con, loaded, nodes, level)
    _parent_changes(con)


def store_rollup(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
    """Replace this as_of's rows of `rollup_children` with apply_rollup's (caller holds the
    snapshot's transaction). Parent rows have no tree of their own, hence no node_scores /
    drivers rows: the history and drivers leave out the accounts out_scores marks 'parent'."""
    if loaded.config.accounts.parent is None:
        if _table_exists(con, "rollup_children"):  # re-scoring a date with a config that no longer rolls up
            con.execute("DELETE FROM rollup_children WHERE as_of = (SELECT as_of FROM __params)")
        return
    con.execute(ROLLUP_TABLE)
    con.execute("DELETE FROM rollup_children WHERE as_of = (SELECT as_of FROM __params)")
    con.execute("""INSERT INTO rollup_children
        SELECT p.as_of, r.parent_id, fr.revenue, r.child_id, r.child_name, r.child_level, r.child_score,
               r.child_band, r.revenue, r.weight, r.share, r.contribution, r.basis
        FROM __rollup_rows AS r CROSS JOIN __params AS p
        LEFT JOIN __family_revenue AS fr ON fr.account_id = r.parent_id
        ORDER BY r.parent_id, r.contribution, r.child_id""")
