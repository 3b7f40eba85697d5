"""Further contract points: source formats and options (DESIGN 2 `sources:`), UTC time (2.1),
imputing 0, top-level leaves, segment conditions over variables, explain sums (3), exit 73.
D = 2024-06-30 unless said otherwise.
"""

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from .conftest import (
    approx,
    base_config,
    group,
    leaf,
    leaves_tree,
    make_project,
    project_and_score,
    run_chs,
    score,
)

ACCOUNTS = """
account_id,account_name,owner,xa,xb
A,Alpha,a@x.io,80,40
B,Beta,b@x.io,20,
"""


# ---- time zones ------------------------------------------------------------------------------
NAIVE = """
account_id,ts
A,2024-06-30 23:59:00
A,2024-07-01 00:00:00
A,2024-06-01 00:00:00
A,2024-05-31 23:59:59
"""

OFFSET = """
account_id,ts
A,2024-06-30 23:59:00+00:00
A,2024-07-01 03:00:00+00:00
A,2024-06-30 22:00:00-05:00
A,2024-06-01 01:00:00+02:00
"""


@pytest.mark.parametrize("machine_tz", ["America/Los_Angeles", "Asia/Tokyo"])
def test_naive_timestamps_are_utc_whatever_the_machine_timezone(tmp_path, machine_tz):
    cfg = base_config(
        sources={"ev": {"path": "data/ev.csv", "account": "account_id", "time": "ts"}},
        variables={"n30": {"source": "ev", "agg": "count", "window": "30d"}, "n": {"source": "ev", "agg": "count"}},
        tree=leaves_tree("n30", "n"),
    )
    c = make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, "data/ev.csv": NAIVE})
    res = score(c, "2024-06-30", env_extra={"TZ": machine_tz})
    # 30d: 06-30 23:59 and 06-01 00:00 -> 2 ; visible: those + 05-31 23:59:59 -> 3 ; 07-01 00:00 invisible
    assert res.raw("A", "n30") == approx(2)
    assert res.raw("A", "n") == approx(3)


@pytest.mark.parametrize("machine_tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo"])
def test_offset_timestamps_are_converted_to_utc(tmp_path, machine_tz):
    cfg = base_config(
        sources={"ev": {"path": "data/ev.csv", "account": "account_id", "time": "ts"}},
        variables={"n30": {"source": "ev", "agg": "count", "window": "30d"}, "n": {"source": "ev", "agg": "count"}},
        tree=leaves_tree("n30", "n"),
    )
    c = make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, "data/ev.csv": OFFSET})
    res = score(c, "2024-06-30", env_extra={"TZ": machine_tz})
    # UTC instants: 06-30 23:59 (D, in) ; 07-01 03:00 (D+1, invisible) ;
    # 06-30 22:00-05:00 = 07-01 03:00 UTC (D+1, invisible) ; 06-01 01:00+02:00 = 05-31 23:00 UTC (D-30: out, visible)
    assert res.raw("A", "n30") == approx(1)
    assert res.raw("A", "n") == approx(2)


# ---- source formats --------------------------------------------------------------------------
def test_glob_source_reads_every_matching_file(tmp_path):
    cfg = base_config(
        sources={"u": {"path": "data/usage/*.csv", "account": "account_id", "time": "day"}},
        variables={"n": {"source": "u", "agg": "count", "window": "30d"}},
        tree=leaves_tree("n"),
    )
    files = {
        "data/accounts.csv": ACCOUNTS,
        "data/usage/part1.csv": "account_id,day\nA,2024-06-01\nA,2024-06-02\n",
        "data/usage/part2.csv": "account_id,day\nA,2024-06-03\nB,2024-06-04\n",
    }
    res = project_and_score(tmp_path, cfg, files)
    # A: 2 + 1 = 3 ; B: 1
    assert res.raw("A", "n") == approx(3)
    assert res.raw("B", "n") == approx(1)


def test_parquet_tsv_and_gzip_sources(tmp_path):
    (tmp_path / "data").mkdir(parents=True)
    pl.DataFrame(
        {"account_id": ["A", "A", "B"], "day": [dt.date(2024, 6, 1), dt.date(2024, 5, 31), dt.date(2024, 6, 30)]}
    ).write_parquet(tmp_path / "data" / "p.parquet")
    (tmp_path / "data" / "t.tsv").write_text("account_id\tday\nA\t2024-06-10\nA\t2024-06-11\nA\t2024-07-01\n")
    (tmp_path / "data" / "g.csv.gz").write_bytes(gzip.compress(b"account_id,day\nB,2024-06-10\nB,2024-06-11\n"))
    src = {"account": "account_id", "time": "day"}
    cfg = base_config(
        sources={
            "p": {"path": "data/p.parquet", **src},
            "t": {"path": "data/t.tsv", **src},
            "g": {"path": "data/g.csv.gz", **src},
        },
        variables={
            "np": {"source": "p", "agg": "count", "window": "30d"},
            "nt": {"source": "t", "agg": "count", "window": "30d"},
            "ng": {"source": "g", "agg": "count", "window": "30d"},
        },
        tree=leaves_tree("np", "nt", "ng"),
    )
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    assert res.raw("A", "np") == approx(1)  # 06-01 in, 05-31 = D-30 out
    assert res.raw("B", "np") == approx(1)  # 06-30
    assert res.raw("A", "nt") == approx(2)  # 06-10, 06-11 ; 07-01 invisible
    assert res.raw("B", "ng") == approx(2)  # 06-10, 06-11
    assert res.raw("A", "ng") == approx(0)  # no rows -> count 0


def test_csv_options_and_column_renames(tmp_path):
    tickets = (
        "Export vom 30.06.2024\n"
        "Org;Erstellt;Priority;CSAT;Betreff\n"
        "A;31.05.2024;urgent;1,0;Prüfung\n"
        "A;01.06.2024;urgent;4,5;x\n"
        "A;15.06.2024;low;3,5;Größe\n"
        "A;30.06.2024;urgent;2,0;z\n"
        "A;01.07.2024;urgent;1,0;future\n"
        "B;10.06.2024;low;5,0;w\n"
    )
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data" / "tickets.csv").write_bytes(tickets.encode("latin-1"))
    cfg = base_config(
        sources={
            "tickets": {
                "path": "data/tickets.csv",
                "account": "Org",
                "time": "Erstellt",
                "columns": {"Priority": "priority"},
                "csv": {"delimiter": ";", "decimal": ",", "date_format": "%d.%m.%Y", "encoding": "latin-1", "skip": 1},
            }
        },
        variables={
            "urgent": {"source": "tickets", "agg": "count", "where": "priority = 'urgent'", "window": "30d"},
            "csat": {"source": "tickets", "agg": "avg", "column": "CSAT", "window": "30d"},
        },
        tree=leaves_tree("urgent", "csat"),
    )
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    # A urgent in window: 01.06 and 30.06 = 2 (31.05 = D-30 out, 01.07 invisible)
    assert res.raw("A", "urgent") == approx(2)
    # A csat in window: (4.5 + 3.5 + 2.0) / 3 = 10/3 (decimal comma)
    assert res.raw("A", "csat") == approx(10 / 3)
    assert res.raw("B", "urgent") == approx(0)
    assert res.raw("B", "csat") == approx(5.0)


# ---- scoring details -------------------------------------------------------------------------
VARS = {v: {"source": "accounts", "column": v} for v in ("xa", "xb")}


def test_missing_zero_imputes_zero_not_skip(tmp_path):
    cfg = base_config(variables=VARS, tree={"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40, missing=0)})})
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    # B: xb NULL -> imputed 0: .6*20 + .4*0 = 12  (skip would give 20)
    assert res.row("B")["score"] == approx(12)
    assert res.drv("B", "xb")["sub_score"] == approx(0)
    assert res.drv("B", "xb")["contribution"] == approx(-20)  # .4 * (0 - 50)


def test_global_missing_zero_imputes_zero(tmp_path):
    cfg = base_config(
        variables=VARS, tree={"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40)})}, score={"missing": 0}
    )
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    # B: .6*20 + .4*0 = 12
    assert res.row("B")["score"] == approx(12)


def test_leaf_directly_under_tree_root(tmp_path):
    cfg = base_config(variables=VARS, tree={"a": leaf("xa", 1), "g": group(1, {"b": leaf("xb", 1)})})
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    # A: (80 + 40)/2 = 60 ; B: g missing -> a alone = 20
    assert res.row("A")["score"] == approx(60)
    assert res.row("A")["score_a"] == approx(80)
    assert res.row("A")["score_g_b"] == approx(40)
    assert res.row("B")["score"] == approx(20)


def test_segment_condition_over_a_variable(tmp_path):
    cfg = base_config(
        variables=VARS,
        tree={"g": group(1, {"a": leaf("xa", 1), "b": leaf("xb", 1)})},
        segments={"high": {"when": "xa > 50", "weights": {"g.a": 3}}},
    )
    res = project_and_score(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS})
    # A: xa 80 > 50 -> a weight 3: (3*80 + 1*40)/4 = 280/4 = 70 -> green (>= 70)
    assert res.row("A")["score"] == approx(70)
    assert res.row("A")["band"] == "green"
    # B: xa 20 -> default weights; xb missing -> a alone = 20
    assert res.row("B")["score"] == approx(20)


def test_explain_json_contributions_and_delta_parts_add_up(tmp_path):
    accounts = "account_id,account_name,owner,s\nA,Alpha,a@x.io,60\n"
    cfg = base_config(
        variables={
            "x1": {"source": "accounts", "expr": "date_diff('day', DATE '2024-06-01', as_of)"},
            "x2": {"source": "accounts", "column": "s"},
        },
        tree={"g": group(1, {"dyn": leaf("x1", 1), "stat": leaf("x2", 3)})},
    )
    c = make_project(tmp_path, cfg, {"data/accounts.csv": accounts})
    score(c, "2024-06-11")  # x1 = 10: (1*10 + 3*60)/4 = 190/4 = 47.5
    score(c, "2024-06-18")  # x1 = 17: (17 + 180)/4 = 197/4 = 49.25 ; delta = 1.75
    proc = run_chs(c, "explain", "A", "--as-of", "2024-06-18", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["score"] == approx(49.25)
    assert doc["delta"] == approx(1.75)
    nodes = doc["nodes"]
    assert nodes[0]["path"] == ""  # root first
    assert [n["path"] for n in nodes] == ["", "g", "g.dyn", "g.stat"]  # depth-first tree order
    leaves = [n for n in nodes if n["kind"] == "leaf"]
    # contributions: .25*(17-50) = -8.25 ; .75*(60-50) = 7.5 -> Σ -0.75 = 49.25 - 50
    assert sum(n["contribution"] for n in leaves) == approx(49.25 - 50)
    # delta parts Δ(eff*s): .25*17 - .25*10 = 1.75 ; .75*60 - .75*60 = 0 -> Σ = delta
    by = {n["path"]: n for n in leaves}
    assert by["g.dyn"]["delta_part"] == approx(1.75)
    assert by["g.stat"]["delta_part"] == approx(0)


def test_cannot_write_output_exit_73(tmp_path):
    cfg = base_config(variables=VARS, tree={"g": group(1, {"a": leaf("xa")})})
    cfg["storage"]["output_dir"] = "blocker/out"
    c = make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, "blocker": "i am a file\n"})
    proc = run_chs(c, "score", "--as-of", "2024-06-30")
    # output_dir lies below a regular file -> cannot write output
    assert proc.returncode == 73
