"""Every row of scores.parquet/csv, drivers.parquet and the history names the run and the config
that made it; map leaves keep their text value in drivers; outputs are the same on a rerun."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

from tests.contract.conftest import base_config, group, leaf, make_project, run_chs, score

FILES = {
    "data/accounts.csv": """
        account_id,account_name,owner,plan,seats
        A1,Alpha,anna@x.com,gold,10
        A2,Beta,anna@x.com,bronze,20
        A3,Gamma,carl@x.com,silver,
        """,
}
CONFIG = base_config(
    variables={"plan": {"source": "accounts", "column": "plan"}, "seats": {"source": "accounts", "column": "seats"}},
    tree={"g": group(1, {"plan": leaf("plan", 1, {"map": {"gold": 100, "silver": 60}}),
                         "seats": leaf("seats", 1, {"thresholds": [[0, 0], [20, 100]]})})},
)


def test_rows_carry_run_id_and_config_hash(tmp_path: Path) -> None:
    run = score(make_project(tmp_path, CONFIG, FILES), "2024-06-30")
    run_id, digest = run.run["run_id"], run.run["config_hash"]
    for frame in (run.scores, run.drivers, pl.read_csv(run.out / "scores.csv")):
        assert frame["run_id"].unique().to_list() == [run_id]
        assert frame["config_hash"].unique().to_list() == [digest]
    con = duckdb.connect(str(tmp_path / "chs.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT DISTINCT run_id, config_hash FROM scores").fetchall() == [(run_id, digest)]
        assert con.execute("SELECT DISTINCT run_id, config_hash FROM node_scores").fetchall() == [(run_id, digest)]
    finally:
        con.close()


def test_map_leaf_keeps_its_text_in_drivers(tmp_path: Path) -> None:
    run = score(make_project(tmp_path, CONFIG, FILES), "2024-06-30")
    plan = run.drivers.filter(pl.col("variable") == "plan").sort("account_id")
    assert plan["raw_text"].to_list() == ["gold", "bronze", "silver"]
    assert plan["raw_value"].to_list() == [None, None, None]  # text is no number
    assert plan["sub_score"].to_list() == [100.0, None, 60.0]  # bronze is unmapped: missing
    seats = run.drivers.filter(pl.col("variable") == "seats").sort("account_id")
    assert seats["raw_text"].to_list() == [None, None, None]
    assert seats["raw_value"].to_list() == [10.0, 20.0, None]


def test_drivers_order_is_leaf_then_account_and_stable(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, CONFIG, FILES)
    first = score(cfg, "2024-06-30")
    rows = list(zip(first.drivers["node"], first.drivers["account_id"]))
    assert rows == [(n, a) for n in ("g.plan", "g.seats") for a in ("A1", "A2", "A3")]
    digest = hashlib.sha256(first.drivers.drop("run_id").write_csv().encode()).hexdigest()
    assert run_chs(cfg, "score", "--as-of", "2024-06-30").returncode == 0
    again = pl.read_parquet(first.out / "drivers.parquet")
    assert hashlib.sha256(again.drop("run_id").write_csv().encode()).hexdigest() == digest
