"""`chs validate` reports every problem of every source in one run, each with its line (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.contract.conftest import base_config, group, leaf, make_project, run_chs

FILES = {
    "data/accounts.csv": "account_id,account_name,owner,tier\nA1,Alpha,x@y,gold\nA2,Beta,x@y,silver\n",
    "data/usage.csv": "account_id,ts,event\nA1,2024-06-01,login\nA2,2024-06-02,view\n",
    "data/tickets.csv": "org,created,note\nA1,2024-06-01,slow\nA2,2024-06-03,ok\n",
}


def _line(cfg: Path, needle: str) -> int:
    return next(i for i, t in enumerate(cfg.read_text().splitlines(), 1) if needle in t)


def _five_problems(tmp_path: Path) -> Path:
    cfg = base_config(
        sources={
            "usage": {"path": "data/usage.csv", "account": "account_id", "time": "ts"},
            "tickets": {"path": "data/tickets.csv", "account": "org_id", "time": "created"},  # 1: no org_id
            "nps": {"path": "data/nps.csv", "account": "account_id", "time": "at"},  # 2: no file
        },
        variables={
            "events": {"source": "usage", "agg": "count", "where": "no_such_column = 1"},  # 3: does not bind
            "spend": {"source": "usage", "agg": "sum", "column": "event"},  # 4: text summed
            "tickets": {"source": "tickets", "agg": "count"},
            "nps": {"source": "nps", "agg": "nps", "column": "score"},
            "per_event": {"expr": "spend / nullif(events, 0)"},
        },
        tree={"g": group(1, {"events": leaf("events"), "spend": leaf("spend"), "tickets": leaf("tickets"),
                             "nps": leaf("nps"), "per_event": leaf("per_event")})},
        segments={"big": {"when": "tier", "weights": {"g.events": 2}}},  # 5: not a condition
    )
    return make_project(tmp_path, cfg, FILES)


def test_five_independent_problems_are_all_printed_with_lines(tmp_path: Path) -> None:
    cfg = _five_problems(tmp_path)
    proc = run_chs(cfg, "validate")
    assert proc.returncode == 78, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 5, proc.stderr
    expected = [
        (f"chs.yaml:{_line(cfg, 'tickets:')}: sources.tickets: data/tickets.csv: column 'org_id' not found", ""),
        (f"chs.yaml:{_line(cfg, 'nps:')}: sources.nps: data/nps.csv: no such file", ""),
        (f"chs.yaml:{_line(cfg, 'where: no_such_column')}: variables.events.where:", "no_such_column"),
        (f"chs.yaml:{_line(cfg, '  spend:')}: variables.spend: data/usage.csv: column 'event' is VARCHAR", ""),
        (f"chs.yaml:{_line(cfg, 'when: tier')}: segments.big.when: must be a condition (BOOLEAN), got VARCHAR", ""),
    ]
    for start, also in expected:
        assert any(start in e and also in e for e in errors), (start, proc.stderr)


def test_validate_json_lists_every_problem(tmp_path: Path) -> None:
    cfg = _five_problems(tmp_path)
    proc = run_chs(cfg, "validate", "--json")
    assert proc.returncode == 78
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and len(doc["problems"]) == 5


def test_only_data_problems_exit_65_missing_file_66(tmp_path: Path) -> None:
    cfg = _five_problems(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    data["variables"]["events"].pop("where")
    data["segments"]["big"]["when"] = "tier = 'gold'"
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = run_chs(cfg, "validate")
    assert proc.returncode == 66, proc.stderr  # a missing file outranks bad data
    assert proc.stderr.count("error: ") == 3
    (tmp_path / "data" / "nps.csv").write_text("account_id,at,score\nA1,2024-06-01,9\n")
    proc = run_chs(cfg, "validate")
    assert proc.returncode == 65, proc.stderr
    assert proc.stderr.count("error: ") == 2


def test_score_still_stops_at_the_first_problem(tmp_path: Path) -> None:
    cfg = _five_problems(tmp_path)
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode != 0
    assert proc.stderr.count("error: ") == 1


def test_every_failing_derived_variable_is_reported(tmp_path: Path) -> None:
    cfg = base_config(
        sources={"usage": {"path": "data/usage.csv", "account": "account_id", "time": "ts"}},
        variables={"events": {"source": "usage", "agg": "count"},
                   "a": {"expr": "no_such_fn(events)"},
                   "b": {"expr": "events + no_such_var"},
                   "c": {"expr": "events * 2"}},
        tree={"g": group(1, {"a": leaf("a"), "b": leaf("b"), "c": leaf("c")})},
    )
    path = make_project(tmp_path, cfg, FILES)
    proc = run_chs(path, "validate")
    assert proc.returncode == 78, proc.stderr
    assert f"chs.yaml:{_line(path, 'no_such_fn')}: variables.a.expr:" in proc.stderr
    assert f"chs.yaml:{_line(path, 'no_such_var')}: variables.b.expr:" in proc.stderr
    assert proc.stderr.count("error: ") == 2
