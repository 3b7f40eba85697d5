"""Readers never wait for the nightly run: `chs score` writes a copy of the database and swaps it in.

DuckDB lets one process write a file and no other process read it meanwhile. So the run
copies `chs.duckdb` to `chs.duckdb.next`, writes there, checkpoints, closes, and renames
the copy over the original (atomic on one filesystem). `explain`, `report`, `actions` and
`backtest` keep opening `chs.duckdb` read-only and see the last committed history, never a
half-written one; a crashed run leaves the original untouched (its `.next` is discarded by
the next run). The price is one sequential file copy per run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chs.db import check_history_schema, open_file
from chs.errors import OutputError


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fold_wal(database: Path) -> None:
    """A previous writer that died may have left a WAL: fold it into the file before copying,
    or the copy would miss committed snapshots."""
    if not _wal(database).exists():
        return
    con = open_file(database)
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


@contextmanager
def working_copy(database: Path) -> Iterator[Path]:
    """Yield the path to write; when the block ends without error (and the caller has closed
    its connection), that file replaces `database` atomically. Caller holds the run lock.
    A file that is not a chs history (foreign, damaged, other tables) is refused (65) before
    anything touches it."""
    target = database.with_name(database.name + ".next")
    for stale in (target, _wal(target)):
        stale.unlink(missing_ok=True)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        if database.exists():
            check_history_schema(database)
            _fold_wal(database)
            shutil.copyfile(database, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot prepare the working copy ({exc.strerror})") from None
    try:
        yield target
    except BaseException:
        for leftover in (target, _wal(target)):
            leftover.unlink(missing_ok=True)
        raise
    try:
        if _wal(target).exists():  # the caller checkpoints; this is only a safety net
            _fold_wal(target)
        os.replace(target, database)
    except OSError as exc:
        raise OutputError(f"{database}: cannot replace with the new history ({exc.strerror})") from None
