"""`chs scores`: the stored snapshot as a list — filters, sort orders, limit, formats, exit codes.

A tiny project is scored on two dates a week apart in a subprocess; the score of an account
is its `level` of that day (one leaf, scale 0..100), so every expected order is by hand:

    account  owner         segment     level D0 -> D1   band D1   delta   revenue (arr / 12)
    A        anna@x.com    enterprise     80 -> 60      yellow    -20     10000
    B        bert@x.com    smb            50 -> 55      yellow     +5      2000   (name is a formula)
    C        anna@x.com    smb            30 -> 20      red       -10      5000
    D        carl@x.com    mid            65 -> 90      green     +25      1000
    E        carl@x.com    smb             -  ->  -     unknown     -         -   (no signals, no arr)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

D0, D1 = dt.date(2026, 3, 2), dt.date(2026, 3, 9)
LONG_NAME = "Alpha Omega Holdings International Group GmbH & Co. KG"
FORMULA = '=HYPERLINK("http://evil.example","click")'
ACCOUNTS = [  # id, name, owner, segment, arr
    ("A", LONG_NAME, "anna@x.com", "enterprise", "120000"),
    ("B", FORMULA, "bert@x.com", "smb", "24000"),
    ("C", "Gamma", "anna@x.com", "smb", "60000"),
    ("D", "Delta", "carl@x.com", "mid", "12000"),
    ("E", "Epsilon", "carl@x.com", "smb", ""),
]
LEVELS = {D0: {"A": 80, "B": 50, "C": 30, "D": 65}, D1: {"A": 60, "B": 55, "C": 20, "D": 90}}
COLUMNS = ["account_id", "account_name", "owner", "segment", "score", "band", "delta", "delta_7d",
           "coverage", "top_risks"]


def config(**accounts: str) -> dict:
    return {
        "version": 1, "name": "scores-test",
        "storage": {"database": "chs.duckdb", "output_dir": "out"},
        "accounts": {"source": "accounts", "id": "account_id", "name": "account_name", "owner": "csm_email",
                     "segment": "tier", **accounts},
        "sources": {"accounts": {"path": "data/accounts.csv"},
                    "signals": {"path": "data/signals.csv", "account": "account_id", "time": "day"}},
        "variables": {"level": {"source": "signals", "agg": "latest", "column": "level"}},
        "score": {"bands": {"green": 70, "yellow": 40, "red": 0}, "tree": {
            "health": {"weight": 1, "children": {
                "level": {"weight": 1, "variable": "level", "scale": {"thresholds": [[0, 0], [100, 100]]}}}}}},
    }


def write_config(root: Path, name: str, cfg: dict) -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path


def write_project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["account_id", "account_name", "csm_email", "tier", "arr"])
    writer.writerows(ACCOUNTS)
    (root / "data" / "accounts.csv").write_text(out.getvalue())
    lines = ["account_id,day,level"]
    for as_of, levels in LEVELS.items():
        lines += [f"{a},{as_of - dt.timedelta(days=1)},{v}" for a, v in levels.items()]
    (root / "data" / "signals.csv").write_text("\n".join(lines) + "\n")
    # The same history read through a config without revenue, and one whose revenue column is wrong.
    write_config(root, "norevenue.yaml", config())
    write_config(root, "badrevenue.yaml", config(revenue="nope"))
    return write_config(root, "chs.yaml", config(revenue="arr", revenue_unit="year"))


def run(cfg: Path, *args: str, columns: int = 200, text: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    env.pop("CHS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(cfg), *args], capture_output=True,
                          text=text, timeout=120, env=env, cwd=str(cfg.parent), check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = write_project(tmp_path_factory.mktemp("scores"))
    for as_of in (D0, D1):
        proc = run(cfg, "score", "--as-of", str(as_of))
        assert proc.returncode == 0, proc.stderr
    return cfg


def listed(cfg: Path, *args: str) -> list[dict]:
    proc = run(cfg, "scores", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ids(cfg: Path, *args: str) -> list[str]:
    return [r["account_id"] for r in listed(cfg, *args)]


# ------------------------------------------------------------------ content and order
def test_json_lists_latest_snapshot_lowest_score_first_unknown_last(project: Path) -> None:
    proc = run(project, "scores", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)  # one document: stats are on stderr
    assert proc.stderr.strip() == f"{D1}: 5 accounts, shown 5"
    assert [r["account_id"] for r in rows] == ["C", "B", "A", "D", "E"]
    assert list(rows[0]) == [*COLUMNS, "revenue"]
    c, b, a, d, e = rows
    assert (c["score"], c["band"], c["delta"], c["delta_7d"]) == (20.0, "red", -10.0, -10.0)
    assert (a["score"], a["band"], a["delta"], a["owner"], a["segment"]) == (60.0, "yellow", -20.0,
                                                                             "anna@x.com", "enterprise")
    assert b["account_name"] == FORMULA  # JSON keeps every value as stored
    assert isinstance(d["score"], float) and d["coverage"] == 1.0
    assert c["top_risks"] == "health.level (-30.0)"
    assert [r["revenue"] for r in rows] == [5000.0, 2000.0, 10000.0, 1000.0, None]  # arr per year / 12
    assert (e["score"], e["band"], e["delta"], e["revenue"]) == (None, "unknown", None, None)


def test_filters_combine_with_and_and_repeat_with_or(project: Path) -> None:
    assert ids(project, "--band", "red") == ["C"]
    assert ids(project, "--band", "red", "--band", "YELLOW") == ["C", "B", "A"]
    assert ids(project, "--band", "red,yellow") == ["C", "B", "A"]
    assert ids(project, "--band", "unknown") == ["E"]
    assert ids(project, "--owner", "ANNA@x.com") == ["C", "A"]
    assert ids(project, "--owner", "anna@x.com", "--owner", "carl@x.com") == ["C", "A", "D", "E"]
    assert ids(project, "--segment", "SMB") == ["C", "B", "E"]
    assert ids(project, "--segment", "smb", "--band", "yellow") == ["B"]
    assert ids(project, "--segment", "smb", "--owner", "anna@x.com", "--band", "red") == ["C"]
    proc = run(project, "scores", "--format", "json", "--owner", "anna@x.com", "--limit", "1")
    assert json.loads(proc.stdout)[0]["account_id"] == "C"
    assert proc.stderr.strip() == f"{D1}: 5 accounts, 2 match, shown 1"
    none = run(project, "scores", "--format", "json", "--owner", "nobody@x.com")
    assert none.returncode == 0 and json.loads(none.stdout) == []


def test_sort_orders_and_limit(project: Path) -> None:
    assert ids(project, "--sort", "score") == ["C", "B", "A", "D", "E"]
    assert ids(project, "--sort", "revenue") == ["A", "C", "B", "D", "E"]  # highest first, none last
    assert ids(project, "--sort", "delta") == ["A", "C", "B", "D", "E"]  # largest fall first
    assert ids(project, "--sort", "delta", "--limit", "2") == ["A", "C"]
    assert ids(project, "--band", "yellow", "--sort", "revenue", "-n", "1") == ["A"]
    assert ids(project, "--limit", "0") == []


def test_as_of_picks_latest_snapshot_on_or_before(project: Path) -> None:
    rows = listed(project, "--as-of", str(D0 + dt.timedelta(days=3)))
    assert [r["account_id"] for r in rows] == ["C", "B", "D", "A", "E"]
    assert all(r["delta"] is None for r in rows)  # the first snapshot has nothing to compare with
    assert ids(project, "--as-of", str(D1)) == ["C", "B", "A", "D", "E"]
    assert ids(project, "--as-of", "2030-01-01") == ["C", "B", "A", "D", "E"]
    early = run(project, "scores", "--as-of", str(D0 - dt.timedelta(days=1)))
    assert early.returncode == 2 and f"the first is {D0}" in early.stderr and early.stdout == ""
    assert run(project, "scores", "--as-of", "yesterday").returncode == 2


# ------------------------------------------------------------------ formats
def test_csv_is_rfc4180_with_formulas_neutralised(project: Path) -> None:
    proc = run(project, "scores", "--format", "csv", text=False)
    assert proc.returncode == 0, proc.stderr
    raw = proc.stdout.decode()
    assert raw.endswith("\r\n") and raw.count("\r\n") == 6  # header + 5 rows, CRLF line ends
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows[0] == [*COLUMNS, "revenue"]
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["account_id"] for r in body] == ["C", "B", "A", "D", "E"]
    b = body[1]
    assert b["account_name"] == "'" + FORMULA  # would run as a formula in a spreadsheet
    assert float(body[2]["delta"]) == -20.0  # numbers are not neutralised
    assert body[2]["account_name"] == LONG_NAME  # nothing is cut in CSV
    assert (body[4]["score"], body[4]["revenue"], body[4]["band"]) == ("", "", "unknown")
    empty = run(project, "scores", "--format", "csv", "--band", "green", "--owner", "anna@x.com", text=False)
    assert empty.stdout.decode() == ",".join([*COLUMNS, "revenue"]) + "\r\n"


def test_table_fits_80_columns_without_wrapping_ids(project: Path) -> None:
    proc = run(project, "scores", columns=80)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) == 2 + 5  # header, rule, one line per account
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert [line.split()[0] for line in lines[2:]] == ["C", "B", "A", "D", "E"]
    assert "…" in proc.stdout and LONG_NAME not in proc.stdout
    assert "accounts" not in proc.stdout and "5 accounts, shown 5" in proc.stderr
    wide = run(project, "scores", "--sort", "delta", columns=250)
    assert LONG_NAME in wide.stdout and "-20.0" in wide.stdout and "10,000" in wide.stdout
    assert "level (-30.0)" in wide.stdout and "health.level" not in wide.stdout  # leaf names; CSV and JSON keep the paths


def test_quiet_keeps_stdout_and_drops_stats(project: Path) -> None:
    proc = run(project, "--quiet", "scores", "--format", "json", "-n", "1")
    assert proc.returncode == 0 and proc.stderr == "" and len(json.loads(proc.stdout)) == 1


# ------------------------------------------------------------------ revenue and errors
def test_sort_revenue_without_revenue_is_exit_2(project: Path) -> None:
    cfg = project.parent / "norevenue.yaml"
    proc = run(cfg, "scores", "--sort", "revenue")
    assert proc.returncode == 2 and "accounts.revenue" in proc.stderr and proc.stdout == ""
    rows = listed(cfg)
    assert [r["account_id"] for r in rows] == ["C", "B", "A", "D", "E"] and "revenue" not in rows[0]
    assert "Rev/mo" not in run(cfg, "scores").stdout


def test_unreadable_revenue_is_a_warning_unless_sorted_by_it(project: Path) -> None:
    cfg = project.parent / "badrevenue.yaml"
    proc = run(cfg, "scores", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "warning: revenue left empty" in proc.stderr and "'nope'" in proc.stderr
    assert [r["revenue"] for r in json.loads(proc.stdout)] == [None] * 5
    sorted_by = run(cfg, "scores", "--sort", "revenue")
    assert sorted_by.returncode == 65 and "'nope'" in sorted_by.stderr and sorted_by.stdout == ""


def test_bad_options_are_exit_2(project: Path) -> None:
    for args in (["--band", "purple"], ["--sort", "name"], ["--format", "xml"], ["--limit", "-1"]):
        proc = run(project, "scores", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
    assert "bands: green, red, unknown, yellow" in run(project, "scores", "--band", "purple").stderr


def test_no_history_is_exit_66(tmp_path: Path) -> None:
    cfg = write_project(tmp_path)
    proc = run(cfg, "scores")
    assert proc.returncode == 66 and proc.stdout == ""
    assert "no snapshots stored yet; run chs score first" in proc.stderr
    duckdb.connect(str(tmp_path / "chs.duckdb")).close()  # a database without any snapshot
    proc = run(cfg, "scores", "--format", "json")
    assert proc.returncode == 66 and "no snapshots stored yet" in proc.stderr


def test_database_locked_by_a_run_is_exit_75(project: Path) -> None:
    con = duckdb.connect(str(project.parent / "chs.duckdb"))  # as a running `chs score` holds it
    try:
        proc = run(project, "scores")
    finally:
        con.close()
    assert proc.returncode == 75 and "retry later" in proc.stderr


def test_revenue_warning_survives_quiet(project: Path) -> None:
    proc = run(project.parent / "badrevenue.yaml", "--quiet", "scores", "--format", "csv")
    assert proc.returncode == 0 and "warning: revenue left empty" in proc.stderr
    assert "accounts, shown" not in proc.stderr


def test_table_never_cuts_a_long_id_and_keeps_numbers_whole() -> None:
    import polars as pl
    from rich.console import Console

    from chs.cli.scores_cmd import table
    from chs.scores_list import ScoreList
    uid = "3f2b8c1e-9d4a-4e7b-a1c2-0f9e8d7c6b5a"  # 36 characters
    frame = pl.DataFrame([{"account_id": uid, "account_name": LONG_NAME, "owner": "someone.long@example.com",
                           "segment": "enterprise", "score": 12.34, "band": "red", "delta": -45.6,
                           "delta_7d": None, "coverage": 0.5, "top_risks": "a.b.c (-30.0); d.e (-10.0)",
                           "revenue": 1234567.0}])
    console = Console(width=80, no_color=True, record=True)
    console.print(table(ScoreList(as_of=D1, frame=frame, total=1, matched=1, has_revenue=True), 80))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) == 3 and all(len(line.rstrip()) <= 80 for line in lines)
    row = lines[2]
    for text in (uid, "12.3", "red", "-45.6", "50%", "1,234,567"):
        assert text in row, text
    assert "…" in row
