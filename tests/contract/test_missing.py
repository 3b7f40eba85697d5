"""DESIGN 2.3 Missing: skip (renormalise), imputed number, global `score.missing` default,
a group with no present child, every leaf missing -> score NULL / band `unknown`.

Identity scales: sub-score == raw value.
"""

import polars as pl

from .conftest import approx, base_config, group, leaf, project_and_score

ACCOUNTS = """
account_id,account_name,owner,xa,xb,xc
A,Alpha,a@x.io,80,,
B,Beta,b@x.io,,,
C,Gamma,c@x.io,80,20,
"""
FILES = {"data/accounts.csv": ACCOUNTS}
VARS = {v: {"source": "accounts", "column": v} for v in ("xa", "xb", "xc")}


def _run(tmp_path, tree, score=None):
    cfg = base_config(variables=VARS, tree=tree, score=score or {})
    return project_and_score(tmp_path, cfg, FILES, "2024-06-30")


def test_missing_skip_renormalises_siblings(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40, missing="skip")})})
    # A: b missing -> a alone: 60/60 = 1 -> score 80, contribution 1 * (80-50) = 30
    assert res.row("A")["score"] == approx(80)
    assert res.drv("A", "xa")["effective_weight"] == approx(1.0)
    assert res.drv("A", "xa")["contribution"] == approx(30)
    assert res.drv("A", "xb")["missing"] is True
    # C: both present: .6*80 + .4*20 = 48 + 8 = 56
    assert res.row("C")["score"] == approx(56)


def test_missing_skip_coverage(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40, missing="skip")})})
    # A: only a has a value; its full-presence eff weight = 60/100 = 0.6
    assert res.row("A")["coverage"] == approx(0.6)
    assert res.row("C")["coverage"] == approx(1.0)


def test_missing_number_imputes_sub_score(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40, missing=40)})})
    # A: b imputed 40: .6*80 + .4*40 = 48 + 16 = 64
    assert res.row("A")["score"] == approx(64)
    b = res.drv("A", "xb")
    assert b["sub_score"] == approx(40)
    assert b["effective_weight"] == approx(0.4)  # 40/(60+40): imputed leaf stays present
    assert b["contribution"] == approx(-4)  # .4 * (40-50)
    assert res.drv("A", "xa")["contribution"] == approx(18)  # .6 * (80-50); 50 + 18 - 4 = 64


def test_imputed_leaf_is_flagged_missing_and_not_covered(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40, missing=40)})})
    # "a leaf whose variable is NULL is missing"; coverage counts only leaves with a value (not imputed)
    assert res.drv("A", "xb")["missing"] is True
    assert res.row("A")["coverage"] == approx(0.6)  # only a: 60/100


def test_global_missing_default_imputes(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40)})}, score={"missing": 30})
    # A: b imputed with the global default 30: .6*80 + .4*30 = 48 + 12 = 60
    assert res.row("A")["score"] == approx(60)
    assert res.drv("A", "xb")["sub_score"] == approx(30)


def test_leaf_missing_overrides_global_default(tmp_path):
    tree = {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40), "c": leaf("xc", 40, missing="skip")})}
    res = _run(tmp_path, tree, score={"missing": 30})
    # A: a 80 (w60), b imputed 30 (w40), c skipped -> (60*80 + 40*30)/100 = 60
    #   (had c been imputed too: (4800 + 1200 + 1200)/140 = 51.43)
    assert res.row("A")["score"] == approx(60)
    assert res.drv("A", "xc")["missing"] is True
    assert (res.drv("A", "xc")["contribution"] or 0) == approx(0)


def test_global_missing_skip_is_default_behaviour(tmp_path):
    res = _run(tmp_path, {"g": group(1, {"a": leaf("xa", 60), "b": leaf("xb", 40)})}, score={"missing": "skip"})
    # A: b skipped -> 80
    assert res.row("A")["score"] == approx(80)


def test_group_without_present_child_is_missing(tmp_path):
    tree = {
        "g1": group(50, {"a": leaf("xa")}),
        "g2": group(50, {"b": leaf("xb"), "c": leaf("xc")}),
    }
    res = _run(tmp_path, tree, score={"missing": "skip"})
    # A: xb, xc NULL -> g2 missing -> root = g1 = 80 ; a's eff = 50/50 * 1 = 1
    a = res.row("A")
    assert a["score_g2"] is None
    assert a["score_g1"] == approx(80)
    assert a["score"] == approx(80)
    assert res.drv("A", "xa")["effective_weight"] == approx(1.0)
    # C: g2 = b alone = 20 -> (50*80 + 50*20)/100 = 50
    assert res.row("C")["score"] == approx(50)
    assert res.row("C")["score_g2"] == approx(20)


def test_every_leaf_missing_gives_null_score_and_unknown_band(tmp_path):
    tree = {
        "g1": group(50, {"a": leaf("xa")}),
        "g2": group(50, {"b": leaf("xb"), "c": leaf("xc")}),
    }
    res = _run(tmp_path, tree, score={"missing": "skip"})
    b = res.row("B")  # B has no value at all
    assert b["score"] is None
    assert b["band"] == "unknown"
    assert b["score_g1"] is None and b["score_g2"] is None
    assert res.drivers.filter(pl.col("account_id") == "B")["missing"].to_list() == [True, True, True]
    # coverage = empty sum over leaves with a value
    assert b["coverage"] in (None, 0, 0.0)
