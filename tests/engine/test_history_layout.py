"""History layout 2 (node values as per-account lists, `node_scores` a view) and the migration
of a layout-1 database written by chs 0.1 (tests/data/history_v1.duckdb.gz: the starter
example scored as of 2026-11-06 and 2026-11-13 by the previous release)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
OLD_DATES = ("2026-11-06", "2026-11-13")
NODE_COLUMNS = ("as_of, account_id, node, node_order, kind, variable, raw_value, raw_text, sub_score, weight, "
                "effective_weight, contribution, missing, imputed")


def chs(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chs", "--quiet", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    assert chs(tmp_path, "init", str(root)).returncode == 0
    shutil.copy(DATA / "history_v1.yaml", root / "chs.yaml")  # the config the v1 history was built with
    return root


def _rows(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _score_columns(database: Path) -> str:
    cols = [r[0] for r in _rows(database, "SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'scores' ORDER BY ordinal_position")]
    return ", ".join(c for c in cols if c not in ("run_id", "config_hash", "level"))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("layout")
    root = _project(tmp, "old")
    with gzip.open(DATA / "history_v1.duckdb.gz") as src, open(root / "chs.duckdb", "wb") as dst:
        shutil.copyfileobj(src, dst)
    before_nodes = _rows(root / "chs.duckdb", f"SELECT {NODE_COLUMNS} FROM node_scores ORDER BY ALL")
    cols = _score_columns(root / "chs.duckdb")
    before_scores = _rows(root / "chs.duckdb", f"SELECT {cols} FROM scores ORDER BY ALL")
    proc = chs(root, "score", "--as-of", "2026-11-20")  # the first run of the new release migrates
    assert proc.returncode == 0, proc.stderr
    return {"root": root, "db": root / "chs.duckdb", "nodes": before_nodes, "scores": before_scores, "cols": cols}


def test_v1_database_is_migrated_to_layout_2(migrated: dict) -> None:
    db = migrated["db"]
    assert _rows(db, "SELECT value FROM chs_meta WHERE key = 'layout_version'") == [("2",)]
    kinds = dict(_rows(db, "SELECT table_name, table_type FROM information_schema.tables"))
    assert kinds["node_scores"] == "VIEW" and kinds["node_values"] == "BASE TABLE"
    # One row per as_of x account, not per node.
    per_day = dict(_rows(db, "SELECT as_of::VARCHAR, count(*) FROM node_values GROUP BY 1"))
    assert per_day["2026-11-06"] == len({r[1] for r in migrated["nodes"] if str(r[0]) == "2026-11-06"})


def test_migration_keeps_every_stored_value(migrated: dict) -> None:
    db, dates = migrated["db"], ", ".join(f"DATE '{d}'" for d in OLD_DATES)
    after = _rows(db, f"SELECT {NODE_COLUMNS} FROM node_scores WHERE as_of IN ({dates}) ORDER BY ALL")
    assert len(after) > 100
    assert after == migrated["nodes"]
    scores = _rows(db, f"SELECT {migrated['cols']} FROM scores WHERE as_of IN ({dates}) ORDER BY ALL")
    assert scores == migrated["scores"]
    # Traceable: migrated rows carry the config hash of the run that stored them.
    missing = _rows(db, "SELECT count(*) FROM scores AS s JOIN runs AS r USING (run_id) "
                        "WHERE s.config_hash IS DISTINCT FROM r.config_hash")
    assert missing == [(0,)]


def test_new_layout_stores_what_the_old_one_stored(migrated: dict, tmp_path: Path) -> None:
    """Scored afresh by this release, the same dates give the same snapshot contents."""
    root = _project(tmp_path, "new")
    for day in OLD_DATES:
        assert chs(root, "score", "--as-of", day).returncode == 0
    db = root / "chs.duckdb"
    assert _rows(db, f"SELECT {NODE_COLUMNS} FROM node_scores ORDER BY ALL") == migrated["nodes"]
    assert _rows(db, f"SELECT {migrated['cols']} FROM scores ORDER BY ALL") == migrated["scores"]


def test_explain_reads_a_migrated_snapshot(migrated: dict) -> None:
    account = migrated["nodes"][0][1]
    proc = chs(migrated["root"], "explain", account, "--as-of", OLD_DATES[0], "--json")
    assert proc.returncode == 0, proc.stderr
    assert f'"account_id": "{account}"' in proc.stdout


def test_a_newer_layout_is_refused_and_left_untouched(tmp_path: Path) -> None:
    root = _project(tmp_path, "future")
    assert chs(root, "score", "--as-of", OLD_DATES[0]).returncode == 0
    con = duckdb.connect(str(root / "chs.duckdb"))
    con.execute("UPDATE chs_meta SET value = '99' WHERE key = 'layout_version'")
    con.close()
    digest = hashlib.sha256((root / "chs.duckdb").read_bytes()).hexdigest()
    proc = chs(root, "score", "--as-of", OLD_DATES[1])
    assert proc.returncode == 65
    assert "layout version 99" in proc.stderr and "nothing was changed" in proc.stderr
    assert hashlib.sha256((root / "chs.duckdb").read_bytes()).hexdigest() == digest
