"""Helpers for engine tests: write a config + CSVs into a folder, run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml


def write_project(root: Path, config: dict[str, Any], files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cfg = root / "chs.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    return cfg


def run_chs(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "chs", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


BASE_CONFIG: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "accounts": {"source": "accounts", "id": "account_id", "name": "name", "owner": "owner",
                 "segment": "tier", "start": "since"},
    "sources": {
        "accounts": {"path": "data/accounts.csv"},
        "usage": {"path": "data/usage.csv", "account": "account_id", "time": "ts"},
    },
    "variables": {
        "events_30d": {"source": "usage", "agg": "count", "window": "30d"},
        "seats": {"source": "accounts", "column": "seats"},
    },
    "score": {
        "bands": {"green": 70, "yellow": 40, "red": 0},
        "tree": {
            "usage": {"weight": 2, "variable": "events_30d", "scale": {"thresholds": [[0, 0], [4, 100]]}},
            "size": {"weight": 1, "variable": "seats", "scale": {"steps": [[0, 0], [10, 50], [20, 100]]}},
        },
    },
}

BASE_FILES = {
    "data/accounts.csv": "account_id,name,owner,tier,since,seats\n"
                         "A1,Alpha,a@x.io,ent,2024-01-01,20\nA2,Beta,b@x.io,smb,2024-01-01,10\n"
                         "A3,Gamma,a@x.io,smb,2024-01-01,5\n",
    "data/usage.csv": "account_id,ts\nA1,2026-11-20 10:00:00\nA1,2026-11-01 00:00:00\nA2,2026-10-22 12:00:00\n"
                      "A2,2026-10-21 12:00:00\nA1,2026-11-21 08:00:00\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    import copy
    return write_project(tmp_path, copy.deepcopy(BASE_CONFIG), dict(BASE_FILES))
