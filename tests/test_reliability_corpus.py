"""The reliability corpus (issue 15): every directory under tests/reliability/ is one case.

A case copies tests/reliability/_base (a small project), applies its `case.yaml` (files,
config edits, named setup recipes), runs its `prepare` commands, fingerprints what is
stored (chs.duckdb and everything under output_dir, hidden files and links included), runs
its `command` through the real CLI and asserts the exit code, the message, what must not be
printed, and that the fingerprint is unchanged (unless the case says `changes: true`, then
what it lists is checked instead). tests/reliability/README.md describes the keys.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

CORPUS = Path(__file__).parent / "reliability"
BASE = CORPUS / "_base"
CHS = [sys.executable, "-m", "chs"]


def cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))


# ---------------------------------------------------------------- project
def build(root: Path, case: dict[str, Any]) -> Path:
    """The base project with the case's `files` (before `prepare`)."""
    shutil.copytree(BASE, root)
    write_files(root, case.get("files") or {})
    return root


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _to_parquet(root)


def edit_config(root: Path, replace: list[list[str]]) -> None:
    """The case's config edits (after `prepare`, which scores with the base config)."""
    config = root / "chs.yaml"
    text = config.read_text()
    for old, new in replace:
        assert old in text, f"replace: {old!r} is not in the base chs.yaml"
        text = text.replace(old, new)
    config.write_text(text)


def _to_parquet(root: Path) -> None:
    """parquet_src/<dir>/<name>.csv -> data/<dir>/<name>.parquet (binary inputs made here,
    so the corpus holds only text)."""
    con = duckdb.connect()
    for csv in sorted((root / "parquet_src").rglob("*.csv")):
        target = root / "data" / csv.relative_to(root / "parquet_src").with_suffix(".parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()


def run(root: Path, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CHS, *args], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def fingerprint(root: Path) -> dict[str, str]:
    """Every stored byte: the database (and WAL) and output_dir, with link targets."""
    out: dict[str, str] = {}
    for path in sorted(root.glob("chs.duckdb*")):
        if not path.name.endswith(".lock"):
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    outputs = root / "out"
    if outputs.is_symlink() or outputs.is_file():
        out["out"] = hashlib.sha256(outputs.read_bytes()).hexdigest() if outputs.is_file() else os.readlink(outputs)
    elif outputs.is_dir():
        for path in sorted(outputs.rglob("*")):
            key = str(path.relative_to(root))
            if path.is_symlink():
                out[key] = "-> " + os.readlink(path)
            elif path.is_file():
                out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[key] = "dir"
    return out


# ---------------------------------------------------------------- setup recipes
def _sqlite_database(root: Path, _: dict[str, Any]) -> None:
    con = sqlite3.connect(root / "chs.duckdb")
    con.execute("CREATE TABLE contacts (id INTEGER, name TEXT)")
    con.commit()
    con.close()


def _truncate_database(root: Path, _: dict[str, Any]) -> None:
    db = root / "chs.duckdb"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _short_database(root: Path, _: dict[str, Any]) -> None:
    db = root / "chs.duckdb"
    db.write_bytes(db.read_bytes()[:5000])


def _random_database(root: Path, _: dict[str, Any]) -> None:
    (root / "chs.duckdb").write_bytes(random.Random(15).randbytes(64 * 1024))


def _empty_duckdb(root: Path, _: dict[str, Any]) -> None:
    duckdb.connect(str(root / "chs.duckdb")).close()


def _foreign_duckdb(root: Path, _: dict[str, Any]) -> None:
    con = duckdb.connect(str(root / "chs.duckdb"))
    con.execute("CREATE TABLE invoices_2025 (id INTEGER, amount DOUBLE)")
    con.close()


def _wrong_schema_duckdb(root: Path, _: dict[str, Any]) -> None:
    con = duckdb.connect(str(root / "chs.duckdb"))
    con.execute("CREATE TABLE scores (id INTEGER, value DOUBLE)")
    con.close()


def _corrupt_parquet(root: Path, case: dict[str, Any]) -> None:
    """Flip bytes inside the data pages (not the footer): metadata still reads fine."""
    import pyarrow.parquet as pq
    path = root / case["corrupt"]
    meta = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    for c in range(meta.num_columns):
        col = meta.row_group(0).column(c)
        start = col.dictionary_page_offset or col.data_page_offset
        for i in range(start + 12, start + col.total_compressed_size - 2):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _long_line(root: Path, case: dict[str, Any]) -> None:
    """Make line `long_line.line` of a CSV longer than DuckDB's 2 MB line limit."""
    spec = case["long_line"]
    path = root / spec["file"]
    lines = path.read_text().splitlines()
    lines[spec["line"] - 1] += "x" * 3_000_000
    path.write_text("\n".join(lines) + "\n")


def _output_dir_is_a_file(root: Path, _: dict[str, Any]) -> None:
    shutil.rmtree(root / "out", ignore_errors=True)
    (root / "out").write_text("not a folder\n")


def _restore_output_dir(root: Path, _: dict[str, Any]) -> None:
    (root / "out").unlink()


RECIPES: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "sqlite_database": _sqlite_database, "truncate_database": _truncate_database,
    "short_database": _short_database, "random_database": _random_database,
    "empty_duckdb": _empty_duckdb, "foreign_duckdb": _foreign_duckdb,
    "wrong_schema_duckdb": _wrong_schema_duckdb, "corrupt_parquet": _corrupt_parquet,
    "long_line": _long_line, "output_dir_is_a_file": _output_dir_is_a_file,
    "restore_output_dir": _restore_output_dir,
}


def stored_dates(root: Path) -> list[str]:
    con = duckdb.connect(str(root / "chs.duckdb"), read_only=True)
    try:
        return [str(r[0]) for r in con.execute("SELECT DISTINCT as_of FROM scores ORDER BY 1").fetchall()]
    finally:
        con.close()


# ---------------------------------------------------------------- the test
@pytest.mark.parametrize("case_dir", cases(), ids=lambda p: p.name)
def test_case(case_dir: Path, tmp_path: Path) -> None:
    case = yaml.safe_load((case_dir / "case.yaml").read_text())
    root = build(tmp_path / "project", case)
    for args in case.get("prepare") or []:
        done = run(root, args)
        assert done.returncode == 0, f"prepare {args}: {done.stderr}"
    edit_config(root, case.get("replace") or [])
    write_files(root, case.get("after_files") or {})
    for recipe in case.get("setup") or []:
        RECIPES[recipe](root, case)
    before = fingerprint(root)
    proc = run(root, case["command"])
    shown = proc.stdout + proc.stderr
    assert proc.returncode == case["exit"], shown
    stream = proc.stderr if case.get("stream", "stderr") == "stderr" else proc.stdout
    for pattern in [case["message"]] if isinstance(case["message"], str) else case["message"]:
        assert re.search(pattern, stream), f"{pattern!r} not in:\n{stream}"
    for text in case.get("absent") or []:
        assert text not in shown, f"{text!r} printed:\n{shown!r}"
    if case.get("changes"):
        if "stored_dates" in case:
            assert stored_dates(root) == case["stored_dates"]
        for name, pattern in (case.get("output_files") or {}).items():
            assert re.search(pattern, (root / name).read_text()), f"{name}: {pattern!r}"
    else:
        assert fingerprint(root) == before, "a failed or read-only command changed what is stored"
    for recipe in case.get("then_setup") or []:
        RECIPES[recipe](root, case)
    for args in case.get("then") or []:  # e.g. the rerun that completes a partial backfill
        done = run(root, args)
        assert done.returncode == 0, f"then {args}: {done.stderr}"
    if "stored_after_then" in case:
        assert stored_dates(root) == case["stored_after_then"]
