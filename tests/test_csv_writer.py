"""scores.csv and actions.csv go through polars' CSV writer (chs/outputs.py::_write_csv): the
text must be what DuckDB's COPY writes, byte for byte, for the values the exports hold; the
few documented spellings that differ must read back as the same values."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from chs.outputs import CSV_BATCH_ROWS, POLARS_CSV_MIN_ROWS, Staging

ROWS = """SELECT * FROM (VALUES
 ('ACC-1', 'a,b', DATE '2026-01-02', 61.58057893179844, 1::BIGINT, true, 3::INTEGER),
 ('ACC-2', 'say "hi"', NULL, -1.0009756097560967, -5, false, NULL),
 ('ACC-3', 'line
break', DATE '1999-12-31', 1e22, NULL, NULL, 7),
 ('ACC-4', '', DATE '2026-11-20', -0.0, 0, true, 0),
 ('ACC-5', NULL, DATE '2026-11-20', 0.30000000000000004, 9223372036854775807, true, -1),
 ('ACC-6', 'ünïcödé €', DATE '2026-11-20', 123456.789, 2, true, 2),
 ('ACC-7', ' lead; space', DATE '2026-11-20', 100.0, 2, true, 2),
 ('ACC-8', 'it''s', DATE '2026-11-20', 1.4210854715202004e-14, 2, true, 2),
 ('ACC-9', 'tab	x', DATE '2026-11-20', NULL, 2, true, 2),
 ('ACC-10', 'NULL', DATE '2026-11-20', 1e15, 2, true, 2),
 ('=SUM(A1)', '+cmd', DATE '2026-11-20', 0.0001, 2, true, 2)
) AS v(account_id, name, as_of, score, n, flag, k)"""


def _both(tmp_path: Path, query: str, rows: int = POLARS_CSV_MIN_ROWS) -> tuple[bytes, bytes]:
    """(chs's CSV of `query` as for a result of `rows` rows, DuckDB COPY of the same
    neutralised query)."""
    con = duckdb.connect()
    staging = Staging(tmp_path / "out")
    staging.copy(con, query, "x.csv", rows=rows)
    from chs.outputs import _neutralised_query
    neutral, _ = _neutralised_query(con, query)
    con.execute(f"COPY ({neutral}) TO '{tmp_path / 'copy.csv'}' (FORMAT csv, HEADER true)")
    return (staging.path / "x.csv").read_bytes(), (tmp_path / "copy.csv").read_bytes()


def test_same_bytes_as_copy(tmp_path: Path) -> None:
    ours, theirs = _both(tmp_path, ROWS + " ORDER BY account_id")
    assert ours == theirs
    assert b"'=SUM(A1)" in ours and b"'+cmd" in ours  # formula neutralising still applies


def test_many_batches_one_header_same_order(tmp_path: Path) -> None:
    n = CSV_BATCH_ROWS * 2 + 17
    ours, theirs = _both(tmp_path, f"SELECT printf('ACC-%07d', i) AS account_id, i / 7 AS score, "
                                   f"DATE '2026-01-01' + CAST(i % 400 AS INT) AS as_of FROM range({n}) t(i)")
    assert ours == theirs
    assert ours.count(b"account_id") == 1 and ours.count(b"\n") == n + 1


def test_no_rows_writes_the_header(tmp_path: Path) -> None:
    ours, theirs = _both(tmp_path, ROWS + " WHERE false")
    assert ours == theirs == b"account_id,name,as_of,score,n,flag,k\n"


def test_differing_spellings_read_back_equal(tmp_path: Path) -> None:
    values = [1.5e-05, 1e-07, 2.5e-09, 0.00099, float("nan")]
    query = "SELECT * FROM (VALUES " + ", ".join(f"({i}, '{v!r}'::DOUBLE)" for i, v in enumerate(values)) \
        + ") AS v(i, x)"
    ours, theirs = _both(tmp_path, query)
    con = duckdb.connect()
    (tmp_path / "ours.csv").write_bytes(ours)
    (tmp_path / "theirs.csv").write_bytes(theirs)
    read = {name: [r[0] for r in con.execute(
        f"SELECT x FROM read_csv('{tmp_path / name}', columns = {{'i': 'INTEGER', 'x': 'DOUBLE'}}, "
        f"header = true) ORDER BY i").fetchall()] for name in ("ours.csv", "theirs.csv")}
    for a, b, v in zip(read["ours.csv"], read["theirs.csv"], values, strict=True):
        assert (math.isnan(a) and math.isnan(b)) if math.isnan(v) else a == b == v


@pytest.mark.parametrize("expr, text", [
    ("TIMESTAMP '2026-11-20 08:30:00'", b"2026-11-20 08:30:00"),
    ("CAST(1.50 AS DECIMAL(9, 2))", b"1.50"),
    ("[1, 2]", b"[1, 2]"),
])
def test_other_types_go_through_copy(tmp_path: Path, expr: str, text: str) -> None:
    ours, theirs = _both(tmp_path, f"SELECT 'ACC-1' AS account_id, {expr} AS x")
    assert ours == theirs and text in ours


def test_small_results_keep_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under POLARS_CSV_MIN_ROWS the CSV is DuckDB's COPY (polars is not even imported)."""
    import chs.outputs
    monkeypatch.setattr(chs.outputs, "_write_csv", lambda *a: pytest.fail("polars path taken"))
    ours, theirs = _both(tmp_path, ROWS, rows=POLARS_CSV_MIN_ROWS - 1)
    assert ours == theirs
