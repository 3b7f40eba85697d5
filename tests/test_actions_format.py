"""`chs actions --format table|csv|tsv|json`: off a terminal the list defaults to TSV (a header,
then one line per action), on a terminal to the table; CSV/TSV carry the actions.csv columns
plus status with formula-like cells neutralised. The project is `tests/test_actions.py`'s."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from chs.actions import ACTION_COLUMNS
from tests.test_actions import D0, chs, project, score

FORMULA = '=HYPERLINK("http://evil.example","click")'
ACCOUNTS = f"""\
account_id,account_name,csm_email,am_email,preferred_channel,tickets
A,Alpha,csm1@x.com,am1@x.com,email,12
B,Beta,csm2@x.com,am2@x.com,phone,0
C,"{FORMULA.replace('"', '""')}",csm1@x.com,am1@x.com,letter,5
"""
RULE = {"id": "risk", "when": "level < 40", "title": "Risk: {{ name }} at {{ level }}",
        "detail": "Call them.\nThen:\tlog it in C:\\crm", "priority": "high", "due": "2d", "cooldown": "14d"}
COLUMNS = [*ACTION_COLUMNS, "status"]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = project(tmp_path_factory.mktemp("actions_format"), [RULE], accounts=ACCOUNTS)
    score(path, D0)  # actions 1 (A, Alpha) and 2 (C, the formula)
    return path


def raw(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    """Like `chs` but stdout as bytes, so CRLF line ends stay visible."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("CHS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(cfg), *args], capture_output=True,
                          timeout=120, env=env, cwd=str(cfg.parent), check=False)


def test_piped_default_is_tsv_one_line_per_action(cfg: Path) -> None:
    proc = chs(cfg, "actions")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 + 2 and proc.stdout.endswith("\n")  # `wc -l` = actions + header
    assert lines[0].split("\t") == COLUMNS
    rows = [dict(zip(COLUMNS, line.split("\t"))) for line in lines[1:]]
    assert all(len(line.split("\t")) == len(COLUMNS) for line in lines)
    assert [(r["action_id"], r["account_id"], r["status"]) for r in rows] == [("1", "A", "open"), ("2", "C", "open")]
    a, c = rows
    assert (a["account_name"], a["owner"], a["priority"], a["due_date"]) == ("Alpha", "csm1@x.com", "high",
                                                                           "2026-03-04")
    assert a["title"] == "Risk: Alpha at 20" and a["channel"] == ""
    assert a["detail"] == "Call them.\\nThen:\\tlog it in C:\\\\crm"  # escaped: still one line
    assert c["account_name"] == "'" + FORMULA
    assert chs(cfg, "actions", "--format", "tsv").stdout == proc.stdout
    assert [line for line in lines if "Alpha" in line] == [lines[1]]  # grep finds the action line


def test_csv_parses_back_with_formulas_neutralised(cfg: Path) -> None:
    proc = raw(cfg, "actions", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert text.endswith("\r\n") and rows[0] == COLUMNS
    body = [dict(zip(COLUMNS, r)) for r in rows[1:]]
    assert [(r["action_id"], r["account_id"]) for r in body] == [("1", "A"), ("2", "C")]
    assert body[0]["detail"] == RULE["detail"]  # quoted, newline and tab kept
    assert body[1]["account_name"] == "'" + FORMULA
    assert body[1]["title"].startswith("Risk: =HYPERLINK")  # starts with "Risk", nothing to neutralise


def test_json_format_equals_json_flag_and_table_stays_available(cfg: Path) -> None:
    as_json = chs(cfg, "actions", "--json")
    assert as_json.returncode == 0
    assert chs(cfg, "actions", "--format", "json").stdout == as_json.stdout
    assert chs(cfg, "actions", "--json", "--format", "json").stdout == as_json.stdout
    assert [r["action_id"] for r in json.loads(as_json.stdout)] == [1, 2]
    table = chs(cfg, "actions", "--format", "table")
    assert table.returncode == 0 and "Risk: Alpha at 20" in table.stdout and "\t" not in table.stdout
    assert "action_id" not in table.stdout


def test_status_filters_apply_to_every_format(cfg: Path) -> None:
    proc = chs(cfg, "actions", "--status", "all", "--owner", "CSM1@x.com", "--format", "tsv")
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == ["action_id", "1", "2"]
    empty = chs(cfg, "actions", "--owner", "nobody@x.com")  # implicit TSV: nothing, as before
    assert empty.returncode == 0 and empty.stdout == "" and "no open actions" in empty.stderr
    for fmt, sep in (("tsv", "\t"), ("csv", ",")):
        header = chs(cfg, "actions", "--owner", "nobody@x.com", "--format", fmt)
        assert header.returncode == 0 and header.stdout.splitlines() == [sep.join(COLUMNS)]
    assert json.loads(chs(cfg, "actions", "--owner", "nobody@x.com", "--format", "json").stdout) == []


def test_format_errors_are_exit_2(cfg: Path) -> None:
    for args in (["--format", "xml"], ["--json", "--format", "csv"], ["done", "1", "--format", "tsv"]):
        proc = chs(cfg, "actions", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""


def test_reader_leaving_early_is_not_an_error(cfg: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CHS_CONFIG", None)
    shell = (f"{sys.executable} -m chs --config {cfg} actions --status all --format csv | true; "
             "exit ${PIPESTATUS[0]}")
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0 and "error" not in proc.stderr


def test_terminal_default_is_the_table(cfg: Path) -> None:
    primary, secondary = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("CHS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "chs", "--config", str(cfg), "actions"], stdout=secondary,
                            stderr=subprocess.PIPE, env=env, cwd=str(cfg.parent))
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=120) == 0
    proc.stderr.close()  # type: ignore[union-attr]
    shown = b"".join(chunks).decode()
    assert "Risk: Alpha at 20" in shown and "\t" not in shown and "action_id" not in shown
