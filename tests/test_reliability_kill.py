"""kill -9 at random moments of a backfill of the example (issue 15): after every kill the
stored history is consistent (each stored snapshot complete and equal to an uninterrupted
run's), the visible outputs are one complete set, and a rerun is byte-identical."""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.test_reliability_outputs import consistent_set

KILLS = 25
BACKFILL = ["score", "--from", "2026-11-13", "--to", "2026-11-20", "--every", "7d", "-q"]
# run_id and config_hash name the run, not its result; everything else must be identical.
VOLATILE = ("run_id", "config_hash")


def _chs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chs", *args], cwd=root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_COLOR": "1"})


def _history(db: Path) -> dict[str, list[tuple]]:
    """Per stored as_of: its score rows and node rows, in a fixed order, without run ids."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        def columns(table: str) -> str:
            names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in VOLATILE]
            return ", ".join('"' + n.replace('"', '""') + '"' for n in names)

        out: dict[str, list[tuple]] = {}
        for (as_of,) in con.execute("SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall():
            scores = con.execute(f"SELECT {columns('scores')} FROM scores WHERE as_of = ? ORDER BY account_id",
                                 [as_of]).fetchall()
            nodes = con.execute(f"SELECT {columns('node_scores')} FROM node_scores WHERE as_of = ? "
                                "ORDER BY account_id, node_order", [as_of]).fetchall()
            out[str(as_of)] = scores + nodes
        return out
    finally:
        con.close()


def _csv_without_run_ids(path: Path) -> list[list[str]]:
    """The exported CSV as text cells, byte for byte, minus the columns that name the run."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    keep = [i for i, name in enumerate(rows[0]) if name not in VOLATILE]
    return [[row[i] for i in keep] for row in rows]


@pytest.mark.slow
def test_random_kills_during_a_backfill(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert _chs(tmp_path, "init", "--example", str(reference)).returncode == 0
    started = time.perf_counter()
    done = _chs(reference, *BACKFILL)
    duration = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    expected = _history(reference / "chs.duckdb")
    assert sorted(expected) == ["2026-11-13", "2026-11-20"]

    work = tmp_path / "work"
    assert _chs(tmp_path, "init", "--example", str(work)).returncode == 0
    rng = random.Random(1515)
    finished = killed = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "chs", *BACKFILL], cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
        time.sleep(rng.uniform(0.05, duration * 1.05))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        else:
            finished += 1
        proc.wait()
        db = work / "chs.duckdb"
        if db.exists():
            stored = _history(db)
            for as_of, rows in stored.items():  # every stored snapshot is complete and right
                assert rows == expected[as_of], f"snapshot {as_of} differs after a kill"
        if (work / "out" / "run.json").exists():
            assert consistent_set(work / "out") in expected
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were killed"

    # A clean rerun after all that is byte-identical to the uninterrupted run.
    rerun = _chs(work, *BACKFILL)
    assert rerun.returncode == 0, rerun.stderr
    assert _history(work / "chs.duckdb") == expected
    assert _csv_without_run_ids(work / "out" / "scores.csv") == _csv_without_run_ids(reference / "out" / "scores.csv")
    assert not [p for p in work.iterdir() if p.name.endswith((".next", ".next.wal"))]
