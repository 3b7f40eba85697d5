"""DESIGN 2.2: account attributes (`source: accounts` + column/expr), derived `expr` variables,
`as_of` in expr/where, `tenure_days` from `accounts.start`.  D = 2024-06-30.
"""

import pytest

from .conftest import approx, base_config, leaves_tree, project_and_score

ACCOUNTS = """
account_id,account_name,owner,since,mrr,seats,employees,contract_end
A,Alpha,a@x.io,2024-04-01,1000,4,50,2024-09-28
B,Beta,b@x.io,2023-06-30,250.5,0,7,2024-06-30
C,Gamma,c@x.io,2024-06-30,0,10,,2024-07-10
"""

USAGE = """
account_id,event_date,user_id
A,2024-06-01,u1
A,2024-06-10,u2
A,2024-06-20,u3
A,2024-06-25,u3
A,2024-06-26,u1
A,2024-06-30,u1
A,2024-07-01,u9
B,2024-06-15,u1
B,2024-06-25,u2
"""

VARIABLES = {
    "mrr": {"source": "accounts", "column": "mrr"},
    "arr": {"source": "accounts", "expr": "mrr * 12"},
    "days_to_renewal": {"source": "accounts", "expr": "date_diff('day', as_of, contract_end)"},
    "seats_v": {"source": "accounts", "column": "seats"},
    "active": {"source": "usage", "agg": "count_distinct", "column": "user_id", "window": "30d"},
    "seat_use": {"expr": "active / nullif(seats_v, 0)"},
    "double_use": {"expr": "seat_use * 2"},
    "emp_x2": {"expr": "employees * 2"},
    "recent": {"source": "usage", "agg": "count", "where": "date_diff('day', event_date, as_of) < 5"},
}
LEAVES = [*VARIABLES, "tenure_days"]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("attrs")
    cfg = base_config(
        accounts={"start": "since"},
        sources={"usage": {"path": "data/usage.csv", "account": "account_id", "time": "event_date"}},
        variables=VARIABLES,
        tree=leaves_tree(*LEAVES),
    )
    files = {"data/accounts.csv": ACCOUNTS, "data/usage.csv": USAGE}
    return project_and_score(root, cfg, files, "2024-06-30")


def test_attribute_column(res):
    # straight from accounts.mrr
    assert res.raw("A", "mrr") == approx(1000)
    assert res.raw("B", "mrr") == approx(250.5)
    assert res.raw("C", "mrr") == approx(0)


def test_attribute_expr(res):
    # mrr * 12: A 1000*12 = 12000, B 250.5*12 = 3006
    assert res.raw("A", "arr") == approx(12000)
    assert res.raw("B", "arr") == approx(3006)


def test_as_of_in_attribute_expr(res):
    # date_diff('day', 2024-06-30, contract_end):
    # A 2024-09-28: 31 (Jul) + 31 (Aug) + 28 = 90; B 2024-06-30: 0; C 2024-07-10: 10
    assert res.raw("A", "days_to_renewal") == approx(90)
    assert res.raw("B", "days_to_renewal") == approx(0)
    assert res.raw("C", "days_to_renewal") == approx(10)


def test_expr_over_other_variables(res):
    # seat_use = active / nullif(seats_v, 0): A 3 distinct users (u1,u2,u3; u9 invisible) / 4 = 0.75
    assert res.raw("A", "seat_use") == approx(0.75)
    # C: 0 users / 10 seats = 0
    assert res.raw("C", "seat_use") == approx(0)


def test_expr_null_makes_leaf_missing(res):
    # B: 2 / nullif(0, 0) = NULL -> missing
    d = res.drv("B", "seat_use")
    assert d["raw_value"] is None
    assert d["missing"] is True


def test_expr_over_expr_variable(res):
    # double_use = seat_use * 2: A 0.75 * 2 = 1.5
    assert res.raw("A", "double_use") == approx(1.5)


def test_expr_over_account_column(res):
    # employees * 2: A 50*2 = 100, B 7*2 = 14, C empty -> NULL -> missing
    assert res.raw("A", "emp_x2") == approx(100)
    assert res.raw("B", "emp_x2") == approx(14)
    assert res.raw("C", "emp_x2") is None


def test_as_of_in_where(res):
    # date_diff('day', event_date, 2024-06-30) < 5, no window:
    # A: 06-26 (4) and 06-30 (0) in; 06-25 (5) out; 07-01 (-1) would match but is invisible -> 2
    assert res.raw("A", "recent") == approx(2)
    # B: 06-25 (5), 06-15 (15) -> 0
    assert res.raw("B", "recent") == approx(0)


def test_tenure_days_from_accounts_start(res):
    # A since 2024-04-01: 30 (Apr) + 31 (May) + 29 = 90
    assert res.raw("A", "tenure_days") == approx(90)
    # B since 2023-06-30: one year incl. 2024-02-29 = 366
    assert res.raw("B", "tenure_days") == approx(366)
    # C since 2024-06-30 = D -> 0
    assert res.raw("C", "tenure_days") == approx(0)
