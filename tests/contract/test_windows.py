"""DESIGN 2.1 Time: windows `D-N < date(time) <= D`, `Nw` = 7N days, no look-ahead.

D = 2024-06-30.  D-30 = 2024-05-31, D-29 = 2024-06-01, D-14 = 2024-06-16, D-13 = 2024-06-17,
D-7 = 2024-06-23, D-6 = 2024-06-24, D+1 = 2024-07-01.
Each edge row carries a `tag`; a `count ... where tag = '<edge>'` variable isolates it, so the
count is 1 when that row is inside the window and 0 when it is outside.
"""

import pytest

from .conftest import approx, base_config, leaves_tree, project_and_score

USAGE = """
account_id,event_date,tag
A,2024-01-01,old
A,2024-05-31,d_minus_30
A,2024-06-01,d_minus_29
A,2024-06-16,d_minus_14
A,2024-06-17,d_minus_13
A,2024-06-23,d_minus_7
A,2024-06-24,d_minus_6
A,2024-06-30,d
A,2024-07-01,d_plus_1
A,2024-12-31,far_future
B,2024-07-01,d_plus_1
"""

EVENTS = """
account_id,event_ts,tag
A,2024-05-31 23:59:59,d_minus_30_late
A,2024-06-01 00:00:00,d_minus_29_midnight
A,2024-06-30 23:59:00,d_late
A,2024-07-01 00:00:00,d_plus_1_midnight
B,2024-06-30 23:59:59,d_late
B,2024-07-01 00:00:01,d_plus_1_midnight
"""

ACCOUNTS = """
account_id,account_name,owner
A,Alpha,a@x.io
B,Beta,b@x.io
"""


def _tag(src, tag, window=None):
    v = {"source": src, "agg": "count", "where": f"tag = '{tag}'"}
    if window:
        v["window"] = window
    return v


VARIABLES = {
    # 30d window, date column
    "w30_d_minus_30": _tag("usage", "d_minus_30", "30d"),
    "w30_d_minus_29": _tag("usage", "d_minus_29", "30d"),
    "w30_d": _tag("usage", "d", "30d"),
    "w30_d_plus_1": _tag("usage", "d_plus_1", "30d"),
    # no window: all visible rows
    "all_d_plus_1": _tag("usage", "d_plus_1"),
    "all_far_future": _tag("usage", "far_future"),
    "all_old": _tag("usage", "old"),
    # weeks
    "w2w_d_minus_14": _tag("usage", "d_minus_14", "2w"),
    "w2w_d_minus_13": _tag("usage", "d_minus_13", "2w"),
    "w1w_d_minus_7": _tag("usage", "d_minus_7", "1w"),
    "w1w_d_minus_6": _tag("usage", "d_minus_6", "1w"),
    # totals
    "n30": {"source": "usage", "agg": "count", "window": "30d"},
    "n2w": {"source": "usage", "agg": "count", "window": "2w"},
    "n1w": {"source": "usage", "agg": "count", "window": "1w"},
    "n_all": {"source": "usage", "agg": "count"},
    # timestamp column
    "ts30_d_minus_30_late": _tag("events", "d_minus_30_late", "30d"),
    "ts30_d_minus_29_midnight": _tag("events", "d_minus_29_midnight", "30d"),
    "ts30_d_late": _tag("events", "d_late", "30d"),
    "ts_all_d_plus_1_midnight": _tag("events", "d_plus_1_midnight"),
    "ts_all_d_minus_30_late": _tag("events", "d_minus_30_late"),
    "ts30": {"source": "events", "agg": "count", "window": "30d"},
    "ts_all": {"source": "events", "agg": "count"},
}


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("windows")
    cfg = base_config(
        sources={
            "usage": {"path": "data/usage.csv", "account": "account_id", "time": "event_date"},
            "events": {"path": "data/events.csv", "account": "account_id", "time": "event_ts"},
        },
        variables=VARIABLES,
        tree=leaves_tree(*VARIABLES),
    )
    files = {"data/accounts.csv": ACCOUNTS, "data/usage.csv": USAGE, "data/events.csv": EVENTS}
    return project_and_score(root, cfg, files, "2024-06-30")


def test_row_dated_d_minus_30_is_outside_30d_window(res):
    # 2024-05-31 = D-30; window is D-30 < date <= D -> excluded
    assert res.raw("A", "w30_d_minus_30") == approx(0)


def test_row_dated_d_minus_29_is_inside_30d_window(res):
    # 2024-06-01 = D-29 > D-30 -> included
    assert res.raw("A", "w30_d_minus_29") == approx(1)


def test_row_dated_d_is_inside_window(res):
    # 2024-06-30 = D <= D -> included
    assert res.raw("A", "w30_d") == approx(1)


def test_row_dated_d_plus_1_is_invisible_in_window(res):
    # 2024-07-01 > D -> not visible (no look-ahead)
    assert res.raw("A", "w30_d_plus_1") == approx(0)


def test_row_dated_d_plus_1_is_invisible_without_window(res):
    # no window = all visible rows; 2024-07-01 > D is not visible
    assert res.raw("A", "all_d_plus_1") == approx(0)
    assert res.raw("B", "all_d_plus_1") == approx(0)


def test_far_future_row_is_invisible_without_window(res):
    # 2024-12-31 > D
    assert res.raw("A", "all_far_future") == approx(0)


def test_old_row_is_visible_without_window(res):
    # 2024-01-01 <= D, no window -> counted
    assert res.raw("A", "all_old") == approx(1)


def test_2w_window_is_14_days(res):
    # 2w = 14d: D-14 = 2024-06-16 out, D-13 = 2024-06-17 in
    assert res.raw("A", "w2w_d_minus_14") == approx(0)
    assert res.raw("A", "w2w_d_minus_13") == approx(1)


def test_1w_window_is_7_days(res):
    # 1w = 7d: D-7 = 2024-06-23 out, D-6 = 2024-06-24 in
    assert res.raw("A", "w1w_d_minus_7") == approx(0)
    assert res.raw("A", "w1w_d_minus_6") == approx(1)


def test_window_totals(res):
    # 30d (06-01..06-30): 06-01, 06-16, 06-17, 06-23, 06-24, 06-30 = 6
    assert res.raw("A", "n30") == approx(6)
    # 2w (06-17..06-30): 06-17, 06-23, 06-24, 06-30 = 4
    assert res.raw("A", "n2w") == approx(4)
    # 1w (06-24..06-30): 06-24, 06-30 = 2
    assert res.raw("A", "n1w") == approx(2)
    # all visible (<= 06-30): 01-01, 05-31, 06-01, 06-16, 06-17, 06-23, 06-24, 06-30 = 8
    assert res.raw("A", "n_all") == approx(8)


def test_account_with_only_future_rows_counts_zero(res):
    # B's only usage row is 2024-07-01 > D -> invisible -> count of no rows = 0
    assert res.raw("B", "n_all") == approx(0)
    assert res.raw("B", "n30") == approx(0)


def test_timestamp_late_on_d_is_inside(res):
    # 2024-06-30 23:59:00 -> date = D -> in
    assert res.raw("A", "ts30_d_late") == approx(1)


def test_timestamp_midnight_d_plus_1_is_invisible(res):
    # 2024-07-01 00:00:00 -> date = D+1 -> not visible even without window
    assert res.raw("A", "ts_all_d_plus_1_midnight") == approx(0)


def test_timestamp_late_on_d_minus_30_is_outside_30d_but_visible(res):
    # 2024-05-31 23:59:59 -> date = D-30 -> out of 30d window, but visible (no window)
    assert res.raw("A", "ts30_d_minus_30_late") == approx(0)
    assert res.raw("A", "ts_all_d_minus_30_late") == approx(1)


def test_timestamp_midnight_d_minus_29_is_inside(res):
    # 2024-06-01 00:00:00 -> date = D-29 -> in
    assert res.raw("A", "ts30_d_minus_29_midnight") == approx(1)


def test_timestamp_totals(res):
    # A: 30d = {06-01 00:00, 06-30 23:59} = 2; visible = those + 05-31 23:59:59 = 3
    assert res.raw("A", "ts30") == approx(2)
    assert res.raw("A", "ts_all") == approx(3)
    # B: 06-30 23:59:59 in; 07-01 00:00:01 invisible -> 1 and 1
    assert res.raw("B", "ts30") == approx(1)
    assert res.raw("B", "ts_all") == approx(1)
