"""Invariants of the scoring SQL, checked on random inputs (hypothesis)."""

from __future__ import annotations

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from chs.config.models import Score
from chs.scoring import scoring_sql
from chs.tree import flatten

values = st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
weights = st.floats(min_value=0, max_value=100, allow_nan=False)


def _tree(w: list[float], missing: float | None) -> Score:
    leaf = {"missing": missing} if missing is not None else {}
    return Score.model_validate({
        "bands": {"green": 70, "yellow": 40, "red": 0},
        "tree": {
            "a": {"weight": w[0], "children": {
                "x": {"weight": w[1], "variable": "v1", "scale": {"thresholds": [[0, 0], [10, 60], [50, 100]]}},
                "y": {"weight": w[2], "variable": "v2", "scale": {"steps": [[-5, 20], [0, 50], [5, 90]]}, **leaf},
            }},
            "b": {"weight": w[3], "variable": "v3", "scale": {"percentile": {}}},
            "c": {"weight": w[4], "variable": "v4", "scale": {"thresholds": [[0, 100], [3, 0]]}},
        },
    })


def _run(rows: list[tuple], score: Score) -> pl.DataFrame:
    con = duckdb.connect()
    con.execute("CREATE TABLE vars (__account VARCHAR, v1 DOUBLE, v2 DOUBLE, v3 DOUBLE, v4 DOUBLE, "
                "__segment VARCHAR, __rule VARCHAR)")
    con.executemany("INSERT INTO vars VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                    [(str(i), *r) for i, r in enumerate(rows)])
    nodes = flatten(score.tree, score.missing)
    leaves = [i for i, n in enumerate(nodes) if n.is_leaf]
    sql = scoring_sql(nodes, score.bands, {})
    cols = ", ".join([f"__c_{i}" for i in leaves] + [f"__e_{i}" for i in leaves] + [f"__s_{i}" for i in leaves])
    return pl.from_arrow(con.sql(
        f"SELECT __account, score, band, coverage, {cols} FROM ({sql}) ORDER BY __account::INT").to_arrow_table())


rows_strategy = st.lists(st.tuples(values, values, values, values), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, w=st.lists(weights, min_size=5, max_size=5),
       missing=st.one_of(st.none(), st.floats(min_value=0, max_value=100)))
def test_score_in_range_and_contributions_add_up(rows, w, missing) -> None:
    score = _tree(w, missing)
    df = _run(rows, score)
    nodes = flatten(score.tree, score.missing)
    leaves = [i for i, n in enumerate(nodes) if n.is_leaf]
    for r in df.to_dicts():
        contributions = sum(r[f"__c_{i}"] for i in leaves)
        if r["score"] is None:
            assert r["band"] == "unknown"
            assert contributions == 0
            continue
        assert 0 <= r["score"] <= 100
        assert abs(50 + contributions - r["score"]) < 1e-9
        assert abs(sum(r[f"__e_{i}"] for i in leaves) - 1) < 1e-9
        assert -1e-12 <= r["coverage"] <= 1 + 1e-12


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, w=st.lists(st.floats(min_value=0.1, max_value=100), min_size=5, max_size=5),
       which=st.integers(min_value=0, max_value=2), bump=st.floats(min_value=0, max_value=1e5))
def test_raising_a_higher_is_better_variable_never_lowers_the_score(rows, w, which, bump) -> None:
    # v1 (thresholds up), v2 (steps up) and v3 (percentile, higher is better) are higher-is-better.
    score = _tree(w, None)
    raised = [tuple((v + bump) if (k == which and v is not None) else v for k, v in enumerate(r)) for r in rows]
    before = _run(rows, score)["score"].to_list()
    after = _run(raised, score)["score"].to_list()
    if which == 2:
        # Percentiles are relative: raise one account only and compare that account.
        raised = list(rows)
        r0 = rows[0]
        raised[0] = (r0[0], r0[1], None if r0[2] is None else r0[2] + bump, r0[3])
        after = _run(raised, score)["score"].to_list()
        before, after = before[:1], after[:1]
    for b, a in zip(before, after):
        if b is not None:
            assert a >= b - 1e-9
