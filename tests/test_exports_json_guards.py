"""JSON/JSONL sources (dotted paths, time_unit, gz) and the guard rails against silently wrong
numbers: ambiguous dates and account keys that match no account (issue 12, DESIGN 6.2)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.contract.conftest import base_config, leaves_tree, make_project, run_chs, score

ACCOUNTS = "account_id,account_name,owner,crm_id\nA1,Alpha,x@y,900001\nA2,Beta,x@y,900002\n"


def _cfg(tmp_path: Path, source: dict, variables: dict, files: dict[str, str] | None = None) -> Path:
    cfg = base_config(sources={"s": source}, variables=variables, tree=leaves_tree(*variables))
    return make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, **(files or {})})


def test_ndjson_gz_with_dotted_paths_and_epoch_milliseconds(tmp_path: Path) -> None:
    events = [
        {"ts": 1719000000000, "org": {"id": "A1"}, "properties": {"plan": "pro", "seats": 3}},
        {"ts": 1719100000000, "org": {"id": "A1"}, "properties": {"plan": "pro", "seats": 5}},
        {"ts": 1719200000000, "org": {"id": "A2"}, "properties": {"plan": "basic", "seats": 2}},
        {"ts": 1720000000000, "org": {"id": "A2"}, "properties": {"plan": "pro", "seats": 9}},  # 2024-07-03
    ]
    (tmp_path / "data").mkdir(parents=True)
    with gzip.open(tmp_path / "data" / "events.ndjson.gz", "wt") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    cfg = _cfg(tmp_path, {"path": "data/events.ndjson.gz", "account": "org.id", "time": "ts", "time_unit": "ms",
                          "columns": {"properties.seats": "seats"}},
               {"seats": {"source": "s", "agg": "max", "column": "seats", "window": "30d"},
                "pro": {"source": "s", "agg": "count", "where": "properties.plan = 'pro'", "window": "30d"},
                "pro_quoted": {"source": "s", "agg": "count", "where": "\"properties.plan\" = 'pro'"}})
    run = score(cfg)
    assert run.raw("A1", "seats") == 5 and run.raw("A1", "pro") == 2
    assert run.raw("A2", "seats") == 2 and run.raw("A2", "pro") == 0 and run.raw("A2", "pro_quoted") == 0


def test_json_declared_type_rejects_only_the_bad_row(tmp_path: Path) -> None:
    rows = [{"account_id": "A1", "csat": "4"}, {"account_id": "A1", "csat": "2"},
            {"account_id": "A1", "csat": "n/a"}, {"account_id": "A2", "csat": 5}]
    cfg = _cfg(tmp_path, {"path": "data/s.json", "account": "account_id", "types": {"csat": "DOUBLE"}},
               {"csat": {"source": "s", "agg": "avg", "column": "csat"}},
               {"data/s.json": json.dumps(rows)})
    run = score(cfg)
    assert run.raw("A1", "csat") == 3.0 and run.raw("A2", "csat") == 5.0
    src = run.run["sources"]["s"]
    assert src["rejected"] == 1 and "n/a" in src["reject_samples"][0]


def test_ambiguous_dates_warn_naming_the_column(tmp_path: Path) -> None:
    rows = "account_id,paid_on\nA1,01/02/2024\nA1,03/04/2024\nA2,11/12/2024\n"
    cfg = _cfg(tmp_path / "p1", {"path": "data/s.csv", "account": "account_id", "time": "paid_on"},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": rows})
    run = score(cfg, as_of="2024-12-31")
    assert "column 'paid_on': every date could be day-first or month-first" in run.proc.stderr
    assert "csv.date_format" in run.proc.stderr
    assert any("paid_on" in w for w in run.run["sources"]["s"]["warnings"])
    # A day above 12 settles it; a date_format says it: no warning.
    cfg = _cfg(tmp_path / "p2", {"path": "data/s.csv", "account": "account_id", "time": "paid_on"},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": rows + "A2,25/12/2024\n"})
    assert "day-first or month-first" not in score(cfg, as_of="2024-12-31").proc.stderr
    cfg = _cfg(tmp_path / "p3", {"path": "data/s.csv", "account": "account_id", "time": "paid_on",
                          "csv": {"date_format": "%m/%d/%Y"}},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": rows})
    assert "day-first or month-first" not in score(cfg, as_of="2024-12-31").proc.stderr
    # ISO dates are never ambiguous.
    cfg = _cfg(tmp_path / "p4", {"path": "data/s.csv", "account": "account_id", "time": "paid_on"},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": "account_id,paid_on\nA1,2024-01-02\n"})
    assert "day-first or month-first" not in score(cfg, as_of="2024-12-31").proc.stderr


def test_key_matching_few_accounts_warns_with_rate_and_examples(tmp_path: Path) -> None:
    rows = "org_id,n\n900001,1\n900002,1\n900003,1\nA1,1\n"
    cfg = _cfg(tmp_path, {"path": "data/s.csv", "account": "org_id"},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": rows})
    run = score(cfg)
    assert "only 25% of the account keys in column 'org_id' match an account (1 of 4" in run.proc.stderr
    assert "'900001'" in run.proc.stderr and "via" in run.proc.stderr
    assert run.run["sources"]["s"]["unmatched_keys"]["keys"] == 3
    proc = run_chs(cfg, "validate")
    assert proc.returncode == 0 and "only 25% of the account keys" in proc.stderr


def test_via_maps_the_key_and_counts_the_unmatched(tmp_path: Path) -> None:
    rows = "org_id,n\n900001,1\n900001,1\n900002,1\n900003,1\n"
    cfg = _cfg(tmp_path, {"path": "data/s.csv", "account": {"column": "org_id", "via": "crm_id"}},
               {"n": {"source": "s", "agg": "count"}}, {"data/s.csv": rows})
    run = score(cfg)
    assert run.raw("A1", "n") == 2 and run.raw("A2", "n") == 1
    assert run.run["sources"]["s"]["unmatched_keys"] == {"keys": 1, "rows": 1, "samples": ["900003"]}
    assert "1 key(s) in column 'org_id' (mapped via accounts column 'crm_id') match no account" in run.proc.stderr
