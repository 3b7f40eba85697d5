"""`chs actions --sort revenue`: the declared `accounts.revenue`, never a guessed column.

    account  arr (yearly)  monthly (÷ 12)  score (val)   rule `val < 50` fires
    A        120000        10000           40            yes
    B        (none)        -               30            yes
    C        24000         2000            20            yes
    D        60000         5000            45            yes
    E        600000        50000           90            no (not listed)
Due list order: all due the same day, same priority -> by action id (A, B, C, D: id order of
creation, which is by account id). By revenue: A 10000, D 5000, C 2000, then B (none).
"""

from __future__ import annotations

import json

from tests.contract.conftest import base_config, leaf, make_project, run_chs, score

ACCOUNTS = """
account_id,account_name,owner,arr,mrr_guess,val
A,Alpha,a@x.io,120000,1,40
B,Beta,b@x.io,,2,30
C,Gamma,c@x.io,24000,3,20
D,Delta,d@x.io,60000,4,45
E,Echo,e@x.io,600000,5,90
"""
RULES = [{"id": "low", "when": "val < 50", "title": "Call {{ name }}", "due": "7d"}]


def project(tmp_path, **accounts):
    cfg = base_config(accounts=accounts, variables={"val": {"source": "accounts", "column": "val"},
                                                    "mrr_guess": {"source": "accounts", "column": "mrr_guess"}},
                      tree={"val": leaf("val")}, actions=RULES)
    path = make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    score(path, "2024-06-30")
    return path


def test_sort_revenue_uses_declared_column_yearly_divided_by_12(tmp_path):
    cfg = project(tmp_path, revenue="arr", revenue_unit="year")
    due = json.loads(run_chs(cfg, "actions", "--json").stdout)
    assert [r["account_id"] for r in due] == ["A", "B", "C", "D"]
    assert "revenue" not in due[0]
    proc = run_chs(cfg, "actions", "--sort", "revenue", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["account_id"], r["revenue"]) for r in rows] == [("A", 10000.0), ("D", 5000.0), ("C", 2000.0),
                                                               ("B", None)]


def test_sort_revenue_csv_has_a_revenue_column(tmp_path):
    cfg = project(tmp_path, revenue="arr")
    proc = run_chs(cfg, "actions", "--sort", "revenue", "--format", "csv")
    lines = proc.stdout.splitlines()
    assert lines[0].endswith(",status,revenue")
    assert lines[1].startswith("1,low,A,") and lines[1].endswith(",open,120000.0")
    assert lines[-1].startswith("2,low,B,") and lines[-1].endswith(",open,")


def test_sort_revenue_without_declared_revenue_is_a_usage_error_not_a_guess(tmp_path):
    cfg = project(tmp_path)  # a variable `mrr_guess` exists: it must not be picked up
    proc = run_chs(cfg, "actions", "--sort", "revenue")
    assert proc.returncode == 2
    assert "--sort revenue needs revenue: declare `accounts.revenue`" in proc.stderr
    assert proc.stdout == ""


def test_sort_does_not_go_with_closing(tmp_path):
    cfg = project(tmp_path, revenue="arr")
    proc = run_chs(cfg, "actions", "done", "1", "--sort", "revenue")
    assert proc.returncode == 2 and "--sort shape the list" in proc.stderr
