"""`top_risks` / `top_strengths` (DESIGN 3) against a plain Python reading of the rule: the 3
most negative (positive) contributions, ties in tree order, `path (-x.x)` / `path (+x.x)`
joined by '; ', NULL when there is none. Ties, zeros and values that round to 0.0 are drawn
on purpose: they are where a set-based formulation can go wrong."""

from __future__ import annotations

import datetime as dt

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from chs.compiler import _snapshot_steps
from chs.tree import TreeNode

# root -> a (a.x, a.y), b, c (c.z, c.w, c.v): 6 leaves at node orders 2, 3, 4, 6, 7, 8.
NODES = [
    TreeNode("", None, "Health score", 1.0, ("a", "b", "c")),
    TreeNode("a", "", "a", 1.0, ("a.x", "a.y")),
    TreeNode("a.x", "a", "x", 1.0, (), variable="vx"),
    TreeNode("a.y", "a", "y", 1.0, (), variable="vy"),
    TreeNode("b", "", "b", 1.0, (), variable="vb"),
    TreeNode("c", "", "c", 1.0, ("c.z", "c.w", "c.v")),
    TreeNode("c.z", "c", "z", 1.0, (), variable="vz"),
    TreeNode("c.w", "c", "w", 1.0, (), variable="vw"),
    TreeNode("c.v", "c", "v", 1.0, (), variable="vv"),
]
LEAVES = [i for i, n in enumerate(NODES) if n.is_leaf]
VALUES = st.one_of(st.sampled_from([0.0, -0.0, 0.04, -0.04, 0.05, -0.05, 0.25, -0.25, 7.5, -7.5, 12.0, -12.0]),
                   st.floats(min_value=-50, max_value=50, allow_nan=False))


def _reference(contributions: list[float], sign: int) -> str | None:
    picked = [(c, k) for k, c in enumerate(contributions) if c * sign > 0]
    picked.sort(key=lambda ck: (-sign * ck[0], ck[1]))  # largest first, then tree order
    plus = "+" if sign > 0 else ""
    text = "; ".join(f"{NODES[LEAVES[k]].path} ({plus}{c:.1f})" for c, k in picked[:3])
    return text or None


def _tops(rows: list[list[float]]) -> list[tuple[str | None, str | None]]:
    con = duckdb.connect()
    cols = ", ".join(f"CAST(c{k} AS DOUBLE) AS __c_{i}" for k, i in enumerate(LEAVES))
    nodes_s = ", ".join(f"50.0 AS __s_{i}" for i in range(len(NODES)))
    con.execute("CREATE TABLE t (n INTEGER, " + ", ".join(f"c{k} DOUBLE" for k in range(len(LEAVES))) + ")")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * (len(LEAVES) + 1))})",
                    [[n, *r] for n, r in enumerate(rows)])
    con.execute(f"""CREATE TABLE scored AS SELECT printf('A%05d', n) AS __account, 'name' AS __name,
        'owner' AS __owner, 'seg' AS __segment, 50.0 AS score, 'yellow' AS band, 1.0 AS coverage,
        {cols}, {nodes_s} FROM t""")
    snap = next(s for s in _snapshot_steps(NODES, dt.date(2026, 11, 20)) if s.table == "snap_scores")
    return con.execute(f"SELECT top_risks, top_strengths FROM ({snap.select}) ORDER BY account_id").fetchall()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(VALUES, min_size=len(LEAVES), max_size=len(LEAVES)), min_size=1, max_size=40))
def test_tops_follow_the_rule(rows: list[list[float]]) -> None:
    assert _tops(rows) == [(_reference(r, -1), _reference(r, 1)) for r in rows]


def test_tops_by_hand() -> None:
    rows = [[-3.0, -3.0, 5.0, -0.04, 0.0, -12.25],  # ties in tree order; -0.04 shows as -0.0
            [0.0] * 6,  # neither risks nor strengths
            [1.0, 2.0, 3.0, 4.0, 5.0, 5.0]]  # four or more: the top 3 only
    assert _tops(rows) == [
        ("c.v (-12.2); a.x (-3.0); a.y (-3.0)", "b (+5.0)"),
        (None, None),
        (None, "c.w (+5.0); c.v (+5.0); c.z (+4.0)"),
    ]
