"""`chs.sql.one_decimal` (the numbers in top_risks / top_strengths) is printf('%.1f') exactly."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from chs.sql import one_decimal

SPECIAL = [0.0, -0.0, 0.04, -0.04, 0.05, -0.05, -0.049999, 0.15, 0.25, 0.35, -0.25, 0.45, -0.45, 2.675,
           49.95, -49.95, 1e-300, -1e-300, 999_999.95, 1e6, -1e6, 1e20, -1e20,
           float("inf"), float("-inf"), float("nan")]


def _differences(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT x, {one_decimal('x')}, printf('%.1f', x) FROM {table} "
                       f"WHERE {one_decimal('x')} IS DISTINCT FROM printf('%.1f', x) LIMIT 5").fetchall()


def test_same_text_as_printf_on_random_values_and_tie_grids() -> None:
    con = duckdb.connect()
    con.execute("SELECT setseed(0.5)")
    # Every tie and near-tie of one decimal in [-60, 60] (contributions live in ±50), exact
    # binary ties (k/4), one ulp either side, and half a million uniform values.
    con.execute("""CREATE TABLE v AS
        SELECT random() * 120 - 60 AS x FROM range(500000)
        UNION ALL SELECT (i / 4.0 - 60)::DOUBLE FROM range(481) t(i)
        UNION ALL SELECT (i / 20.0 - 60)::DOUBLE + d FROM range(2401) t(i), (VALUES (0.0), (1e-13), (-1e-13)) e(d)
        UNION ALL SELECT nextafter((i / 20.0 - 60)::DOUBLE, s) FROM range(2401) t(i), (VALUES (100.0), (-100.0)) e(s)""")
    con.execute("INSERT INTO v SELECT unnest($xs::DOUBLE[])", {"xs": SPECIAL})
    con.execute("INSERT INTO v VALUES (NULL)")
    assert _differences(con, "v") == []
    assert con.execute(f"SELECT {one_decimal('x')} FROM (VALUES (-0.04::DOUBLE)) t(x)").fetchall() == [("-0.0",)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_same_text_as_printf_for_any_double(xs: list[float]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE v AS SELECT unnest($xs::DOUBLE[]) AS x", {"xs": xs})
    assert _differences(con, "v") == []
