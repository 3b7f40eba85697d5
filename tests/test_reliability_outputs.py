"""output_dir switches as one set (issue 15): a kill at any step of the swap leaves one
complete set (the previous or the new one), never files of two runs; killed runs' folders
are removed by the next run; plain files from before sets migrate without a mixed moment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.test_reliability_corpus import BASE

NAMES = ["scores.parquet", "scores.csv", "drivers.parquet", "actions.csv", "actions.jsonl", "run.json"]

# Runs `chs score` with the file operations of chs.outputs counted; the K-th one kills the
# process on the spot (os._exit: no cleanup, no finally), as a SIGKILL in the swap would.
KILLER = """
import os, shutil, sys
import chs.outputs as outputs
limit, calls = int(sys.argv[1]), [0]
class Counting:
    def __init__(self, module):
        self.module = module
    def __getattr__(self, name):
        real = getattr(self.module, name)
        if name not in ("replace", "rename", "symlink", "link", "unlink", "rmtree"):
            return real
        def op(*args, **kwargs):
            calls[0] += 1
            if calls[0] == limit:
                os._exit(9)
            return real(*args, **kwargs)
        return op
outputs.os, outputs.shutil = Counting(os), Counting(shutil)
sys.argv = ["chs"] + sys.argv[2:]
from chs.cli.main import run
run()
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(BASE, root)
    from tests.test_reliability_corpus import write_files
    write_files(root, {})
    return root


def _score(root: Path, as_of: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    if kill_at is None:
        cmd = [sys.executable, "-m", "chs", "-q", "score", "--as-of", as_of]
    else:
        cmd = [sys.executable, "-c", KILLER, str(kill_at), "-q", "score", "--as-of", as_of]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def consistent_set(out: Path) -> str:
    """The as_of of the one complete set visible at the documented paths; fails on a mix."""
    folders = {(out / n).resolve().parent for n in NAMES if (out / n).is_symlink()}
    assert len(folders) <= 1, f"files from different sets: {folders}"
    for name in NAMES:  # mid-migration a plain file must be the very file of the set (a hard link)
        if folders and not (out / name).is_symlink():
            assert os.path.samefile(out / name, next(iter(folders)) / name), name
    as_of = json.loads((out / "run.json").read_text())["as_of"]
    con = duckdb.connect()
    for name in ("scores.parquet", "scores.csv"):
        dates = {str(r[0]) for r in con.execute(f"SELECT DISTINCT as_of FROM '{out / name}'").fetchall()}
        assert dates == {as_of}, f"{name} is from {dates}, run.json from {as_of}"
    assert {r[0] for r in con.execute(f"SELECT DISTINCT account_id FROM '{out / 'drivers.parquet'}'").fetchall()} \
        == {r[0] for r in con.execute(f"SELECT account_id FROM '{out / 'scores.parquet'}'").fetchall()}
    return as_of


def _ops_in_swap(root: Path) -> int:
    """How many counted file operations one swap makes (so every one of them is a kill point)."""
    for k in range(1, 40):
        probe = root.parent / f"probe{k}"
        shutil.copytree(root, probe, symlinks=True)
        done = _score(probe, "2026-02-27", kill_at=k)
        shutil.rmtree(probe)
        if done.returncode == 0:
            return k - 1
    raise AssertionError("the swap never finished")


def test_layout_and_readable_paths(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _score(root, "2026-02-20").returncode == 0
    out = root / "out"
    assert consistent_set(out) == "2026-02-20"
    assert os.readlink(out / "scores.parquet") == ".current/scores.parquet"
    current = os.readlink(out / ".current")
    assert current.startswith(".set-")
    assert _score(root, "2026-02-27").returncode == 0
    assert consistent_set(out) == "2026-02-27"
    # The previous set is gone; only the current one and the links remain.
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES + [".current", os.readlink(out / ".current")])
    assert oct((out / os.readlink(out / ".current")).stat().st_mode & 0o777) != oct(0o700)


@pytest.mark.slow
def test_kill_at_every_step_of_the_swap_leaves_one_set(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _score(root, "2026-02-20").returncode == 0
    ops = _ops_in_swap(root)
    assert ops >= 4  # rename of the staging folder, new link, the switch, removing the old set
    seen = set()
    for k in range(1, ops + 1):
        work = tmp_path / f"k{k}"
        shutil.copytree(root, work, symlinks=True)
        done = _score(work, "2026-02-27", kill_at=k)
        assert done.returncode == 9, done.stderr
        seen.add(consistent_set(work / "out"))
        # The next run completes, and removes the killed run's staging and set folders.
        assert _score(work, "2026-02-27").returncode == 0
        assert consistent_set(work / "out") == "2026-02-27"
        left = [p.name for p in (work / "out").iterdir() if p.name.startswith((".staging-", ".set-"))]
        assert left == [os.readlink(work / "out" / ".current")]
    assert seen == {"2026-02-20", "2026-02-27"}  # kills before and after the switch were both hit


def test_plain_files_from_before_sets_migrate_without_a_mix(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _score(root, "2026-02-20").returncode == 0
    out = root / "out"
    # Outputs as an older chs left them: plain files, no .current.
    plain = {n: (out / n).read_bytes() for n in NAMES}
    shutil.rmtree(out)
    out.mkdir()
    for name, data in plain.items():
        (out / name).write_bytes(data)
    ops = _ops_in_swap(root)
    for k in range(1, ops + 1):
        work = tmp_path / f"m{k}"
        shutil.copytree(root, work, symlinks=True)
        assert _score(work, "2026-02-27", kill_at=k).returncode == 9
        assert consistent_set(work / "out") in ("2026-02-20", "2026-02-27")
    assert _score(root, "2026-02-27").returncode == 0
    assert consistent_set(out) == "2026-02-27"
    assert all((out / n).is_symlink() for n in NAMES)


def test_stale_staging_is_removed_by_the_next_run(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = root / "out"
    (out / ".staging-dead1").mkdir(parents=True)
    (out / ".staging-dead1" / "scores.csv").write_text("half\n")
    (out / ".set-orphan").mkdir()
    (out / "report.html").write_text("<html></html>")  # not ours: kept
    assert _score(root, "2026-02-20").returncode == 0
    names = {p.name for p in out.iterdir()}
    assert ".staging-dead1" not in names and ".set-orphan" not in names
    assert "report.html" in names
    consistent_set(out)
