"""The history file during `chs score`: read while the run computes, written only per snapshot.

DuckDB lets one process write a file and no other process read it meanwhile. The run works
in an in-memory database (its temp tables spill to `<database>.tmp`) and ATTACHes the history
as `hist` (USE hist, so `scores`, `actions`... name it):
- read-only while sources are aggregated, scored and exported (shared lock: `explain`,
  `report`, `actions` read the last committed history meanwhile);
- read-write only around each snapshot's transaction (and the end: delivery, checkpoint).
  Readers that meet that lock wait it out (chs.db.wait_for_lock); the run in turn waits up to
  CHS_LOCK_WAIT seconds (default 600) for readers holding the file.

A crash leaves DuckDB's own guarantees: a transaction is stored whole or not at all, and a
committed one not yet checkpointed sits in `<database>.wal`, which readers and the next
run read. The cost of a night no longer grows with the history (earlier versions copied the
whole file each run).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from chs.db import check_history_schema, lock_holder, open_error, wait_for_lock
from chs.errors import ConfigError, LockedError, OutputError
from chs.sql import ident, string

ALIAS = "hist"
WRITER_WAIT_ENV = "CHS_LOCK_WAIT"
WRITER_WAIT_SECONDS = 600.0
# Rows per row group of what a snapshot writes. DuckDB compresses and writes a row group as one
# task: with its default (122,880) a 100k-account snapshot was one row group, compressed by one
# thread at COMMIT (0.6-0.9 s of a 4 s night); in groups of 32,768 the INSERT writes them on
# every core and COMMIT has nothing left (insert + commit 1.0 -> 0.65 s). The file grows 3-5%
# more per snapshot (more row groups, each with its own metadata); explain's lookup reads less.
ROW_GROUP_ROWS = 32_768


def history_paths(database: Path) -> list[Path]:
    """The files DuckDB reads and writes for `database` (for the run's file allow-list)."""
    return [database] + [database.with_name(database.name + s) for s in (".wal", ".wal.checkpoint", ".wal.recovery")]


def spill_directory(database: Path) -> Path:
    return database.with_name(database.name + ".tmp")


def _writer_wait() -> float:
    """CHS_LOCK_WAIT as seconds; a value that is not a number is a config error (78)."""
    try:
        return max(0.0, float(os.environ.get(WRITER_WAIT_ENV, WRITER_WAIT_SECONDS)))
    except ValueError:
        raise ConfigError([f"{WRITER_WAIT_ENV}: expected seconds, got {os.environ[WRITER_WAIT_ENV]!r}"]) from None


class HistoryFile:
    """Switches the connection's `hist` between read-only and read-write (each a no-op when
    already so). A file that is not a chs history is refused (65) before it is written."""

    def __init__(self, con: duckdb.DuckDBPyConnection, database: Path):
        self.con, self.database, self.mode = con, database, ""
        self.writer_wait = _writer_wait()  # checked before any work, used when storing
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{database}: cannot open ({exc.strerror})") from None
        check_history_schema(database)
        # An earlier chs, killed mid-run, may have left its working copy (as big as the history).
        for stale in (".next", ".next.wal"):
            database.with_name(database.name + stale).unlink(missing_ok=True)
        con.execute(f"SET temp_directory = {string(str(spill_directory(database)))}")

    def read(self) -> None:
        """Attached read-only (a new or empty file is first made a database by `write`)."""
        if self.mode != "r" and self.database.exists() and self.database.stat().st_size > 0:
            self._attach(read_only=True)

    def write(self) -> None:
        if self.mode != "w":
            if self.database.exists() and self.database.stat().st_size == 0:
                self.database.unlink()  # an empty file holds nothing; ATTACH would refuse it
            self._attach(read_only=False)

    def close(self) -> None:
        """Detach (a read-write file is checkpointed by DuckDB on the way)."""
        if self.mode:
            self.con.execute("USE memory")
            self.con.execute("RESET search_path")
            self.con.execute(f"DETACH {ALIAS}")
            self.mode = ""

    def _attach(self, read_only: bool) -> None:
        self.close()
        options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
        sql = f"ATTACH {string(str(self.database))} AS {ALIAS} ({options})"
        try:
            if read_only:
                wait_for_lock(self.database, lambda: self.con.execute(sql))
            else:
                wait_for_lock(self.database, lambda: self.con.execute(sql), any_holder_seconds=self.writer_wait)
        except duckdb.Error as exc:
            holder = lock_holder(exc)
            if holder is not None and not read_only:
                who = f"process {holder}" if holder > 0 else "another process"
                raise LockedError(f"{self.database}: {who} holds the database file (a reader left open?) "
                                  f"beyond {WRITER_WAIT_ENV}={self.writer_wait:g}s; the snapshot was not "
                                  f"stored (dates a backfill committed before stay); retry later") from None
            raise open_error(self.database, exc) from None
        self.con.execute(f"USE {ident(ALIAS)}")
        # Unqualified names: temp tables, then the history, then the run's shared tables.
        self.con.execute(f"SET search_path = '{ALIAS}.main,memory.main'")
        self.mode = "r" if read_only else "w"
