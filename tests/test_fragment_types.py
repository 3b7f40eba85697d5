"""Fragments that bind but fail on real data are config errors (78) at their YAML line.

`chs validate` binds every `where`/`expr`/`when` on empty inputs, where DuckDB never casts a
string literal, converts text or calls `error()`. These tests write tiny projects whose
fragments bind but break on the real rows (or are not conditions) and check that
`chs validate` and `chs score` both exit 78 naming the line, never 70; that valid configs
still pass; and that the run-time safety net (a fragment failing only on a later date, or
on rows a validate-time sample did not see) names the line too.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import chs.fragment_check as fc
from chs.compiler import Step
from chs.config import load_config
from chs.db import memory
from chs.errors import ConfigError
from chs.pipeline import prepare, score

AS_OF = "2024-06-30"

ACCOUNTS = """\
account_id,account_name,owner,tier,code,seats
A,Alpha,csm1,gold,12,10
B,Beta,csm2,silver,x7,20
C,Gamma,csm1,gold,30,5
"""

# priority is an INTEGER code; note is text that is mostly, but not always, a number.
TICKETS = """\
account_id,day,priority,amount,note
A,2024-06-01,1,10.5,12
A,2024-06-20,3,3.0,7
B,2024-06-03,2,7.0,ab
C,2024-06-25,1,1.0,5
"""

TEMPLATE = """\
version: 1
name: fragment-types
storage: {database: chs.duckdb, output_dir: out}
accounts: {source: accounts, id: account_id, name: account_name, owner: owner}
sources:
  accounts: {path: data/accounts.csv}
  tickets: {path: data/@TICKETS@, account: account_id, time: day, max_age: 400d}
variables:
  urgent_tickets:
    source: tickets
    agg: count
    where: "@URGENT_WHERE@"
  spend:
    source: tickets
    agg: sum
    expr: "@SPEND_EXPR@"
  seats: {source: accounts, column: seats}
@EXTRA_VARIABLES@
score:
  bands: {green: 70, yellow: 40, red: 0}
  tree:
    g:
      weight: 1
      children:
        urgent: {weight: 1, variable: urgent_tickets, scale: {thresholds: [[0, 100], [10, 0]]}}
        spend: {weight: 1, variable: spend, scale: {thresholds: [[0, 0], [100, 100]]}}
segments:
  big:
    when: "@SEGMENT_WHEN@"
    weights: {g.spend: 2}
actions:
  - id: low
    when: "@ACTION_WHEN@"
    title: "Low: {{ name }}"
"""

VALID = {
    "URGENT_WHERE": "priority >= 2",
    "SPEND_EXPR": "CAST(amount AS INT)",
    "SEGMENT_WHEN": "seats > 15",
    "ACTION_WHEN": "score < 50",
    "EXTRA_VARIABLES": "",
    "TICKETS": "tickets.csv",
}


def project(root: Path, **changes: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "accounts.csv").write_text(ACCOUNTS)
    (root / "data" / "tickets.csv").write_text(TICKETS)
    text = TEMPLATE
    for key, value in {**VALID, **changes}.items():
        text = text.replace(f"@{key}@", value)
    path = root / "chs.yaml"
    path.write_text(text)
    return path


def line_of(cfg: Path, needle: str) -> int:
    hits = [i for i, line in enumerate(cfg.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def chs(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("CHS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=str(cfg.parent), check=False)


def assert_config_error(proc: subprocess.CompletedProcess, cfg: Path, line: int, key: str, *texts: str) -> None:
    assert proc.returncode == 78, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "internal error" not in proc.stderr
    assert f"chs.yaml:{line}: {key}: " in proc.stderr, proc.stderr
    for text in texts:
        assert text in proc.stderr, proc.stderr


# change, the line's needle, key path, what the message must say
CASES = {
    "integer column compared with text": (
        {"URGENT_WHERE": "priority = 'urgent'"}, "priority = 'urgent'", "variables.urgent_tickets.where",
        ["Conversion Error: Could not convert string 'urgent'", "(column 'priority' is BIGINT)"]),
    "CAST failure in expr": (
        {"SPEND_EXPR": "CAST(note AS INT)"}, "CAST(note AS INT)", "variables.spend.expr",
        ["Could not convert string 'ab' to INT32", "(column 'note' is VARCHAR)"]),
    "non-boolean where": (
        {"URGENT_WHERE": "amount"}, 'where: "amount"', "variables.urgent_tickets.where",
        ["must be a condition (BOOLEAN), got DOUBLE"]),
    "text where": (
        {"URGENT_WHERE": "note"}, 'where: "note"', "variables.urgent_tickets.where",
        ["must be a condition (BOOLEAN), got VARCHAR"]),
    "non-boolean segment when": (
        {"SEGMENT_WHEN": "seats"}, 'when: "seats"', "segments.big.when",
        ["must be a condition (BOOLEAN), got BIGINT"]),
    "non-boolean action when": (
        {"ACTION_WHEN": "score"}, 'when: "score"', "actions.0.when",
        ["must be a condition (BOOLEAN), got DOUBLE"]),
    "error() in a derived expr": (
        {"EXTRA_VARIABLES": "  checked: {expr: \"CASE WHEN seats > 15 THEN error('boom') ELSE seats END\"}"},
        "error('boom')", "variables.checked.expr", ["boom"]),
    "CAST failure in an account attribute expr": (
        {"EXTRA_VARIABLES": "  code_n: {source: accounts, expr: \"CAST(code AS INT)\"}"},
        "CAST(code AS INT)", "variables.code_n.expr", ["Could not convert string 'x7'", "(column 'code' is VARCHAR)"]),
    "CAST failure in a segment when": (
        {"SEGMENT_WHEN": "CAST(tier AS INT) > 1"}, "CAST(tier AS INT)", "segments.big.when",
        ["Could not convert string 'gold'"]),
    "CAST failure in an action when": (
        {"ACTION_WHEN": "CAST(name AS INT) > 0"}, "CAST(name AS INT)", "actions.0.when",
        ["Could not convert string 'Alpha'"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_and_score_name_the_line(tmp_path: Path, case: str) -> None:
    changes, needle, key, texts = CASES[case]
    cfg = project(tmp_path, **changes)
    line = line_of(cfg, needle)
    assert_config_error(chs(cfg, "validate"), cfg, line, key, *texts)
    assert_config_error(chs(cfg, "score", "--as-of", AS_OF), cfg, line, key, *texts)
    assert not (tmp_path / "out" / "scores.parquet").exists()


def test_valid_config_still_passes(tmp_path: Path) -> None:
    cfg = project(tmp_path, EXTRA_VARIABLES="  code_n: {source: accounts, expr: \"TRY_CAST(code AS INT)\"}\n"
                                            "  per_seat: {expr: \"spend / nullif(seats, 0)\"}")
    proc = chs(cfg, "validate")
    assert proc.returncode == 0, proc.stderr
    proc = chs(cfg, "score", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "scores.parquet").exists()


def test_every_source_level_problem_is_reported_at_once(tmp_path: Path) -> None:
    cfg = project(tmp_path, URGENT_WHERE="priority = 'urgent'", SPEND_EXPR="CAST(note AS INT)",
                  EXTRA_VARIABLES="  code_n: {source: accounts, expr: \"CAST(code AS INT)\"}\n"
                                  "  big_tickets: {source: tickets, agg: count, where: \"amount\"}")
    proc = chs(cfg, "validate")
    assert proc.returncode == 78, proc.stderr
    for needle, key in (("priority = 'urgent'", "variables.urgent_tickets.where"),
                        ("CAST(note AS INT)", "variables.spend.expr"),
                        ("CAST(code AS INT)", "variables.code_n.expr"),
                        ('count, where: "amount"', "variables.big_tickets.where")):
        assert f"chs.yaml:{line_of(cfg, needle)}: {key}: " in proc.stderr, proc.stderr
    assert proc.stderr.count("error: ") == 4


# ---------------------------------------------------------------- the run-time safety net
def test_derived_expr_failing_on_a_later_date_is_located(tmp_path: Path) -> None:
    """Prepare checks the first date only; the second date fails inside the run."""
    fragment = "CASE WHEN as_of > DATE '2024-06-15' THEN error('late') ELSE 1 END"
    cfg = project(tmp_path, EXTRA_VARIABLES=f'  late: {{expr: "{fragment}"}}')
    proc = chs(cfg, "score", "--from", "2024-06-10", "--to", "2024-06-30", "--every", "10d")
    assert_config_error(proc, cfg, line_of(cfg, "error('late')"), "variables.late.expr", "late",
                        "(as of 2024-06-20)")


def test_action_when_failing_on_a_later_date_is_located(tmp_path: Path) -> None:
    fragment = "CASE WHEN as_of > DATE '2024-06-15' THEN CAST(name AS INT) > 0 ELSE false END"
    cfg = project(tmp_path, ACTION_WHEN=fragment)
    proc = chs(cfg, "score", "--from", "2024-06-10", "--to", "2024-06-30", "--every", "10d")
    assert_config_error(proc, cfg, line_of(cfg, "CAST(name AS INT)"), "actions.0.when",
                        "Could not convert string 'Alpha'")


def _big_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the sources were too large for prepare to see the bad rows: no source-level
    evaluation, no plan run; only the run-time net is left."""
    monkeypatch.setattr(fc, "_check_source_level", lambda *args: [])
    monkeypatch.setattr(fc, "PLAN_RUN_ROWS", -1)


@pytest.mark.parametrize(("changes", "needle", "key"), [
    ({"URGENT_WHERE": "priority = 'urgent'"}, "priority = 'urgent'", "variables.urgent_tickets.where"),
    ({"SPEND_EXPR": "CAST(note AS INT)"}, "CAST(note AS INT)", "variables.spend.expr"),
    ({"EXTRA_VARIABLES": "  late: {expr: \"CASE WHEN seats > 15 THEN error('boom') ELSE 1 END\"}"},
     "error('boom')", "variables.late.expr"),
    ({"SEGMENT_WHEN": "CAST(tier AS INT) > 1"}, "CAST(tier AS INT)", "segments.big.when"),
])
def test_run_time_net_names_the_fragment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict,
                                         needle: str, key: str) -> None:
    extra = "  big_tickets: {source: tickets, agg: count, where: \"amount > 5\"}\n" \
            "  notes: {source: tickets, agg: count_distinct, expr: \"lower(note)\"}"
    changes = {**changes, "EXTRA_VARIABLES": "\n".join(filter(None, [changes.get("EXTRA_VARIABLES"), extra]))}
    cfg = project(tmp_path, **changes)
    _big_data(monkeypatch)
    loaded = load_config(cfg)
    prepare(memory(), loaded, dt.date(2024, 6, 30))  # the bad rows are not seen here
    with pytest.raises(ConfigError) as caught:
        score(loaded, [dt.date(2024, 6, 30)])
    [found] = caught.value.problems
    assert f"chs.yaml:{line_of(cfg, needle)}: {key}: " in found
    assert found.endswith("(as of 2024-06-30)")  # from the run, not from prepare
    assert not (tmp_path / "out" / "scores.parquet").exists()


def test_sampled_source_is_still_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above FULL_SCAN_ROWS a source is evaluated on a sample; on a Parquet view too."""
    cfg = project(tmp_path, URGENT_WHERE="priority = 'urgent'", TICKETS="tickets.parquet")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{tmp_path / 'data' / 'tickets.csv'}')) "
                f"TO '{tmp_path / 'data' / 'tickets.parquet'}'")
    con.close()
    monkeypatch.setattr(fc, "FULL_SCAN_ROWS", 0)
    monkeypatch.setattr(fc, "PLAN_RUN_ROWS", -1)
    assert "USING SAMPLE" in fc._rows_sql("src_tickets", 10)
    with pytest.raises(ConfigError) as caught:
        prepare(memory(), load_config(cfg), dt.date(2024, 6, 30))
    [found] = caught.value.problems
    line = line_of(cfg, "priority = 'urgent'")
    assert f"chs.yaml:{line}: variables.urgent_tickets.where: " in found


def test_errors_not_caused_by_a_fragment_are_not_blamed_on_the_config(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    loaded = load_config(cfg)
    prep = prepare(memory(), loaded, dt.date(2024, 6, 30))
    bad = "SELECT CAST('x' AS INT) AS v"
    for table in ("scored", "agg_tickets", "vars"):
        step = Step(table, bad)
        with pytest.raises(duckdb.ConversionException):
            fc.run_step(prep.con, loaded, prep.sources, step)
