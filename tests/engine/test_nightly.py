"""The nightly job: readers during a run, stale exports, --strict, -q never hides data
problems, global options after the command, --json summaries, help without <bool>."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.engine.conftest import run_chs


def snapshot_dates(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [str(r[0]) for r in con.execute("SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall()]
    finally:
        con.close()


def test_stale_export_warns_even_with_quiet_and_is_recorded(project: Path) -> None:
    # usage's newest row visible on 2026-12-03 is 2026-11-21 08:00: 12 days old > max_age 7d.
    proc = run_chs("-q", "--config", str(project), "score", "--as-of", "2026-12-03")
    assert proc.returncode == 0, proc.stderr
    assert "source usage: newest row 2026-11-21 08:00:00 is 12 days before 2026-12-03 (max_age 7d)" in proc.stderr
    manifest = json.loads((project.parent / "out" / "run.json").read_text())
    usage = manifest["sources"]["usage"]
    assert (usage["age_days"], usage["max_age_days"], usage["stale"]) == (12, 7, True)
    assert manifest["warnings"] and "usage" in manifest["warnings"][0]
    # Fresh enough on the export's last day: no warning.
    proc = run_chs("--config", str(project), "score", "--as-of", "2026-11-21")
    assert "stale" not in proc.stderr


def test_max_age_per_source(project: Path) -> None:
    text = project.read_text().replace("time: ts", "time: ts\n    max_age: 30d")
    project.write_text(text)
    proc = run_chs("--config", str(project), "score", "--as-of", "2026-12-03")
    assert proc.returncode == 0 and "stale" not in proc.stderr


def test_strict_stale_is_65_and_nothing_stored(project: Path) -> None:
    assert run_chs("--config", str(project), "score", "--as-of", "2026-11-21").returncode == 0
    db = project.parent / "chs.duckdb"
    before = snapshot_dates(db)
    # A backfill whose last date is stale: the whole run is discarded, earlier dates too.
    proc = run_chs("--config", str(project), "score", "--from", "2026-11-25", "--to", "2026-12-03",
                   "--every", "4d", "--strict")
    assert proc.returncode == 65, proc.stderr
    assert "--strict" in proc.stderr and "usage" in proc.stderr
    assert proc.stdout == ""
    assert snapshot_dates(db) == before == ["2026-11-21"]


def test_quiet_still_shows_rejected_rows(project: Path) -> None:
    usage = project.parent / "data" / "usage.csv"
    usage.write_text(usage.read_text() + 'A3,"unterminated\n')
    proc = run_chs("-q", "--config", str(project), "score", "--as-of", "2026-11-21")
    assert proc.returncode == 0
    assert "rows could not be read" in proc.stderr
    strict = run_chs("--config", str(project), "score", "--as-of", "2026-11-21", "--strict")
    assert strict.returncode == 65 and "could not be read" in strict.stderr


def test_global_options_after_the_command(project: Path) -> None:
    proc = run_chs("validate", "--config", str(project), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    assert run_chs("score", "--as-of", "2026-11-21", "-c", str(project)).returncode == 0
    proc = run_chs("explain", "A1", "--json", f"--config={project}")
    assert proc.returncode == 0 and json.loads(proc.stdout)["account_id"] == "A1"


def test_option_values_that_look_like_global_flags_stay(project: Path) -> None:
    import typer

    from chs.cli.argv import hoist_global_options
    from chs.cli.main import app
    group = typer.main.get_command(app)
    assert hoist_global_options(["actions", "done", "3", "--note", "-q"], group) == \
        ["actions", "done", "3", "--note", "-q"]
    assert hoist_global_options(["explain", "A1", "-v", "--as-of", "2026-01-01", "-c", "x.yaml"], group) == \
        ["-v", "-c", "x.yaml", "explain", "A1", "--as-of", "2026-01-01"]
    assert hoist_global_options(["explain", "--", "-q"], group) == ["explain", "--", "-q"]


def test_json_summaries(project: Path) -> None:
    proc = run_chs("--config", str(project), "validate", "--json")
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["sources"]["usage"]["rows"] == 5 and doc["leaves"] == 2
    proc = run_chs("--config", str(project), "score", "--as-of", "2026-11-21", "--json")
    doc = json.loads(proc.stdout)
    assert doc["snapshots"][0]["as_of"] == "2026-11-21" and doc["snapshots"][0]["accounts"] == 3
    assert doc["outputs"]


def test_help_has_no_bool_type() -> None:
    for args in (["--help"], ["score", "--help"], ["explain", "--help"], ["backtest", "--help"]):
        proc = run_chs(*args)
        assert proc.returncode == 0
        assert "<bool>" not in proc.stdout


def test_completion_is_offered() -> None:
    assert "--install-completion" in run_chs("--help").stdout


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "ex"
    proc = run_chs("init", "--example", str(root), "--accounts", "80")
    assert proc.returncode == 0, proc.stderr
    assert run_chs("score", "--as-of", "2026-11-20", cwd=root).returncode == 0
    return root


def test_readers_work_during_a_run(example: Path) -> None:
    """explain in a loop while a backfill runs: never 'locked', never half-written."""
    scorer = subprocess.Popen([sys.executable, "-m", "chs", "-q", "score", "--from", "2026-05-01",
                               "--to", "2026-11-20", "--every", "7d"], cwd=example,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers = 0
    try:
        while scorer.poll() is None:
            proc = run_chs("explain", "ACME-00001", "--json", cwd=example)
            if scorer.poll() is not None and answers >= 3:
                break
            assert proc.returncode == 0, proc.stderr
            doc = json.loads(proc.stdout)
            # a committed snapshot: drivers add up exactly
            leaves = [n for n in doc["nodes"] if n["kind"] == "leaf"]
            if doc["score"] is not None:
                assert sum(n["contribution"] for n in leaves) == pytest.approx(doc["score"] - 50, abs=1e-6)
            answers += 1
            time.sleep(0.05)
    finally:
        out, err = scorer.communicate(timeout=300)
    assert scorer.returncode == 0, err
    assert answers >= 3, "the run finished before explain could be tried during it"
    assert len(snapshot_dates(example / "chs.duckdb")) == 30
    assert not (example / "chs.duckdb.next").exists()


def test_report_json_summary(project: Path) -> None:
    assert run_chs("--config", str(project), "score", "--as-of", "2026-11-21").returncode == 0
    proc = run_chs("--config", str(project), "report", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["accounts"] == 3 and doc["as_of"] == "2026-11-21"
    assert Path(doc["path"]).is_file() and sum(doc["bands"].values()) == 3
