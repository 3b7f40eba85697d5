"""Contract tests of the v1.1 variables and sources (DESIGN 6.1) and month steps (DESIGN 6),
black box through `python -m chs` in subprocesses. Hand arithmetic in the comments.

- `agg: days_until`: days from as_of to the earliest date on or after as_of among the rows
  visible at as_of; NULL (missing) when there is none.
- `valid: {from, to}`: a row is visible at D when from <= D < to (open end when to is NULL).
- A DATE variable under a numeric scale is a config error naming the variable and the line.
- `--every 1m` steps by calendar months, clamped to the month's end, counted from `--from`.
- `accounts.revenue` with `revenue_unit`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.contract.conftest import (
    AS_OF,
    approx,
    base_config,
    group,
    leaf,
    leaves_tree,
    make_project,
    project_and_score,
    run_chs,
)

ACCOUNTS = """
    account_id,account_name,owner
    C1,c1,o@x.com
    C2,c2,o@x.com
    C3,c3,o@x.com
    C4,c4,o@x.com
"""


# ------------------------------------------------------------------ days_until
def days_until_project(tmp_path: Path, as_of: str = AS_OF):
    cfg = base_config(
        sources={"contracts": {"path": "data/contracts.csv", "account": "account_id", "time": "signed_at"}},
        variables={"renewal": {"source": "contracts", "agg": "days_until", "column": "contract_end"}},
        tree=leaves_tree("renewal"),
    )
    return project_and_score(tmp_path, cfg, {
        "data/accounts.csv": ACCOUNTS,
        # D = 2024-06-30
        "data/contracts.csv": """
            account_id,signed_at,contract_end
            C1,2023-01-01,2024-03-31
            C1,2023-06-01,2024-09-30
            C1,2024-01-01,2024-08-15
            C1,2024-07-05,2024-07-10
            C2,2024-01-01,2024-06-30
            C2,2024-02-01,2025-01-01
            C3,2023-01-01,2024-06-29
        """,
    }, as_of)


def test_days_until_earliest_future_end_among_visible_rows(tmp_path: Path) -> None:
    run = days_until_project(tmp_path)
    # C1: 2024-03-31 is past (left out); 2024-09-30 and 2024-08-15 are ahead; the row signed
    #     2024-07-05 (end 07-10, 10 days) is after D and invisible.
    #     earliest = 2024-08-15: 1 (rest of June) + 31 (July) + 14 = 46 days
    assert run.raw("C1", "renewal") == approx(46)
    assert run.sub("C1", "renewal") == approx(46)  # identity scale
    assert run.row("C1")["score"] == approx(46)
    # C2: an end on D itself counts (on or after as_of): 0 days
    assert run.raw("C2", "renewal") == approx(0)
    # C3: only a past end (the day before D) -> NULL, missing; C4: no rows at all -> NULL
    for acc in ("C3", "C4"):
        d = run.drv(acc, "renewal")
        assert d["raw_value"] is None and d["missing"] is True
        assert run.row(acc)["score"] is None and run.row(acc)["band"] == "unknown"


def test_days_until_moves_with_as_of(tmp_path: Path) -> None:
    # D = 2024-07-06: the row signed 2024-07-05 is now visible; its end 2024-07-10 is 4 days ahead
    run = days_until_project(tmp_path, "2024-07-06")
    assert run.raw("C1", "renewal") == approx(4)
    # C2: 2024-06-30 is past now; next end 2025-01-01 = 25 (rest of July) + 31 + 30 + 31 + 30 + 31 + 1
    #     = 179 days
    assert run.raw("C2", "renewal") == approx(179)


# ------------------------------------------------------------------ valid: {from, to}
def valid_project(tmp_path: Path, as_of: str = AS_OF):
    cfg = base_config(
        sources={"subs": {"path": "data/subs.csv", "account": "account_id",
                          "valid": {"from": "start_date", "to": "end_date"}}},
        variables={"seats": {"source": "subs", "agg": "sum", "column": "seats"},
                   "subs": {"source": "subs", "agg": "count"}},
        tree=leaves_tree("seats", "subs", scale={"thresholds": [[0, 0], [10000, 100]]}),
    )
    return project_and_score(tmp_path, cfg, {
        "data/accounts.csv": ACCOUNTS,
        # seats are powers of ten, so the sum shows exactly which rows were visible on D
        "data/subs.csv": """
            account_id,start_date,end_date,seats
            C1,2024-06-30,,1
            C1,2024-01-01,2024-06-30,10
            C1,2024-01-01,2024-07-01,100
            C1,2024-07-01,,1000
            C2,2023-01-01,2024-01-01,5
            C3,2024-06-29,2024-07-01,7
        """,
    }, as_of)


def test_valid_rows_are_those_holding_on_d(tmp_path: Path) -> None:
    run = valid_project(tmp_path)  # D = 2024-06-30
    # C1: from == D, open end -> in (1); to == D -> out (10); to = D+1 -> in (100);
    #     from = D+1 -> out (1000).  sum = 1 + 100 = 101, count = 2
    assert run.raw("C1", "seats") == approx(101)
    assert run.raw("C1", "subs") == approx(2)
    # C2: ended long before D -> no visible row: sum 0, count 0 (not NULL)
    assert run.raw("C2", "seats") == approx(0)
    assert run.raw("C2", "subs") == approx(0)
    # C3: 06-29 <= D < 07-01 -> 7
    assert run.raw("C3", "seats") == approx(7)
    # C4: no rows at all
    assert run.raw("C4", "seats") == approx(0)


def test_valid_rows_on_a_later_day(tmp_path: Path) -> None:
    run = valid_project(tmp_path, "2024-07-01")
    # C1 on 07-01: open-ended 1 (in), 10 (out), 100 (to == D: out), 1000 (from == D: in) -> 1001
    assert run.raw("C1", "seats") == approx(1001)
    # C3: to == D -> out
    assert run.raw("C3", "seats") == approx(0)


# ------------------------------------------------------------------ DATE under a numeric scale
def test_date_variable_under_thresholds_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    cfg = base_config(
        variables={"size": {"source": "accounts", "column": "size"},
                   "contract_end": {"source": "accounts", "column": "contract_end"}},
        tree={"g": group(1, {"size": leaf("size"), "end": leaf("contract_end")})},
    )
    path = make_project(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,size,contract_end
        C1,c1,o@x.com,10,2024-09-30
        C2,c2,o@x.com,20,2025-01-31
    """})
    # the line of the leaf's `variable:` key: the only `variable: contract_end` in the YAML
    lines = path.read_text().splitlines()
    hits = [i + 1 for i, text in enumerate(lines) if text.strip() == "variable: contract_end"]
    assert len(hits) == 1
    line = hits[0]
    for command in (["validate"], ["score", "--as-of", AS_OF]):
        proc = run_chs(path, *command)
        assert proc.returncode == 78, (command, proc.stdout, proc.stderr)
        assert f"chs.yaml:{line}:" in proc.stderr, proc.stderr
        assert "contract_end" in proc.stderr
        assert "score.tree.g.children.end.variable" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_same_date_through_days_until_is_fine(tmp_path: Path) -> None:
    # the fix the error message proposes: `agg: days_until` over the accounts column
    cfg = base_config(
        variables={"renewal": {"source": "accounts", "agg": "days_until", "column": "contract_end"}},
        tree=leaves_tree("renewal"),
    )
    run = project_and_score(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,contract_end
        C1,c1,o@x.com,2024-09-30
        C2,c2,o@x.com,2024-06-01
    """})
    # C1: 2024-06-30 -> 2024-09-30 = 31 + 31 + 30 = 92 days; C2: past -> missing
    assert run.raw("C1", "renewal") == approx(92)
    assert run.raw("C2", "renewal") is None


# ------------------------------------------------------------------ month steps
def test_month_steps_clamp_to_month_end_without_drifting(tmp_path: Path) -> None:
    cfg = base_config(variables={"size": {"source": "accounts", "column": "size"}}, tree=leaves_tree("size"))
    path = make_project(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,size
        C1,c1,o@x.com,10
    """})
    proc = run_chs(path, "score", "--from", "2024-01-31", "--to", "2024-05-31", "--every", "1m")
    assert proc.returncode == 0, proc.stderr
    # counted from 01-31 each time (not 01-31 -> 02-29 -> 03-29): clamped to short months only
    expected = ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]
    printed = [line.split(":")[0] for line in proc.stdout.splitlines() if "accounts scored" in line]
    assert printed == expected
    with duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True) as con:
        stored = [r[0] for r in con.execute(
            "SELECT DISTINCT CAST(as_of AS VARCHAR) FROM scores ORDER BY 1").fetchall()]
    assert stored == expected


def test_two_month_steps(tmp_path: Path) -> None:
    cfg = base_config(variables={"size": {"source": "accounts", "column": "size"}}, tree=leaves_tree("size"))
    path = make_project(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,size
        C1,c1,o@x.com,10
    """})
    # 2023-12-31 + 2m = 2024-02-29 (leap year, clamped), + 4m = 2024-04-30, + 6m = 2024-06-30
    proc = run_chs(path, "score", "--from", "2023-12-31", "--to", "2024-06-30", "--every", "2m")
    assert proc.returncode == 0, proc.stderr
    printed = [line.split(":")[0] for line in proc.stdout.splitlines() if "accounts scored" in line]
    assert printed == ["2023-12-31", "2024-02-29", "2024-04-30", "2024-06-30"]


# ------------------------------------------------------------------ accounts.revenue
@pytest.mark.parametrize("unit", ["year", "month"])
def test_accounts_revenue_with_unit_is_accepted(tmp_path: Path, unit: str) -> None:
    cfg = base_config(
        variables={"size": {"source": "accounts", "column": "size"}},
        tree=leaves_tree("size"),
        accounts={"revenue": "mrr", "revenue_unit": unit},
    )
    path = make_project(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,size,mrr
        C1,c1,o@x.com,10,1200
        C2,c2,o@x.com,20,2400
    """})
    proc = run_chs(path, "validate")
    assert proc.returncode == 0, proc.stderr
    proc = run_chs(path, "score", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr


def test_accounts_revenue_unit_other_than_month_or_year_is_a_config_error(tmp_path: Path) -> None:
    cfg = base_config(
        variables={"size": {"source": "accounts", "column": "size"}},
        tree=leaves_tree("size"),
        accounts={"revenue": "mrr", "revenue_unit": "week"},
    )
    path = make_project(tmp_path, cfg, {"data/accounts.csv": """
        account_id,account_name,owner,size,mrr
        C1,c1,o@x.com,10,1200
    """})
    proc = run_chs(path, "validate")
    assert proc.returncode == 78, proc.stderr
    assert "revenue_unit" in proc.stderr
