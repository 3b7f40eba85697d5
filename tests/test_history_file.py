"""`chs score` writes the history in place, holding DuckDB's file lock only per snapshot
(chs/history_file.py): readers wait out that window, the run waits for readers, and a night
costs the same whatever the history's size (no copy of the file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from chs.db import connect, wait_for_lock
from chs.errors import LockedError

HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("ready", flush=True)
time.sleep(float(sys.argv[3]))
if len(sys.argv) > 4:  # when the file was let go
    con.close()
    open(sys.argv[4], "w").write(repr(time.time()))
"""


def _chs(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chs", *args], cwd=root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_COLOR": "1", **(env or {})})


def _hold(db: Path, mode: str, seconds: float, released: Path | None = None) -> subprocess.Popen:
    """Another process holding the database file (rw: as a run writing a snapshot)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), mode, str(seconds)]
                            + ([str(released)] if released else []), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf") / "ex"
    assert _chs(root.parent, "init", "--example", str(root), "--accounts", "60").returncode == 0
    assert _chs(root, "score", "--as-of", "2026-11-13").returncode == 0
    return root


def test_a_night_writes_the_file_in_place(scored: Path) -> None:
    """No copy and rename: the same file (inode) grows by one snapshot, no `.next` is made
    (and one an earlier chs left is removed)."""
    db = scored / "chs.duckdb"
    inode = db.stat().st_ino
    (scored / "chs.duckdb.next").write_bytes(b"left by an earlier chs killed mid-run")
    proc = _chs(scored, "score", "--as-of", "2026-11-20")
    assert proc.returncode == 0, proc.stderr
    assert db.stat().st_ino == inode
    assert not [p for p in scored.iterdir() if ".next" in p.name]
    con = duckdb.connect(str(db), read_only=True)
    try:
        dates = [str(r[0]) for r in con.execute("SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall()]
    finally:
        con.close()
    assert dates == ["2026-11-13", "2026-11-20"]


def test_reader_waits_out_the_runs_write(scored: Path) -> None:
    """The lock held by the process named in chs.duckdb.lock (the run) is waited for."""
    db, lock = scored / "chs.duckdb", scored / "chs.duckdb.lock"
    saved = lock.read_text()
    holder = _hold(db, "rw", 1.5)
    try:
        lock.write_text(f"{holder.pid}\n")
        started = time.monotonic()
        proc = _chs(scored, "explain", "ACME-00001", "--json")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
        lock.write_text(saved)
    assert proc.returncode == 0, proc.stderr
    assert waited >= 1.2  # it met the lock and waited (the holder let go 1.5 s after "ready")


def test_other_holders_are_exit_75_at_once(scored: Path) -> None:
    """A process that is not the run (e.g. a DuckDB shell left open) is not waited for."""
    db = scored / "chs.duckdb"
    holder = _hold(db, "rw", 60)
    try:
        with pytest.raises(LockedError, match="retry later"):
            connect(db, read_only=True)
    finally:
        holder.kill()
        holder.wait()


def test_run_waits_for_a_reader(scored: Path, tmp_path: Path) -> None:
    """A reader holding the file when the run comes to store: the run waits, then stores
    (its `runs.finished_at`, set inside the snapshot's transaction, is after the release)."""
    import datetime as dt

    released = tmp_path / "released"
    holder = _hold(scored / "chs.duckdb", "ro", 8.0, released)
    try:
        proc = _chs(scored, "score", "--as-of", "2026-11-27")
    finally:
        holder.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr
    let_go = dt.datetime.fromtimestamp(float(released.read_text()), dt.UTC).replace(tzinfo=None)
    con = duckdb.connect(str(scored / "chs.duckdb"), read_only=True)
    try:
        finished = con.execute("SELECT finished_at FROM runs WHERE as_of = DATE '2026-11-27'").fetchall()[0][0]
    finally:
        con.close()
    assert finished >= let_go


def test_run_gives_up_on_a_reader_after_chs_lock_wait(tmp_path: Path) -> None:
    root = tmp_path / "ex"
    assert _chs(tmp_path, "init", "--example", str(root), "--accounts", "40").returncode == 0
    assert _chs(root, "score", "--as-of", "2026-11-13").returncode == 0
    db = root / "chs.duckdb"
    before = db.read_bytes()
    holder = _hold(db, "ro", 120)
    try:
        proc = _chs(root, "score", "--as-of", "2026-11-20", env={"CHS_LOCK_WAIT": "1"})
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 75, proc.stderr
    assert f"process {holder.pid} holds the database file" in proc.stderr
    assert "beyond CHS_LOCK_WAIT=1s; the snapshot was not stored" in proc.stderr and proc.stdout == ""
    assert db.read_bytes() == before


def test_wait_for_lock_gives_up(tmp_path: Path) -> None:
    """With any_holder_seconds the holder's identity does not matter; after the limit, the error."""
    db = tmp_path / "h.duckdb"
    duckdb.connect(str(db)).close()
    holder = _hold(db, "rw", 60)
    try:
        started = time.monotonic()
        with pytest.raises(duckdb.IOException, match="lock"):
            wait_for_lock(db, lambda: duckdb.connect(str(db)), any_holder_seconds=0.3)
        assert time.monotonic() - started >= 0.3
    finally:
        holder.kill()
        holder.wait()


def test_an_empty_database_file_becomes_the_history(tmp_path: Path) -> None:
    root = tmp_path / "ex"
    assert _chs(tmp_path, "init", "--example", str(root), "--accounts", "30").returncode == 0
    (root / "chs.duckdb").write_bytes(b"")
    proc = _chs(root, "score", "--as-of", "2026-11-20")
    assert proc.returncode == 0, proc.stderr
    assert _chs(root, "scores", "--format", "json").returncode == 0


def test_chs_lock_wait_must_be_seconds(scored: Path) -> None:
    proc = _chs(scored, "score", "--as-of", "2026-11-20", env={"CHS_LOCK_WAIT": "soon"})
    assert proc.returncode == 78 and "CHS_LOCK_WAIT: expected seconds, got 'soon'" in proc.stderr


def test_a_snapshot_is_written_in_row_groups_every_core_compresses(tmp_path: Path) -> None:
    """70k accounts: the snapshot's rows go to the file in row groups of ROW_GROUP_ROWS (with
    DuckDB's default, 122,880, they were one row group compressed by one thread at COMMIT)."""
    import copy

    from chs.history_file import ROW_GROUP_ROWS
    from tests.engine.conftest import BASE_CONFIG, BASE_FILES, write_project
    n = 70_000
    accounts = "account_id,name,owner,tier,since,seats\n" + "".join(
        f"A{i:06d},Acc {i},o{i % 7}@x.io,{'ent' if i % 3 else 'smb'},2024-01-01,{i % 40}\n" for i in range(n))
    cfg = write_project(tmp_path, copy.deepcopy(BASE_CONFIG), {**BASE_FILES, "data/accounts.csv": accounts})
    done = _chs(tmp_path, "--config", str(cfg), "score", "--as-of", "2026-11-20")
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True)
    for table in ("scores", "node_values"):
        groups = con.execute(f"SELECT row_group_id, sum(count) FROM pragma_storage_info('{table}') "
                             "WHERE column_name = 'account_id' AND segment_type = 'VARCHAR' GROUP BY 1").fetchall()
        assert len(groups) == -(-n // ROW_GROUP_ROWS), table
        assert max(rows for _, rows in groups) == ROW_GROUP_ROWS
    assert con.execute("SELECT count(*), count(score) FROM scores").fetchall() == [(n, n)]
