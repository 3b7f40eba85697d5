"""The CLI contract: exit codes, stdout vs stderr (DESIGN 4)."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.engine.conftest import run_chs


def test_ok_results_on_stdout(project: Path) -> None:
    res = run_chs("--config", str(project), "score", "--as-of", "2026-11-20")
    assert res.returncode == 0
    assert "3 accounts scored" in res.stdout
    assert "error" not in res.stderr
    run = json.loads((project.parent / "out" / "run.json").read_text())
    assert run["as_of"] == "2026-11-20" and run["accounts"] == 3 and run["status"] == "ok"


def test_version_and_env_config(project: Path) -> None:
    assert run_chs("--version").stdout.startswith("chs ")
    res = run_chs("validate", env={"CHS_CONFIG": str(project)})
    assert res.returncode == 0 and "ok" in res.stdout


def test_usage_error_is_2(project: Path) -> None:
    res = run_chs("--config", str(project), "score", "--as-of", "20-11-2026")
    assert res.returncode == 2
    assert res.stdout == ""
    assert "not a date" in res.stderr


def test_config_error_is_78(project: Path) -> None:
    text = project.read_text().replace("name: tiny", "name: tiny\ncolour: red")
    project.write_text(text)
    res = run_chs("--config", str(project), "score")
    assert res.returncode == 78
    assert "chs.yaml:3: colour: unknown key" in res.stderr
    assert res.stdout == ""


def test_missing_file_is_66(project: Path) -> None:
    (project.parent / "data" / "usage.csv").unlink()
    res = run_chs("--config", str(project), "score")
    assert res.returncode == 66
    assert "data/usage.csv: no such file" in res.stderr
    assert run_chs("--config", str(project.parent / "nope.yaml"), "validate").returncode == 66


def test_missing_column_is_65(project: Path) -> None:
    cfg = yaml.safe_load(project.read_text())
    cfg["sources"]["usage"]["account"] = "org_id"
    project.write_text(yaml.safe_dump(cfg))
    res = run_chs("--config", str(project), "validate")
    assert res.returncode == 65
    assert "data/usage.csv: column 'org_id' not found" in res.stderr
    assert "columns: account_id, ts" in res.stderr


def test_unbindable_fragment_is_78_with_line(project: Path) -> None:
    cfg = yaml.safe_load(project.read_text())
    cfg["variables"]["logins"] = {"source": "usage", "agg": "count", "where": "event_type = 'login'"}
    project.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = run_chs("--config", str(project), "validate")
    assert res.returncode == 78
    line = next(i for i, t in enumerate(project.read_text().splitlines(), 1) if "where:" in t)
    assert f"chs.yaml:{line}: variables.logins.where:" in res.stderr
    assert "event_type" in res.stderr


def test_unwritable_output_is_73(project: Path) -> None:
    cfg = yaml.safe_load(project.read_text())
    (project.parent / "blocker").write_text("a file, not a folder")
    cfg["storage"] = {"database": "chs.duckdb", "output_dir": "blocker/out"}
    project.write_text(yaml.safe_dump(cfg))
    res = run_chs("--config", str(project), "score")
    assert res.returncode == 73, res.stderr
    assert "blocker/out" in res.stderr


def test_locked_is_75(project: Path) -> None:
    lock = project.parent / "chs.duckdb.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        res = run_chs("--config", str(project), "score")
    assert res.returncode == 75
    assert "another chs run holds the lock" in res.stderr


def test_compile_prints_one_query_per_source(project: Path) -> None:
    res = run_chs("--config", str(project), "compile")
    assert res.returncode == 0
    assert res.stdout.count('CREATE OR REPLACE TEMP TABLE "agg_usage"') == 1
    # as_of is a literal and windows compare the raw timestamp (filters reach the scan).
    assert "s.__ts >= TIMESTAMP '" in res.stdout and "__params" not in res.stdout
    res = run_chs("--config", str(project), "compile", "--as-of", "2026-11-20")
    assert res.returncode == 0, res.stderr
    assert "s.__ts >= TIMESTAMP '2026-10-22 00:00:00'" in res.stdout  # 30d: after 10-21, i.e. from 10-22


def test_backfill_creates_a_snapshot_per_date(project: Path) -> None:
    res = run_chs("--config", str(project), "score", "--from", "2026-11-06", "--to", "2026-11-20", "--every", "1w")
    assert res.returncode == 0, res.stderr
    assert [line.split(":")[0] for line in res.stdout.splitlines()[:3]] == ["2026-11-06", "2026-11-13", "2026-11-20"]


def test_every_command_has_help_and_is_documented() -> None:
    from chs.cli.main import app
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    names = [c.name for c in app.registered_commands]
    assert set(names) >= {"init", "validate", "compile", "score", "explain", "report", "actions"}
    for name in names:
        res = run_chs(name, "--help")
        assert res.returncode == 0 and "Usage" in res.stdout, name
        assert f"chs {name}" in readme, f"README does not document `chs {name}`"


def test_text_column_summed_is_65_naming_file_and_type(project: Path) -> None:
    cfg = yaml.safe_load(project.read_text())
    cfg["variables"]["named"] = {"source": "accounts", "column": "name"}
    cfg["sources"]["usage"]["path"] = "data/usage.csv"
    cfg["variables"]["amount"] = {"source": "usage", "agg": "sum", "column": "account_id"}
    project.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = run_chs("--config", str(project), "validate")
    assert res.returncode == 65
    assert "data/usage.csv: column 'account_id' is VARCHAR, but variable 'amount' (agg: sum) needs numbers" in res.stderr


def test_a_command_loads_only_its_own_module() -> None:
    """`chs explain` neither imports nor builds the other commands (start-up time)."""
    code = ("import sys\nfrom chs.cli.main import run\nsys.argv = ['chs', '-q', 'explain', '--help']\n"
            "try:\n    run()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('chs.cli.') and m.endswith('_cmd')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "Usage: chs explain" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "['chs.cli.explain_cmd']"


def test_command_name_skips_global_options() -> None:
    from chs.cli.argv import command_name
    assert command_name(["-c", "x.yaml", "-q", "explain", "A1"]) == "explain"
    assert command_name(["--config", "score", "report"]) == "report"  # 'score' is the config's value
    assert command_name(["--help"]) is None and command_name([]) is None


def test_help_tweak_tolerates_a_typer_without_the_hook(monkeypatch) -> None:
    """pyproject allows typer >= 0.12; before 0.29 TyperOption has no display_type_rich, and
    the help tweak must then leave typer alone rather than fail every command."""
    import typer.core

    from chs.cli import main

    class OlderOption:  # what typer < 0.29 offers: no display_type_rich
        pass

    monkeypatch.setattr(typer.core, "TyperOption", OlderOption)
    main._hide_flag_types()
    assert not hasattr(OlderOption, "display_type_rich")
