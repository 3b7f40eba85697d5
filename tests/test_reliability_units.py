"""Unit checks behind the reliability corpus (issue 15): terminal cleaning, database file
recognition, no-network settings, the file-access lock-down, CSV line finding."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from chs.cli.common import SafeConsole, clean
from chs.db import connect, describe_foreign, memory, restrict_file_access
from chs.errors import DataError, InputMissingError
from chs.export_checks import _find_line, columns_listing


@pytest.mark.parametrize(("raw", "shown"), [
    ("Alpha GmbH", "Alpha GmbH"),
    ("Müller & Söhne – café", "Müller & Söhne – café"),
    ("a\x1b[31mred\x1b[0m", "ared"),  # CSI colour
    ("x\x1b]0;new title\x07y", "xy"),  # OSC window title, BEL-terminated
    ("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\z", "xlinkz"),  # OSC 8 hyperlink, ST-terminated
    ("\x9b2J8-bit CSI", "8-bit CSI"),  # C1 CSI
    ("keep\ttab\nnewline", "keep\ttab\nnewline"),
    ("bell\x07 cr\r del\x7f nul\x00", "bell cr del nul"),
    (None, ""),
])
def test_clean(raw: str | None, shown: str) -> None:
    assert clean(raw) == shown


def test_safe_console_cleans_every_segment_but_keeps_its_own_styles(tmp_path: Path) -> None:
    from rich.table import Table
    from rich.text import Text
    target = tmp_path / "tty.txt"
    with target.open("w") as fh:
        console = SafeConsole(file=fh, force_terminal=True, color_system="standard", width=60, highlight=False)
        table = Table("name")
        # Rich drops the BEL ending the OSC when it builds the Text, so the net removes the
        # unterminated sequence to the end of its segment (as a terminal would swallow it);
        # renderers that clean() first keep the rest of the value.
        table.add_row(Text("Evil\x1b]0;pwned\x07 Corp", style="red"))
        table.add_row(Text(clean("Good\x1b]0;pwned\x07 Corp")))
        console.print(table)
        console.print("plain \x1b[2J text", markup=False)
    text = target.read_text()
    assert "pwned" not in text and "\x1b]" not in text and "\x1b[2J" not in text
    assert "Evil" in text and "Good Corp" in text and "plain  text" in text
    assert "\x1b[31m" in text  # Rich's own colour for style="red" survives


def test_describe_foreign(tmp_path: Path) -> None:
    lite = tmp_path / "a.db"
    sqlite3.connect(lite).execute("CREATE TABLE t (a)").connection.commit()
    assert describe_foreign(lite) == "a SQLite database"
    good = tmp_path / "good.duckdb"
    duckdb.connect(str(good)).execute("CREATE TABLE t AS SELECT 1").close()
    assert describe_foreign(good) is None
    (tmp_path / "empty").write_bytes(b"")
    assert describe_foreign(tmp_path / "empty") is None
    assert describe_foreign(tmp_path / "missing") is None
    (tmp_path / "notes.txt").write_text("hello\n")
    assert describe_foreign(tmp_path / "notes.txt") == "a text file"
    (tmp_path / "cut").write_bytes(good.read_bytes()[:4000])
    assert describe_foreign(tmp_path / "cut") == "a truncated DuckDB database (4000 bytes)"


def test_no_network_settings_on_every_connection(tmp_path: Path) -> None:
    for con in (memory(), connect(tmp_path / "h.duckdb")):
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                    "('autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
        assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
        con.close()


def test_sqlite_file_is_refused_without_touching_it(tmp_path: Path) -> None:
    lite = tmp_path / "chs.duckdb"
    sqlite3.connect(lite).execute("CREATE TABLE t (a)").connection.commit()
    before = lite.read_bytes()
    with pytest.raises(DataError, match="is a SQLite database, not a chs history database; nothing was changed"):
        connect(lite)
    assert lite.read_bytes() == before


def test_reader_without_snapshots(tmp_path: Path) -> None:
    db = tmp_path / "chs.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(InputMissingError, match="no snapshots stored yet"):
        connect(db, read_only=True)
    connect(db, read_only=True, require_history=False).close()


def test_lock_down_keeps_outputs_and_sources_and_refuses_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a\n1\n")
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret\n")
    con = memory()
    con.execute(f"CREATE VIEW v AS SELECT * FROM read_csv('{src}')")
    restrict_file_access(con, [str(src)], [out])
    assert con.execute("SELECT count(*) FROM v").fetchall() == [(1,)]
    con.execute(f"COPY (SELECT 1 AS x) TO '{out / 'x.parquet'}' (FORMAT parquet)")
    assert (out / "x.parquet").exists()
    for sql in (f"SELECT * FROM read_text('{secret}')", f"COPY (SELECT 1) TO '{tmp_path / 'evil.csv'}'",
                "SET enable_external_access = true"):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert not (tmp_path / "evil.csv").exists()


def test_find_line_reads_long_lines_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"h\n" + b"a\n" * 1241 + b"1243," + b"9" * 300_000 + b"\nb\n")
    assert _find_line(path, "1243,999", None) == 1243
    assert _find_line(path, "zzz", None) is None


def test_columns_listing_only_for_exports() -> None:
    assert columns_listing("data/a.csv", ["x", "y"]) == "columns: x, y"
    assert columns_listing("data/a.parquet.gz", ["x"]) == "columns: x"
    assert "not shown" in columns_listing("/etc/passwd", ["root:x:0:0:root:/root:/bin/bash"])


def test_rescoring_and_diff_name_a_corrupt_parquet_file(tmp_path: Path) -> None:
    """`chs diff` and backtest/calibrate rescoring read the exports too: a corrupt page is 65
    naming the file there as in `chs score` (chs.export_checks.naming_corrupt_exports)."""
    import datetime as dt
    import shutil

    from chs.config import load_config
    from chs.diff import score_side
    from chs.scratch import rescore
    from tests.test_reliability_corpus import _corrupt_parquet, _to_parquet

    root = tmp_path / "p"
    shutil.copytree(Path(__file__).parent / "reliability" / "_base", root)
    _to_parquet(root)
    _corrupt_parquet(root, {"corrupt": "data/invoices/2026-02.parquet"})
    loaded = load_config(root / "chs.yaml")
    for work in (lambda: score_side(loaded, dt.date(2026, 2, 27)),
                 lambda: rescore(loaded, [dt.date(2026, 2, 27)])):
        with pytest.raises(DataError, match=r"invoices/2026-02\.parquet: corrupt Parquet data"):
            work()
