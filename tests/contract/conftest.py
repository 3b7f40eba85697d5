"""Helpers for the black-box contract tests of `chs score` (see /work/shared/DESIGN.md).

Every test writes a tiny project (CSV exports + chs.yaml) into a temporary folder, runs
`python -m chs --config <cfg> score --as-of D` in a subprocess and reads the outputs
(`scores.parquet`, `drivers.parquet`, `run.json`) from `storage.output_dir`.
Nothing here imports the engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"

# raw value x in [0, 100] -> sub-score x (clamped outside): makes score == raw value
IDENTITY = {"thresholds": [[0, 0], [100, 100]]}

AS_OF = "2024-06-30"  # default scoring date D used by most tests

TOL = 1e-9


def approx(x: float):
    return pytest.approx(x, abs=TOL)


# ---------------------------------------------------------------- writing projects
def write_yaml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write text files (CSV exports); text is dedented and a leading newline dropped."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def base_config(
    *,
    variables: dict,
    tree: dict,
    sources: dict | None = None,
    accounts: dict | None = None,
    score: dict | None = None,
    **extra: Any,
) -> dict:
    """A minimal valid config. `sources` is merged over {accounts: data/accounts.csv}."""
    srcs = {"accounts": {"path": "data/accounts.csv"}}
    srcs.update(sources or {})
    acc = {"source": "accounts", "id": "account_id", "name": "account_name", "owner": "owner"}
    acc.update(accounts or {})
    sc = {"bands": {"green": 70, "yellow": 40, "red": 0}}
    sc.update(score or {})
    sc["tree"] = tree
    cfg = {
        "version": 1,
        "name": "contract-test",
        "storage": {"database": "chs.duckdb", "output_dir": "out"},
        "accounts": acc,
        "sources": srcs,
        "variables": variables,
        "score": sc,
    }
    cfg.update(extra)
    return cfg


def leaf(variable: str, weight: float = 1, scale: dict | None = None, **kw: Any) -> dict:
    d = {"weight": weight, "variable": variable, "scale": scale or IDENTITY}
    d.update(kw)
    return d


def group(weight: float, children: dict, **kw: Any) -> dict:
    d = {"weight": weight, "children": children}
    d.update(kw)
    return d


def leaves_tree(*variables: str, scale: dict | None = None) -> dict:
    """One group `g` holding one equally weighted leaf per variable (leaf name == variable)."""
    return {"g": group(1, {v: leaf(v, 1, scale) for v in variables})}


def make_project(root: Path, config: dict, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    return write_yaml(root / "chs.yaml", config)


# ---------------------------------------------------------------- running chs
def run_chs(
    cfg: Path, *args: str, cwd: Path | None = None, env_extra: dict | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    env["NO_COLOR"] = "1"
    env.pop("CHS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "chs", "--config", str(cfg), *args],
        check=False,
        cwd=str(cwd or cfg.parent),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@dataclass
class ScoreRun:
    proc: subprocess.CompletedProcess
    cfg: Path
    out: Path
    scores: pl.DataFrame
    drivers: pl.DataFrame
    run: dict

    def row(self, account: str) -> dict:
        rows = self.scores.filter(pl.col("account_id") == account).to_dicts()
        assert len(rows) == 1, f"expected one scores row for {account}, got {len(rows)}"
        return rows[0]

    def drv(self, account: str, variable: str) -> dict:
        rows = self.drivers.filter(
            (pl.col("account_id") == account) & (pl.col("variable") == variable)
        ).to_dicts()
        assert len(rows) == 1, f"expected one driver row for {account}/{variable}, got {len(rows)}"
        return rows[0]

    def raw(self, account: str, variable: str):
        return self.drv(account, variable)["raw_value"]

    def sub(self, account: str, variable: str):
        return self.drv(account, variable)["sub_score"]


def score(cfg: Path, as_of: str = AS_OF, cwd: Path | None = None, env_extra: dict | None = None) -> ScoreRun:
    proc = run_chs(cfg, "score", "--as-of", as_of, cwd=cwd, env_extra=env_extra)
    assert proc.returncode == 0, (
        f"chs score exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    conf = yaml.safe_load(cfg.read_text())
    out = cfg.parent / conf["storage"]["output_dir"]
    return ScoreRun(
        proc=proc,
        cfg=cfg,
        out=out,
        scores=pl.read_parquet(out / "scores.parquet"),
        drivers=pl.read_parquet(out / "drivers.parquet"),
        run=json.loads((out / "run.json").read_text()),
    )


def project_and_score(root: Path, config: dict, files: dict[str, str], as_of: str = AS_OF) -> ScoreRun:
    return score(make_project(root, config, files), as_of)
