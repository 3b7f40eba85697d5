"""Action lists (DESIGN 2.4, 3): rules fire on the right accounts, de-duplicate across runs,
route to owner/channel columns, close via the CLI, and write safe actions.csv / actions.jsonl.

Each test writes a tiny project: `level` is the latest value of the `signals` export (so a
test controls each account's score per date), `tickets` an account column.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import yaml

D0 = dt.date(2026, 3, 2)

ACCOUNTS = """\
account_id,account_name,csm_email,am_email,preferred_channel,tickets
A,Alpha,csm1@x.com,am1@x.com,email,12
B,Beta,csm2@x.com,am2@x.com,phone,0
C,Gamma,csm1@x.com,am1@x.com,letter,5
"""

RISK = {"id": "risk", "when": "level < 40", "title": "Risk: {{ name }} at {{ level }}",
        "priority": "high", "due": "2d", "cooldown": "14d"}


def signals(levels: dict[str, int], days: list[dt.date] | None = None) -> str:
    """The same level per account on every given day (default: D0 - 1)."""
    lines = ["account_id,day,level"]
    for day in days or [D0 - dt.timedelta(days=1)]:
        lines += [f"{a},{day.isoformat()},{v}" for a, v in levels.items()]
    return "\n".join(lines) + "\n"


def project(root: Path, rules: list[dict], signal_csv: str | None = None, accounts: str = ACCOUNTS,
            **extra: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "accounts.csv").write_text(accounts)
    (root / "data" / "signals.csv").write_text(signal_csv or signals({"A": 20, "B": 80, "C": 30}))
    cfg = {
        "version": 1, "name": "actions-test",
        "storage": {"database": "chs.duckdb", "output_dir": "out"},
        "accounts": {"source": "accounts", "id": "account_id", "name": "account_name", "owner": "csm_email"},
        "sources": {"accounts": {"path": "data/accounts.csv"},
                    "signals": {"path": "data/signals.csv", "account": "account_id", "time": "day"}},
        "variables": {"level": {"source": "signals", "agg": "latest", "column": "level"},
                      "tickets": {"source": "accounts", "column": "tickets"}},
        "score": {"bands": {"green": 70, "yellow": 40, "red": 0}, "tree": {
            "level": {"label": "Health level", "weight": 1, "variable": "level",
                      "scale": {"thresholds": [[0, 0], [100, 100]]}},
            "load": {"label": "Support load", "weight": 1, "variable": "tickets",
                     "scale": {"thresholds": [[0, 100], [10, 0]]}}}},
        "actions": rules,
    }
    cfg.update(extra)
    path = root / "chs.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path


def chs(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("CHS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=str(cfg.parent), check=False)


def score(cfg: Path, as_of: dt.date | str) -> subprocess.CompletedProcess:
    proc = chs(cfg, "score", "--as-of", str(as_of))
    assert proc.returncode == 0, proc.stderr
    return proc


def jsonl(cfg: Path) -> list[dict]:
    text = (cfg.parent / "out" / "actions.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line]


def stored(cfg: Path) -> list[dict]:
    con = duckdb.connect(str(cfg.parent / "chs.duckdb"), read_only=True)
    try:
        cur = con.execute("SELECT * FROM actions ORDER BY action_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def listed(cfg: Path, *args: str) -> list[dict]:
    proc = chs(cfg, "actions", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


# ------------------------------------------------------------------ rules and outputs
def test_rule_fires_on_matching_accounts_with_owner_due_priority_and_reason(tmp_path):
    cfg = project(tmp_path, [RISK])
    proc = score(cfg, D0)
    assert "2 new actions" in proc.stdout
    rows = jsonl(cfg)
    assert [(r["action_id"], r["account_id"]) for r in rows] == [(1, "A"), (2, "C")]
    a = rows[0]
    assert a == {
        "action_id": 1, "rule": "risk", "account_id": "A", "account_name": "Alpha", "owner": "csm1@x.com",
        "priority": "high", "due_date": "2026-03-04", "title": "Risk: Alpha at 20", "detail": None,
        "reason": "Support load 12 (\u221225.0 pts); Health level 20 (\u221215.0 pts)", "channel": None,
    }
    assert rows[1]["reason"] == "Health level 30 (\u221210.0 pts)"  # a zero contribution is no driver
    with open(cfg.parent / "out" / "actions.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["account_id"] for r in table] == ["A", "C"]
    assert list(table[0]) == ["action_id", "rule", "account_id", "account_name", "owner", "priority",
                              "due_date", "title", "detail", "reason", "channel"]
    run = json.loads((cfg.parent / "out" / "run.json").read_text())
    assert run["actions_created"] == 2


def test_rule_sees_builtins_node_scores_previous_band_and_account_columns(tmp_path):
    rule = {"id": "drop", "when": "previous_band = 'green' AND band <> 'green' AND delta < -20 "
                                  "AND score_level < 50 AND preferred_channel = 'email' AND as_of IS NOT NULL",
            "title": "{{ name }}: {{ previous_band }} -> {{ band }} ({{ delta | round(1) }}), tier {{ segment }}",
            "detail": "{{ reason }} | {{ coverage }} | {{ undefined_name.x }}|", "due": "1w"}
    sig = "account_id,day,level\n" + "".join(f"{a},{day(-1)},{v}\n" for a, v in {"A": 100, "B": 100, "C": 100}.items())
    sig += f"A,{day(6)},30\nB,{day(6)},90\n"
    cfg = project(tmp_path, [rule], sig, accounts=ACCOUNTS.replace(",12\n", ",0\n").replace(",5\n", ",0\n"))
    score(cfg, D0)
    assert jsonl(cfg) == []
    score(cfg, day(7))
    (a,) = jsonl(cfg)
    assert a["account_id"] == "A" and a["due_date"] == day(14).isoformat()
    assert a["title"] == "Alpha: green -> yellow (-35), tier"  # NULL segment: empty; text is stripped
    assert a["detail"] == "Health level 30 (\u221210.0 pts) | 1 | |"  # 1.0 prints as 1


def test_next_as_of_within_cooldown_creates_nothing_even_after_closing(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    done = chs(cfg, "actions", "done", "1", "--note", "called them")
    assert done.returncode == 0, done.stderr
    assert "action 1 done" in done.stdout
    proc = score(cfg, day(7))
    assert "0 new actions" in proc.stdout
    assert jsonl(cfg) == []
    assert len(stored(cfg)) == 2


def test_after_cooldown_a_closed_action_is_recreated_but_an_open_one_blocks(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    assert chs(cfg, "actions", "dismiss", "1").returncode == 0  # A closed, C stays open
    score(cfg, day(13))
    assert jsonl(cfg) == []  # day 13 < created (day 0) + 14
    score(cfg, day(14))
    rows = jsonl(cfg)
    assert [(r["action_id"], r["account_id"]) for r in rows] == [(3, "A")]
    score(cfg, day(60))
    assert jsonl(cfg) == []  # both A (#3) and C (#2) are open
    assert {r["account_id"]: r["status"] for r in listed(cfg)} == {"A": "open", "C": "open"}


def test_no_cooldown_recreates_on_next_as_of_once_closed(tmp_path):
    rule = {k: v for k, v in RISK.items() if k != "cooldown"}
    cfg = project(tmp_path, [rule])
    score(cfg, D0)
    score(cfg, day(1))
    assert jsonl(cfg) == []  # still open
    chs(cfg, "actions", "done", "2")
    score(cfg, day(2))
    assert [r["account_id"] for r in jsonl(cfg)] == ["C"]


def test_rescoring_same_as_of_does_not_duplicate_and_keeps_ids_and_state(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    first = jsonl(cfg)
    chs(cfg, "actions", "done", "2", "--note", "ok")
    score(cfg, D0)
    assert jsonl(cfg) == first  # the snapshot's actions, same ids
    rows = stored(cfg)
    assert [(r["action_id"], r["account_id"], r["status"], r["note"]) for r in rows] == [
        (1, "A", "open", None), (2, "C", "done", "ok")]
    # Data fixed for the same as_of: C no longer fires, so its action goes with the replaced snapshot.
    (cfg.parent / "data" / "signals.csv").write_text(signals({"A": 20, "B": 80, "C": 90}))
    score(cfg, D0)
    assert [r["account_id"] for r in stored(cfg)] == ["A"]
    (cfg.parent / "data" / "signals.csv").write_text(signals({"A": 20, "B": 80, "C": 30}))
    score(cfg, D0)
    assert [(r["action_id"], r["account_id"]) for r in stored(cfg)] == [(1, "A"), (3, "C")]  # id 2 not reused


def test_backfill_creates_what_nightly_runs_would(tmp_path):
    levels = ["account_id,day,level"]
    for i in range(-1, 40):  # A alternates weekly 30/70 from day 7 on; B dips from day 21; C always low
        d = day(i)
        levels += [f"A,{d},{70 if i < 7 or (i // 7) % 2 == 0 else 30}", f"B,{d},{80 if i < 21 else 30}", f"C,{d},10"]
    sig = "\n".join(levels) + "\n"
    rules = [RISK,
             {"id": "drop", "when": "delta_7d <= -10", "title": "{{ name }} fell {{ -delta_7d | round }}",
              "due": "3d", "cooldown": "7d"}]
    nightly = project(tmp_path / "nightly", rules, sig)
    backfill = project(tmp_path / "backfill", rules, sig)
    dates = [day(7 * i) for i in range(6)]
    for d in dates:
        score(nightly, d)
    proc = chs(backfill, "score", "--from", str(dates[0]), "--to", str(dates[-1]), "--every", "7d")
    assert proc.returncode == 0, proc.stderr

    def key(rows: list[dict]) -> list[tuple]:
        return sorted((r["rule"], r["account_id"], r["created_as_of"], r["due_date"], r["title"], r["reason"])
                      for r in rows)

    assert key(stored(nightly)) == key(stored(backfill))
    assert [(r["rule"], r["account_id"], (r["created_as_of"] - D0).days) for r in key_rows(stored(backfill))] == [
        ("drop", "A", 7), ("drop", "B", 21), ("risk", "A", 7), ("risk", "B", 21), ("risk", "C", 0)]


def key_rows(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["rule"], r["account_id"], r["created_as_of"]))


# ------------------------------------------------------------------ routing and safety
def test_owner_override_and_channel_columns(tmp_path):
    rule = {**RISK, "owner": "am_email", "channel": "preferred_channel"}
    cfg = project(tmp_path, [rule, {"id": "default-route", "when": "account_id = 'A'", "title": "x"}])
    score(cfg, D0)
    rows = {(r["rule"], r["account_id"]): r for r in jsonl(cfg)}
    assert (rows[("risk", "A")]["owner"], rows[("risk", "A")]["channel"]) == ("am1@x.com", "email")
    assert (rows[("risk", "C")]["owner"], rows[("risk", "C")]["channel"]) == ("am1@x.com", "letter")
    assert (rows[("default-route", "A")]["owner"], rows[("default-route", "A")]["channel"]) == ("csm1@x.com", None)
    assert [r["account_id"] for r in listed(cfg, "--owner", "AM1@x.com")] == ["A", "C"]
    assert [r["rule"] for r in listed(cfg, "--rule", "default-route")] == ["default-route"]


def test_formula_cells_neutralised_in_csv_only(tmp_path):
    accounts = ACCOUNTS.replace("Alpha", "=HYPERLINK(\"http://evil\")").replace("Gamma", "@SUM(1)")
    rule = {**RISK, "title": "-{{ level }} pts", "detail": "+1 {{ name }}", "channel": "preferred_channel"}
    cfg = project(tmp_path, [rule], accounts=accounts.replace(",email,", ",\tx,"))
    score(cfg, D0)
    with open(cfg.parent / "out" / "actions.csv", newline="") as fh:
        a, c = list(csv.DictReader(fh))
    assert a["account_name"] == "'=HYPERLINK(\"http://evil\")"
    assert a["title"] == "'-20 pts" and a["detail"] == "'+1 =HYPERLINK(\"http://evil\")"
    assert a["channel"] == "'\tx"
    assert c["account_name"] == "'@SUM(1)" and c["owner"] == "csm1@x.com" and c["action_id"] == "2"
    raw = jsonl(cfg)
    assert raw[0]["account_name"] == "=HYPERLINK(\"http://evil\")" and raw[0]["title"] == "-20 pts"


def test_templates_are_sandboxed_and_errors_do_not_fail_scoring(tmp_path):
    rules = [{"id": "probe", "when": "account_id = 'A'", "title": "{{ name.__class__.__mro__ }}|{{ name }}"},
             {"id": "broken", "when": "account_id = 'A'", "title": "{{ previous_band + 1 }}",
              "detail": "{{ name.upper() }} {{ ''.__class__.__subclasses__() }}"}]
    cfg = project(tmp_path, rules)
    score(cfg, D0)
    probe, broken = jsonl(cfg)
    assert probe["title"] == "|Alpha"
    assert broken["title"].startswith("broken: Alpha (title template error: ")
    assert broken["detail"].startswith("(detail template error: SecurityError")


def test_bad_rule_is_a_config_error_with_location(tmp_path):
    rules = [RISK, {"id": "bad", "when": "no_such_column > 1", "title": "x", "owner": "nope"}]
    cfg = project(tmp_path, rules)
    proc = chs(cfg, "score", "--as-of", str(D0))
    assert proc.returncode == 78, proc.stderr
    assert "actions.1.when" in proc.stderr and "no_such_column" in proc.stderr
    assert "actions.1.owner: no column 'nope' in the accounts source" in proc.stderr


def test_no_rules_writes_empty_outputs(tmp_path):
    cfg = project(tmp_path, [])
    proc = score(cfg, D0)
    assert "0 new actions" in proc.stdout
    assert (cfg.parent / "out" / "actions.csv").read_text().startswith("action_id,rule,account_id")
    assert (cfg.parent / "out" / "actions.jsonl").read_text() == ""


# ------------------------------------------------------------------ chs actions
def test_actions_cli_lists_closes_and_reports_errors(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    table = chs(cfg, "actions")
    assert table.returncode == 0
    assert "Risk: Alpha at 20" in table.stdout and "Gamma" in table.stdout and "Beta" not in table.stdout
    assert [r["action_id"] for r in listed(cfg)] == [1, 2]

    done = chs(cfg, "actions", "done", "1", "--note", "called, renewal on track")
    assert done.returncode == 0 and "action 1 done" in done.stdout
    again = chs(cfg, "actions", "done", "1")
    assert again.returncode == 0 and "already done" in again.stderr
    other = chs(cfg, "actions", "dismiss", "1")
    assert other.returncode == 2 and "already done" in other.stderr
    missing = chs(cfg, "actions", "done", "99")
    assert missing.returncode == 66 and "action 99 not found" in missing.stderr
    assert chs(cfg, "actions", "close", "1").returncode == 2
    assert chs(cfg, "actions", "done").returncode == 2
    assert chs(cfg, "actions", "--status", "closed").returncode == 2

    (a,) = listed(cfg, "--status", "done")
    assert (a["action_id"], a["note"], a["status"]) == (1, "called, renewal on track", "done")
    assert a["closed_at"] is not None
    assert [r["action_id"] for r in listed(cfg, "--status", "all")] == [1, 2]
    assert [r["action_id"] for r in listed(cfg)] == [2]
    empty = chs(cfg, "actions", "--owner", "nobody@x.com")
    assert empty.returncode == 0 and empty.stdout == "" and "no open actions" in empty.stderr


def test_actions_cli_without_history_is_exit_66(tmp_path):
    cfg = project(tmp_path, [RISK])
    proc = chs(cfg, "actions")
    assert proc.returncode == 66 and "no snapshots stored yet" in proc.stderr


def test_actions_json_is_one_document(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    doc = json.loads(chs(cfg, "actions", "--json").stdout)
    assert isinstance(doc, list) and {"action_id", "reason", "status", "due_date", "channel"} <= set(doc[0])
    closed = json.loads(chs(cfg, "actions", "dismiss", "2", "--json", "--note", "dup").stdout)
    assert closed["status"] == "dismissed" and closed["note"] == "dup"

