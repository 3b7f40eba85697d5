"""scores.parquet, scores.csv and drivers.parquet written by a second connection while the first
stores the history, or the CSV beside the Parquet files (chs/exports.py): the same files as
written in turn, and a file that cannot be written still leaves history and outputs as they
were."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from chs.config import load_config
from chs.errors import OutputError
from chs.exports import Exports
from chs.outputs import Staging
from chs.pipeline import score
from tests.test_reliability_corpus import BASE, write_files

DATES = [dt.date(2026, 11, d) for d in (18, 19, 20)]
EARLIER = dt.date(2026, 11, 11)


def _project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(BASE, root)
    write_files(root, {})
    return root


MODES = ("in turn", "beside", "split")


def _run(root: Path, mode: str, monkeypatch: pytest.MonkeyPatch, dates: list) -> None:
    monkeypatch.setattr(Exports, "mode", lambda self: mode)
    score(load_config(root / "chs.yaml"), dates)


def _rows(path: Path, order: str) -> list[tuple]:
    return duckdb.connect().execute(f"SELECT * EXCLUDE (run_id) FROM read_parquet('{path}') ORDER BY {order}").fetchall()


def _without_run_id(csv: Path) -> list[str]:
    """The CSV's lines without run_id and config_hash (the last two columns)."""
    return [line.rsplit(",", 2)[0] for line in csv.read_text().splitlines()]


@pytest.mark.parametrize("dates", [DATES[-1:], DATES], ids=["one date", "backfill"])
def test_same_files_as_written_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dates: list) -> None:
    outs = {}
    for mode in MODES:
        root = _project(tmp_path, mode.replace(" ", "_"))
        _run(root, mode, monkeypatch, dates)
        outs[mode] = root / "out"
    turn = outs["in turn"]
    for mode in MODES[1:]:
        out = outs[mode]
        assert _rows(out / "scores.parquet", "account_id") == _rows(turn / "scores.parquet", "account_id")
        assert _rows(out / "drivers.parquet", "account_id, node") == _rows(turn / "drivers.parquet", "account_id, node")
        assert _without_run_id(out / "scores.csv") == _without_run_id(turn / "scores.csv")
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
            sorted(p.name for p in turn.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("failing_file", ["drivers.parquet", "scores.csv"])
@pytest.mark.parametrize("mode", MODES[1:])
@pytest.mark.parametrize("dates", [DATES[-1:], DATES], ids=["one date", "backfill"])
def test_a_failed_file_stores_nothing_of_its_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   dates: list, mode: str, failing_file: str) -> None:
    root = _project(tmp_path, "p")
    _run(root, mode, monkeypatch, [EARLIER])
    before = (root / "out" / "scores.csv").read_bytes()
    real_copy = Staging.copy

    def failing(self: Staging, con, query: str, name: str, **kw) -> None:  # noqa: ANN001
        if name == failing_file:
            raise OutputError(f"{self.path / name}: cannot write (disk full)")
        real_copy(self, con, query, name, **kw)

    monkeypatch.setattr(Staging, "copy", failing)
    with pytest.raises(OutputError, match="disk full"):
        _run(root, mode, monkeypatch, dates)
    stored = [d for (d,) in duckdb.connect(str(root / "chs.duckdb"), read_only=True).execute(
        "SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall()]
    # A single date stores nothing; a backfill keeps the dates before its failed last one.
    assert stored == [EARLIER] + dates[:-1]
    assert (root / "out" / "scores.csv").read_bytes() == before
    assert not list((root / "out").glob(".staging-*"))
