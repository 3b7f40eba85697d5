"""DESIGN 2.2 Variables: every `agg`, and the defaults for an account with no rows.

D = 2024-06-30, 30d window = 2024-06-01..2024-06-30, previous 30d window = 2024-05-02..2024-05-31.
Accounts: A (rows), B (one row), C (rows only before the window), D (one non-login row),
E (pct_change with a zero previous sum), Z (no rows at all); X has rows but is not an account.
"""

import pytest

from .conftest import approx, base_config, leaves_tree, project_and_score

ACCOUNTS = """
account_id,account_name,owner
A,Alpha,a@x.io
B,Beta,b@x.io
C,Gamma,c@x.io
D,Delta,d@x.io
E,Echo,e@x.io
Z,Zulu,z@x.io
"""

USAGE = """
account_id,event_date,user_id,event_type,duration
A,2024-05-31,u9,login,1000
A,2024-06-01,u1,login,10
A,2024-06-05,u2,view,20
A,2024-06-10,u1,login,30
A,2024-06-20,u3,view,40
A,2024-06-30,u1,export,100
A,2024-07-01,u8,login,5000
B,2024-06-15,u1,login,7
C,2024-04-01,u5,view,3
D,2024-06-12,u1,view,8
X,2024-06-10,u1,login,5
"""

NPS = """
account_id,responded_at,score
A,2023-07-01,0
A,2023-07-02,10
A,2024-01-10,9
A,2024-03-01,9
A,2024-05-01,8
A,2024-06-30,3
A,2024-07-01,0
B,2024-06-01,6
B,2024-06-02,7
C,2024-06-01,9
C,2024-06-02,9
"""

ACTIVITY = """
account_id,day,amount
A,2024-05-01,100
A,2024-05-02,4
A,2024-05-31,6
A,2024-06-01,5
A,2024-06-15,5
A,2024-06-30,10
A,2024-07-01,100
B,2024-06-10,3
C,2024-05-10,2
C,2024-05-20,2
E,2024-05-10,0
E,2024-06-10,5
"""

W = {"source": "usage", "window": "30d"}
VARIABLES = {
    "n": {**W, "agg": "count"},
    "total": {**W, "agg": "sum", "column": "duration"},
    "total_x2": {**W, "agg": "sum", "expr": "duration * 2"},
    "users": {**W, "agg": "count_distinct", "column": "user_id"},
    "mean": {**W, "agg": "avg", "column": "duration"},
    "lo": {**W, "agg": "min", "column": "duration"},
    "hi": {**W, "agg": "max", "column": "duration"},
    "med": {**W, "agg": "median", "column": "duration"},
    "login_share": {**W, "agg": "share", "where": "event_type = 'login'"},
    "last_dur": {"source": "usage", "agg": "latest", "column": "duration"},
    "since_login": {"source": "usage", "agg": "days_since", "where": "event_type = 'login'"},
    "since_any": {"source": "usage", "agg": "days_since"},
    "nps": {"source": "nps", "agg": "nps", "column": "score", "window": "365d"},
    "pct": {"source": "activity", "agg": "pct_change", "window": "30d"},
    "pct_sum": {"source": "activity", "agg": "pct_change", "of": "sum", "column": "amount", "window": "30d"},
}


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("aggs")
    cfg = base_config(
        sources={
            "usage": {"path": "data/usage.csv", "account": "account_id", "time": "event_date"},
            "nps": {"path": "data/nps.csv", "account": "account_id", "time": "responded_at"},
            "activity": {"path": "data/activity.csv", "account": "account_id", "time": "day"},
        },
        variables=VARIABLES,
        tree=leaves_tree(*VARIABLES),
    )
    files = {
        "data/accounts.csv": ACCOUNTS,
        "data/usage.csv": USAGE,
        "data/nps.csv": NPS,
        "data/activity.csv": ACTIVITY,
    }
    return project_and_score(root, cfg, files, "2024-06-30")


# ---- count / sum / count_distinct -----------------------------------------------------------
def test_count(res):
    # A in window: 06-01, 06-05, 06-10, 06-20, 06-30 = 5 (05-31 out, 07-01 invisible)
    assert res.raw("A", "n") == approx(5)
    assert res.raw("B", "n") == approx(1)


def test_sum_column(res):
    # A: 10 + 20 + 30 + 40 + 100 = 200 (1000 on 05-31 is out, 5000 on 07-01 invisible)
    assert res.raw("A", "total") == approx(200)
    assert res.raw("B", "total") == approx(7)


def test_sum_expr(res):
    # A: 2 * 200 = 400
    assert res.raw("A", "total_x2") == approx(400)


def test_count_distinct(res):
    # A in window: users {u1, u2, u3} = 3 (u9 out of window, u8 invisible)
    assert res.raw("A", "users") == approx(3)
    assert res.raw("B", "users") == approx(1)


# ---- avg / min / max / median -----------------------------------------------------------------
def test_avg(res):
    # A: 200 / 5 = 40
    assert res.raw("A", "mean") == approx(40)


def test_min_max(res):
    # A in window durations: 10, 20, 30, 40, 100
    assert res.raw("A", "lo") == approx(10)
    assert res.raw("A", "hi") == approx(100)


def test_median(res):
    # sorted 10, 20, 30, 40, 100 -> middle = 30; B single value 7
    assert res.raw("A", "med") == approx(30)
    assert res.raw("B", "med") == approx(7)


# ---- share ------------------------------------------------------------------------------------
def test_share_is_fraction_of_window_rows_matching_where(res):
    # A: logins in window 06-01, 06-10 = 2 of 5 rows -> 0.4 (05-31 and 07-01 logins not in window)
    assert res.raw("A", "login_share") == approx(0.4)
    # B: 1 of 1 -> 1.0
    assert res.raw("B", "login_share") == approx(1.0)


def test_share_is_zero_when_no_row_matches(res):
    # D: 1 row in window (view), 0 logins -> 0 / 1 = 0.0 (not NULL)
    assert res.raw("D", "login_share") == approx(0.0)
    assert res.drv("D", "login_share")["missing"] is False


def test_share_with_no_rows_in_window_is_null(res):
    # C has rows, but none in the window -> no rows -> NULL -> leaf missing
    d = res.drv("C", "login_share")
    assert d["raw_value"] is None
    assert d["missing"] is True


# ---- latest / days_since ----------------------------------------------------------------------
def test_latest_is_latest_visible_row(res):
    # A: latest visible row is 2024-06-30 (duration 100); 2024-07-01 (5000) is invisible
    assert res.raw("A", "last_dur") == approx(100)
    # C: only row 2024-04-01 (3); latest has no window
    assert res.raw("C", "last_dur") == approx(3)


def test_days_since_with_where(res):
    # A: latest visible login 2024-06-10 (07-01 login invisible) -> 06-30 - 06-10 = 20 days
    assert res.raw("A", "since_login") == approx(20)
    # B: login 2024-06-15 -> 15 days
    assert res.raw("B", "since_login") == approx(15)


def test_days_since_without_matching_row_is_null(res):
    # C has no login row -> NULL
    assert res.raw("C", "since_login") is None
    assert res.drv("C", "since_login")["missing"] is True


def test_days_since_without_where(res):
    # A: latest visible row 2024-06-30 -> 0; C: 2024-04-01 -> 30 (Apr) + 31 (May) + 29 = 90
    assert res.raw("A", "since_any") == approx(0)
    assert res.raw("C", "since_any") == approx(90)


# ---- nps --------------------------------------------------------------------------------------
def test_nps_promoters_9_and_up_detractors_6_and_below(res):
    # A in 365d (2023-07-02..2024-06-30): 10, 9, 9, 8, 3 (2023-07-01 = D-365 out, 2024-07-01 invisible)
    # promoters {10, 9, 9} = 3, detractors {3} = 1, n = 5 -> 100 * (3 - 1) / 5 = 40
    assert res.raw("A", "nps") == approx(40)
    # B: 6 (detractor), 7 (passive) -> 100 * (0 - 1) / 2 = -50
    assert res.raw("B", "nps") == approx(-50)
    # C: 9, 9 -> 100 * (2 - 0) / 2 = 100
    assert res.raw("C", "nps") == approx(100)


# ---- pct_change -------------------------------------------------------------------------------
def test_pct_change_counts_rows(res):
    # A current (06-01..06-30): 06-01, 06-15, 06-30 = 3 rows
    #   previous (05-02..05-31): 05-02, 05-31 = 2 rows (05-01 = D-60 out, 07-01 invisible)
    #   (3 - 2) / 2 = 0.5
    assert res.raw("A", "pct") == approx(0.5)
    # C current 0 rows, previous 2 rows -> (0 - 2) / 2 = -1.0
    assert res.raw("C", "pct") == approx(-1.0)


def test_pct_change_of_sum(res):
    # A current sum 5 + 5 + 10 = 20; previous 4 + 6 = 10 -> (20 - 10) / 10 = 1.0
    assert res.raw("A", "pct_sum") == approx(1.0)
    # C current 0, previous 2 + 2 = 4 -> (0 - 4) / 4 = -1.0
    assert res.raw("C", "pct_sum") == approx(-1.0)


def test_pct_change_empty_previous_window_is_null_and_missing(res):
    # B: current 1 row, previous 0 rows -> prev = 0 -> NULL -> leaf missing
    for var in ("pct", "pct_sum"):
        d = res.drv("B", var)
        assert d["raw_value"] is None
        assert d["missing"] is True


def test_pct_change_of_sum_with_zero_previous_sum_is_null(res):
    # E: previous window 05-10 amount 0 -> prev sum 0 -> NULL ; current 06-10 amount 5
    assert res.raw("E", "pct_sum") is None
    assert res.drv("E", "pct_sum")["missing"] is True
    # row counts: current 1, previous 1 -> (1 - 1) / 1 = 0.0 (present, not NULL)
    assert res.raw("E", "pct") == approx(0.0)


def test_rows_of_unknown_accounts_are_ignored(res):
    # X has usage rows but is not in accounts.csv: one scores row per listed account only
    assert sorted(res.scores["account_id"].to_list()) == ["A", "B", "C", "D", "E", "Z"]


# ---- no rows at all ---------------------------------------------------------------------------
@pytest.mark.parametrize("var", ["n", "total", "total_x2", "users"])
def test_no_rows_defaults_to_zero_for_count_sum_count_distinct(res, var):
    # Z has no usage rows: count / sum / count_distinct -> 0, and the leaf is present
    d = res.drv("Z", var)
    assert d["raw_value"] == approx(0)
    assert d["missing"] is False
    # identity scale: x = 0 -> s = 0
    assert d["sub_score"] == approx(0)


@pytest.mark.parametrize(
    "var",
    ["mean", "lo", "hi", "med", "login_share", "last_dur", "since_login", "since_any", "nps", "pct", "pct_sum"],
)
def test_no_rows_defaults_to_null_for_other_aggs(res, var):
    # Z has no rows in any source -> NULL -> leaf missing
    d = res.drv("Z", var)
    assert d["raw_value"] is None
    assert d["missing"] is True


def test_no_rows_in_window_defaults_for_c(res):
    # C has a usage row only on 2024-04-01, outside the 30d window
    assert res.raw("C", "n") == approx(0)  # count -> 0
    assert res.raw("C", "total") == approx(0)  # sum -> 0
    assert res.raw("C", "users") == approx(0)  # count_distinct -> 0
    assert res.raw("C", "mean") is None  # avg -> NULL


def test_latest_with_window_and_no_row_in_window_is_null(tmp_path):
    from .conftest import make_project, score

    cfg = base_config(
        sources={"usage": {"path": "data/usage.csv", "account": "account_id", "time": "event_date"}},
        variables={"last30": {"source": "usage", "agg": "latest", "column": "duration", "window": "30d"}},
        tree=leaves_tree("last30"),
    )
    res = score(make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, "data/usage.csv": USAGE}))
    # A: latest row in 06-01..06-30 is 06-30 (100) ; C: only 04-01 -> nothing in window -> NULL
    assert res.raw("A", "last30") == approx(100)
    assert res.raw("C", "last30") is None
