"""examples/: the shipped copies are identical, `chs init --example [NAME]` reads them, and the
telecom example runs end to end through the installed `chs` (init, validate, score, explain,
report, backtest)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from chs.init_project import InitError, bundled_config, example_names, generator_options, init_project

ROOT = Path(__file__).resolve().parents[1]
CHS = str(ROOT / ".venv" / "bin" / "chs")
EXAMPLES = ROOT / "examples"
SHIPPED = ROOT / "chs" / "resources" / "examples"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHS_CONFIG"}
    return subprocess.run([CHS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shipped_examples_are_the_top_level_ones_byte_for_byte() -> None:
    # examples/ is the source of truth; after editing it: cp -r examples/. chs/resources/examples/
    assert _files(EXAMPLES) == _files(SHIPPED)
    assert example_names() == ["saas", "telecom"]
    for name in example_names():
        assert {"chs.yaml", "README.md", "generate.yaml"} <= set(_files(EXAMPLES / name))


def test_packaged_as_package_data() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"resources/examples/*/*"' in text


def test_repo_configs_link_to_the_examples() -> None:
    assert os.readlink(ROOT / "configs" / "example.yaml") == "../examples/telecom/chs.yaml"
    assert os.readlink(ROOT / "configs" / "saas.yaml") == "../examples/saas/chs.yaml"
    assert bundled_config("example") == bundled_config("telecom") == (EXAMPLES / "telecom" / "chs.yaml").read_text()


def test_generator_options_differ_per_example() -> None:
    assert generator_options("telecom") == {"accounts": 500, "seed": 7, "months": 18, "events_per_account_month": 120}
    assert generator_options("saas") == {"accounts": 1500, "seed": 11, "months": 12, "events_per_account_month": 200}


def test_unknown_example_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InitError, match=r"unknown example 'nope' \(examples: saas, telecom\)"):
        init_project(tmp_path / "x", example="nope")
    assert not (tmp_path / "x").exists()
    done = run(tmp_path, "init", "y", "--example=nope")
    assert done.returncode == 2 and "unknown example 'nope'" in done.stderr


@pytest.mark.parametrize("args, folder, name", [
    (["init", "a", "--example"], "a", "telecom"),              # bare flag after DIR: the default
    (["init", "--example", "b"], "b", "telecom"),              # the older spelling: b is the folder
    (["init", "c", "--example", "saas"], "c", "saas"),
    (["init", "--example", "saas", "d"], "d", "saas"),
    (["init", "e", "--example=saas", "-q"], "e", "saas"),
])
def test_init_example_spellings(tmp_path: Path, args: list[str], folder: str, name: str) -> None:
    done = run(tmp_path, *args, "--accounts", "12")
    assert done.returncode == 0, done.stderr
    target = tmp_path / folder
    assert (target / "chs.yaml").read_text() == (EXAMPLES / name / "chs.yaml").read_text()
    assert (target / "README.md").read_text() == (EXAMPLES / name / "README.md").read_text()
    assert (target / "data" / "accounts.csv").read_text().count("\n") == 13  # header + 12 accounts


def test_init_keeps_an_existing_readme(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    result = init_project(tmp_path, example="saas", accounts=5)
    assert result["example"] == "saas" and result["docs"] == [] and result["accounts"] == 5
    assert (tmp_path / "README.md").read_text() == "mine\n"


def test_saas_example_scores(tmp_path: Path) -> None:
    init_project(tmp_path, example="saas", accounts=60)
    done = run(tmp_path, "score", "--as-of", "2026-11-20", "--json")
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)["snapshots"][0]
    assert snap["accounts"] > 30 and set(snap["bands"]) <= {"green", "yellow", "red", "unknown"}


def test_telecom_example_end_to_end(tmp_path: Path) -> None:
    """The tutorial's steps on a smaller copy of the example (80 accounts)."""
    done = run(tmp_path, "init", "demo", "--example", "--accounts", "80")
    assert done.returncode == 0, done.stderr
    demo = tmp_path / "demo"
    assert yaml.safe_load((demo / "chs.yaml").read_text())["name"] == "nordwind-telecom"
    assert run(demo, "validate").returncode == 0
    done = run(demo, "score", "--from", "2026-10-30", "--to", "2026-11-20", "--every", "7d", "--json")
    assert done.returncode == 0, done.stderr
    assert [s["as_of"] for s in json.loads(done.stdout)["snapshots"]] == [
        "2026-10-30", "2026-11-06", "2026-11-13", "2026-11-20"]
    scores = json.loads(run(demo, "scores", "--format", "json").stdout)
    worst = scores[0]["account_id"]
    explained = json.loads(run(demo, "explain", worst, "--json").stdout)
    leaves = [n for n in explained["nodes"] if n["kind"] == "leaf" and n["contribution"] is not None]
    assert abs(50 + sum(n["contribution"] for n in leaves) - explained["score"]) < 1e-9
    done = run(demo, "report")
    assert done.returncode == 0, done.stderr
    assert (demo / "out" / "report.html").stat().st_size > 10_000
    # As `make demo` does, over months whose 30- and 90-day outcomes are known.
    done = run(demo, "backtest", "--rescore", "--from", "2026-04-03", "--to", "2026-06-26", "--every", "4w",
               "--horizon", "30d", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["snapshots"] == ["2026-04-03", "2026-05-01", "2026-05-29", "2026-06-26"]
    assert set(result["horizons"]) == {"30d"} and result["horizons"]["30d"]["n"] > 150
