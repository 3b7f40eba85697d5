"""Opening the embedded DuckDB database with the settings every stage relies on."""

from __future__ import annotations

from pathlib import Path

import duckdb

from chs.errors import DataError, InputMissingError, LockedError, OutputError


def connect(database: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open `database`; a lock held by another process is exit 75, an unwritable path 73."""
    if read_only and not database.exists():
        raise InputMissingError(f"{database}: no history yet; run `chs score` first")
    try:
        if not read_only:
            database.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(database), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise LockedError(f"{database}: in use by another chs run; retry later") from None
        raise OutputError(f"{database}: cannot open ({text.splitlines()[0]})") from None
    except OSError as exc:
        raise OutputError(f"{database}: cannot open ({exc.strerror})") from None
    configure(con)
    return con


def configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """UTC days for windows and as_of (DESIGN 2.1); no progress bar on stdout."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def memory() -> duckdb.DuckDBPyConnection:
    """An in-memory connection (validate, compile) with the same settings."""
    return configure(duckdb.connect())


def attach_read_only(con: duckdb.DuckDBPyConnection, database: Path, alias: str) -> None:
    """ATTACH the history read-only into a scratch connection; it is never written. A running
    `chs score` holds DuckDB's file lock: that is exit 75 (retry later), not a crash."""
    from chs.sql import ident, string
    try:
        con.execute(f"ATTACH {string(str(database))} AS {ident(alias)} (READ_ONLY)")
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise LockedError(f"{database}: in use by another chs run; retry later") from None
        raise DataError(f"{database}: cannot read history ({str(exc).splitlines()[0]})") from None
