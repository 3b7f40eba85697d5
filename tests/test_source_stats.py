"""The row count and newest time of a Parquet source, read from the footers or by a scan.

`chs score` takes them from the Parquet footers when the time column is read as it is (a
scan of 100M timestamps cost 1 s at 1M accounts); both ways must give the same answer, and
the footers are not trusted when a row group lacks statistics."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chs.config import load_config
from chs.sources import register_source

CONFIG = """\
version: 1
storage: {database: chs.duckdb, output_dir: out}
accounts: {source: accounts, id: account_id}
sources:
  accounts: {path: accounts.csv}
  usage: {path: usage/*.parquet, account: account_id, time: event_time}
variables:
  events: {source: usage, agg: count, window: 30d}
score:
  tree:
    use: {weight: 1, variable: events, scale: {thresholds: [[0, 0], [10, 100]]}}
"""


def _project(tmp_path: Path, null_group: bool) -> Path:
    (tmp_path / "chs.yaml").write_text(CONFIG)
    (tmp_path / "accounts.csv").write_text("account_id\nA\nB\n")
    (tmp_path / "usage").mkdir()
    con = duckdb.connect()
    for f in range(2):
        # Several row groups per file; the newest event is in the middle of the second file.
        con.execute(f"""COPY (SELECT CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END AS account_id,
            TIMESTAMP '2026-01-01' + to_seconds(CAST((i * 7919) % 500000 + {f} * 1000 AS BIGINT)) AS event_time
            FROM range(5000) t(i)) TO '{tmp_path}/usage/part-{f}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000)""")
    if null_group:  # a row group whose times are all NULL carries no max statistic
        con.execute(f"""COPY (SELECT 'A' AS account_id, NULL::TIMESTAMP AS event_time FROM range(10))
            TO '{tmp_path}/usage/part-9.parquet' (FORMAT parquet)""")
    con.close()
    return tmp_path


@pytest.mark.parametrize("null_group", [False, True])
def test_footer_statistics_agree_with_a_scan(tmp_path: Path, null_group: bool) -> None:
    import chs.sources as sources
    root = _project(tmp_path, null_group)
    loaded = load_config(root / "chs.yaml")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    info = register_source(con, loaded, "usage", "account_id")
    scanned = con.execute("SELECT count(*), CAST(max(__ts) AS VARCHAR) FROM src_usage").fetchall()[0]
    assert (info.rows, info.newest) == (scanned[0], scanned[1])
    assert info.rows == 10000 + (10 if null_group else 0)
    # Which way was taken: the footers unless a row group has no statistics.
    footer = sources._parquet_stats(con, info, info.files, "event_time")
    assert (footer is None) == null_group
    if footer is not None:
        assert footer[:2] == (info.rows, info.newest)


def test_int96_timestamps_are_scanned(tmp_path: Path) -> None:
    """Legacy INT96 timestamps (older Spark) are read by a scan and give the same figures (the
    footer path takes INT64 columns only: INT96 statistics, where a writer keeps them, have no
    defined order)."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    import chs.sources as sources
    root = _project(tmp_path, null_group=False)
    for old in (root / "usage").iterdir():
        old.unlink()
    times = [dt.datetime(2026, 1, 1) + dt.timedelta(hours=h) for h in range(50)]
    table = pa.table({"account_id": ["A", "B"] * 25, "event_time": pa.array(times, pa.timestamp("us"))})
    pq.write_table(table, root / "usage" / "part-0.parquet", use_deprecated_int96_timestamps=True)
    loaded = load_config(root / "chs.yaml")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    info = register_source(con, loaded, "usage", "account_id")
    assert sources._parquet_stats(con, info, info.files, "event_time") is None
    assert (info.rows, info.newest) == (50, "2026-01-03 01:00:00")
