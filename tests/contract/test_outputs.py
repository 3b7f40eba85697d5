"""DESIGN 3 Outputs: scores.parquet / scores.csv / drivers.parquet / run.json shape."""

import datetime as dt

import pytest

from .conftest import approx, base_config, group, leaf, project_and_score

ACCOUNTS = """
account_id,account_name,owner,tier,xa,xb,xc
A,Alpha,a@x.io,smb,80,30,
B,Beta,b@x.io,ent,20,,
C,Gamma,c@x.io,ent,,,
"""

SCORES_HEAD = [
    "account_id", "account_name", "owner", "segment", "as_of", "score", "band", "previous_score",
    "delta", "delta_7d", "delta_30d", "coverage", "top_risks", "top_strengths",
]
DRIVER_COLS = [
    "account_id", "node", "variable", "raw_value", "sub_score", "weight", "effective_weight",
    "contribution", "missing",
]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    cfg = base_config(
        accounts={"segment": "tier"},
        variables={v: {"source": "accounts", "column": v} for v in ("xa", "xb", "xc")},
        tree={
            "success": group(1, {"adoption": leaf("xa"), "trend": leaf("xb")}),
            "value": group(1, {"volume": leaf("xc")}),
        },
    )
    return project_and_score(root, cfg, {"data/accounts.csv": ACCOUNTS}, "2024-06-30")


def test_scores_columns_start_with_contract_columns_in_order(res):
    assert res.scores.columns[: len(SCORES_HEAD)] == SCORES_HEAD


def test_scores_has_a_column_per_tree_node(res):
    for c in ("score_success", "score_success_adoption", "score_success_trend", "score_value", "score_value_volume"):
        assert c in res.scores.columns


def test_one_scores_row_per_account(res):
    assert sorted(res.scores["account_id"].to_list()) == ["A", "B", "C"]


def test_account_attributes_in_scores(res):
    a = res.row("A")
    assert a["account_name"] == "Alpha"
    assert a["owner"] == "a@x.io"
    assert a["segment"] == "smb"


def test_as_of_column(res):
    v = res.row("A")["as_of"]
    assert (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v))[:10] == "2024-06-30"


def test_scores_values(res):
    # A: success = (80 + 30)/2 = 55, value missing (skip by default) -> score 55
    assert res.row("A")["score"] == approx(55)
    # B: success = adoption alone = 20 -> 20 -> red
    assert res.row("B")["score"] == approx(20)
    assert res.row("B")["band"] == "red"
    # C: nothing -> NULL, unknown
    assert res.row("C")["score"] is None
    assert res.row("C")["band"] == "unknown"


def test_scores_csv_written(res):
    text = (res.out / "scores.csv").read_text()
    header = text.splitlines()[0]
    assert header.split(",")[: len(SCORES_HEAD)] == SCORES_HEAD
    assert len(text.strip().splitlines()) == 1 + 3


def test_drivers_columns(res):
    assert res.drivers.columns[: len(DRIVER_COLS)] == DRIVER_COLS


def test_one_driver_row_per_account_and_leaf(res):
    # 3 accounts x 3 leaves
    assert res.drivers.height == 9


def test_driver_node_names_the_leaf_path(res):
    nodes = set(res.drivers["node"].to_list())
    assert nodes == {"success.adoption", "success.trend", "value.volume"}


def test_run_json_manifest(res):
    assert str(res.run["as_of"])[:10] == "2024-06-30"
    assert "status" in res.run
