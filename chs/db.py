"""Opening the embedded DuckDB database with the settings every stage relies on.

chs never touches the network: extension auto-install and auto-load are off on every
connection (DuckDB would otherwise try to download `sqlite_scanner` when handed a SQLite
file). A file that is not a DuckDB database is recognised before DuckDB opens it and
reported by what it is; it is never written to.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import duckdb

from chs.errors import DataError, InputMissingError, LockedError, OutputError

# Given at connect time: a setting changed after opening comes too late for the open itself.
NO_NETWORK = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

# A DuckDB file starts with an 8-byte checksum, then this magic (storage format, any version).
_DUCKDB_MAGIC = b"DUCK"
# The main header plus two database headers: a shorter file cannot hold a database.
_MIN_SIZE = 3 * 4096
_FOREIGN = {
    b"SQLite format 3\x00": "a SQLite database",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip file",
    b"PK\x03\x04": "a zip file",
}


T = TypeVar("T")

# `chs score` holds DuckDB's file lock only while it writes a snapshot (chs.history_file): a
# reader that meets it waits that long, at most this many seconds, instead of failing.
READER_WAIT_SECONDS = 120.0
_POLL_SECONDS = 0.05
# DuckDB names the process that holds a file's lock: "... is held in /usr/bin/python3 (PID 123)".
_HOLDER = re.compile(r"\(PID (\d+)\)")

_UNCHANGED = ("nothing was changed; move it away or point storage.database at another file "
              "(a new one is created by the next `chs score`)")


def describe_foreign(database: Path) -> str | None:
    """None when `database` is missing, empty or looks like a DuckDB file; else what it is."""
    try:
        with database.open("rb") as fh:
            head = fh.read(16)
        size = database.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if size == 0:
        return None  # DuckDB initialises an empty file as a new database
    if head[8:12] == _DUCKDB_MAGIC:
        return None if size >= _MIN_SIZE else f"a truncated DuckDB database ({size} bytes)"
    for magic, what in _FOREIGN.items():
        if head.startswith(magic):
            return what
    if head[:1] in (b"{", b"[") or all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return "unrecognised content (not a DuckDB file)"


def check_database_file(database: Path) -> None:
    """DataError (65) naming what `database` is, when it is not a usable DuckDB file."""
    what = describe_foreign(database)
    if what is not None:
        raise DataError(f"{database}: is {what}, not a chs history database; {_UNCHANGED}")


def open_error(database: Path, exc: duckdb.Error) -> Exception:
    text = str(exc)
    if "lock" in text.lower():
        return LockedError(f"{database}: in use by another chs run; retry later")
    if "not a valid DuckDB database" in text or "Could not read enough bytes" in text \
            or "checksum" in text.lower() or "Corrupt" in text or "serializ" in text.lower():
        return DataError(f"{database}: is a damaged or truncated DuckDB database "
                         f"({text.splitlines()[0]}); {_UNCHANGED}")
    return OutputError(f"{database}: cannot open ({text.splitlines()[0]})")


def lock_holder(exc: BaseException) -> int | None:
    """The PID DuckDB names as holding the file lock, if the error is a lock conflict."""
    text = str(exc)
    if "lock" not in text.lower():
        return None
    found = _HOLDER.search(text)
    return int(found.group(1)) if found else -1


def run_pid(database: Path) -> int | None:
    """The PID in `<database>.lock`: the running (or last) `chs score` (chs.lock)."""
    try:
        text = database.with_name(database.name + ".lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def wait_for_lock(database: Path, attempt: Callable[[], T], any_holder_seconds: float | None = None) -> T:
    """`attempt()`, retried while it fails on DuckDB's lock of `database`. Held by the chs run
    of this database (its PID in the run lock file), the lock is a snapshot being written:
    wait up to READER_WAIT_SECONDS. `any_holder_seconds`: wait that long whoever holds it (the
    run itself, waiting for readers to finish). Any other holder: the error at once."""
    deadline: float | None = None
    while True:
        try:
            return attempt()
        except duckdb.Error as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise
            if any_holder_seconds is not None:
                limit = any_holder_seconds
            elif holder > 0 and holder != os.getpid() and holder == run_pid(database):
                limit = READER_WAIT_SECONDS
            else:
                raise
            now = time.monotonic()
            deadline = now + limit if deadline is None else deadline
            if now >= deadline:
                raise
            time.sleep(_POLL_SECONDS)


def open_file(database: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with the no-network settings and chs's error mapping; waits out a running
    `chs score`'s write of a snapshot (wait_for_lock)."""
    check_database_file(database)
    try:
        return wait_for_lock(database, lambda: duckdb.connect(str(database), read_only=read_only,
                                                              config=dict(NO_NETWORK)))
    except duckdb.Error as exc:
        raise open_error(database, exc) from None
    except OSError as exc:
        raise OutputError(f"{database}: cannot open ({exc.strerror})") from None


def connect(database: Path, read_only: bool = False, require_history: bool = True) -> duckdb.DuckDBPyConnection:
    """Open `database`; a lock held by another process is exit 75, an unwritable path 73, a
    foreign or damaged file 65. Read-only opens are for readers of the history (explain,
    report, actions): a database without a stored snapshot is exit 66 unless
    `require_history` is False."""
    if read_only and not database.exists():
        raise InputMissingError(f"{database}: no snapshots stored yet; run `chs score` first")
    if not read_only:
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{database}: cannot open ({exc.strerror})") from None
    con = open_file(database, read_only=read_only)
    try:
        check_complete(con, database)
    except BaseException:
        con.close()
        raise
    configure(con)
    if read_only and require_history and not has_snapshots(con):
        con.close()
        raise InputMissingError(f"{database}: no snapshots stored yet; run `chs score` first")
    return con


def has_snapshots(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> bool:
    """True when the history holds at least one scored snapshot."""
    where = "table_name = 'scores' AND schema_name = 'main'"
    if catalog is not None:
        where += " AND database_name = $catalog"
    else:
        where += " AND database_name = current_database()"
    found = con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE {where}",
                        {"catalog": catalog} if catalog is not None else {}).fetchall()[0][0]
    if not found:
        return False
    from chs.sql import ident
    table = f"{ident(catalog)}.main.scores" if catalog is not None else "scores"
    return bool(con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchall()[0][0])


# Columns every chs history has had since its first version; later columns are added by
# migrations (chs.history), so only these decide whether a file is a chs history at all.
CORE_COLUMNS = {
    "runs": {"run_id", "as_of", "status"},
    "scores": {"account_id", "as_of", "score", "band"},
    "actions": {"action_id", "rule", "account_id", "status"},
}


def check_complete(con: duckdb.DuckDBPyConnection, database: Path) -> None:
    """DuckDB reads blocks lazily: a cut-off file opens fine and fails mid-run. Its header
    says how many blocks it holds, so a file shorter than that is known to be truncated."""
    # Only used blocks must be in the file: DuckDB cuts free blocks off its end at a checkpoint,
    # so total_blocks (which counts free ones) may rightly exceed what the file holds.
    block_size, blocks = con.execute("SELECT block_size, used_blocks FROM pragma_database_size() "
                                     "WHERE database_name = current_database()").fetchall()[0]
    size, needed = database.stat().st_size, _MIN_SIZE + int(blocks) * int(block_size)
    if size < needed:
        raise DataError(f"{database}: is a truncated DuckDB database ({size} of {needed} bytes); {_UNCHANGED}")


def check_history_schema(database: Path) -> None:
    """Before a run writes a copy of `database`: DataError (65) when it is a DuckDB file that is
    not a chs history (only other tables, or chs's tables without their columns), so it is
    never written to. An empty database is fine (the run creates the tables)."""
    if not database.exists() or database.stat().st_size == 0:
        return
    con = open_file(database, read_only=True)
    try:
        rows = con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                           "WHERE database_name = current_database() AND schema_name = 'main'").fetchall()
        check_complete(con, database)
    except duckdb.Error as exc:
        raise open_error(database, exc) from None
    finally:
        con.close()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    if found and not set(found) & set(CORE_COLUMNS):
        raise DataError(f"{database}: a DuckDB database without chs history tables (has: "
                        f"{', '.join(sorted(found)[:8])}); {_UNCHANGED}")
    problems = [f"table '{t}' lacks {', '.join(sorted(CORE_COLUMNS[t] - cols))}"
                for t, cols in sorted(found.items()) if t in CORE_COLUMNS and CORE_COLUMNS[t] - cols]
    if problems:
        raise DataError(f"{database}: not a chs history ({'; '.join(problems)}); {_UNCHANGED}")


def configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """UTC days for windows and as_of (DESIGN 2.1); no progress bar on stdout; no network."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    return con


def memory() -> duckdb.DuckDBPyConnection:
    """An in-memory connection (validate, compile) with the same settings."""
    return configure(duckdb.connect(config=dict(NO_NETWORK)))


def restrict_file_access(con: duckdb.DuckDBPyConnection, files: Iterable[str],
                         directories: Iterable[Path]) -> None:
    """From here on this connection reads only `files` (the exports, which Parquet views read
    lazily) and reads/writes only inside `directories` (output staging): a fragment calling
    read_csv('/etc/passwd') or COPY ... TO elsewhere fails with a permission error. DuckDB
    cannot switch external access back on for a running database, so this is for the one
    connection of a run."""
    from chs.sql import string
    dirs = [str(Path(d).resolve()) + "/" for d in directories]
    paths = sorted({str(Path(f).resolve()) for f in files} | {str(Path(f)) for f in files})
    con.execute(f"SET allowed_directories = [{', '.join(map(string, dirs))}]")
    con.execute(f"SET allowed_paths = [{', '.join(map(string, paths))}]")
    con.execute("SET enable_external_access = false")


def attach_read_only(con: duckdb.DuckDBPyConnection, database: Path, alias: str) -> None:
    """ATTACH the history read-only into a scratch connection; it is never written. A running
    `chs score` holds DuckDB's file lock: that is exit 75 (retry later), not a crash."""
    from chs.sql import ident, string
    check_database_file(database)
    try:
        wait_for_lock(database, lambda: con.execute(f"ATTACH {string(str(database))} AS {ident(alias)} (READ_ONLY)"))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise LockedError(f"{database}: in use by another chs run; retry later") from None
        error = open_error(database, exc)
        if isinstance(error, OutputError):
            error = DataError(f"{database}: cannot read history ({str(exc).splitlines()[0]})")
        raise error from None
