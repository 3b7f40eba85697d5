"""`chs backtest` HTML page: self-contained, escaped, every band drawn with glyph and name,
undefined numbers shown as "–", and it renders in a real (offline) browser."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

from chs.backtest.html import build_page, render_backtest_html, verdict, write_backtest_html

sys.path.insert(0, str(Path(__file__).parent))
from test_report_browser import decode_png, has_colour, page_requests, run_browser  # noqa: E402

BANDS = {"green": 75, "yellow": 50, "red": 0}


def result(config: str = "nordwind-telecom") -> dict:
    roc = [[0.0, 0.0]] + [[i / 20, min(1.0, (i / 20) ** 0.45)] for i in range(1, 21)]
    return {
        "config": config,
        "mode": "history",
        "snapshots": ["2026-06-12", "2026-06-05", "2026-06-19", "2026-06-26"],
        "outcomes": {"events": 18, "unknown_accounts": 3, "observed_until": "2026-11-20"},
        "warnings": ["30d: 2 snapshots left out (censored: D + 30d > observed_until 2026-11-20)"],
        "horizons": {
            "90d": {
                "snapshots": ["2026-06-05", "2026-06-12", "2026-06-19", "2026-06-26"],
                "n": 4123, "positives": 87, "base_rate": 0.0211,
                "auc": 0.78, "auc_ci": [0.72, 0.83],
                "lift_10": 3.4, "lift_20": 2.5, "recall_10": 0.34, "recall_20": 0.5,
                "bands": {"green": {"n": 2000, "churned": 10, "rate": 0.005},
                          "yellow": {"n": 1500, "churned": 30, "rate": 0.02},
                          "red": {"n": 600, "churned": 45, "rate": 0.075},
                          "unknown": {"n": 23, "churned": 2, "rate": 2 / 23}},
                "deciles": [{"decile": d, "min_score": 10.0 * (d - 1), "max_score": 10.0 * d - 0.1,
                             "n": 412, "churned": 30 - 3 * d, "rate": (30 - 3 * d) / 412} for d in range(1, 11)],
                "nodes": {"": 0.78, "success": 0.7, "success.adoption": 0.66,
                          "value.volume.mrr": 0.45, "success.adoption.seat_use": 0.61,
                          "value": 0.51, "value.volume": None},
                "roc": roc,
            },
            "30d": {
                "snapshots": ["2026-06-05", "2026-06-12"],
                "n": 2000, "positives": 0, "base_rate": 0.0,
                "auc": None, "auc_ci": None,
                "lift_10": None, "lift_20": float("nan"), "recall_10": None, "recall_20": None,
                "bands": {"green": {"n": 1000, "churned": 0, "rate": 0.0},
                          "yellow": {"n": 700, "churned": 0, "rate": 0.0},
                          "red": {"n": 300, "churned": 0, "rate": 0.0}},
                "deciles": [],
                "nodes": {"": None, "success": float("nan")},
                "roc": [],
            },
        },
        "node_labels": {"": "Health score", "success": "Customer Success", "value.volume.mrr": "MRR"},
    }


def test_page_is_self_contained_and_shows_the_numbers() -> None:
    html = render_backtest_html(result(), BANDS, title="Nordwind")
    assert "<script" not in html.lower()
    assert not re.search(r"https?:|//[a-z]|url\(|<link|<img|@import", html, re.I), "page must fetch nothing"
    assert "0.780" in html and "0.720–0.830" in html  # AUC and its interval
    assert "87 / 4,123" in html and "base rate 2.1%" in html and "0.50%" in html and "3.4×" in html and "34.0%" in html
    for band in ("green", "yellow", "red", "unknown"):
        assert f"{band}</text>" in html  # each bar is labelled with the band name ...
    for glyph in ("circle", "triangle", "square", "ring"):
        assert f'href="#g-{glyph}"' in html  # ... and drawn with its glyph
    assert "red &gt; yellow &gt; green" in html
    assert 'class="chart roc"' in html and "false positive rate" in html and "true positive rate" in html
    assert "stored snapshots" in html and "2026-06-05" in html and "2026-06-26" in html
    assert "2026-11-20" in html and "3 outcome rows" in html and "censored" in html
    assert "How to read this" in html


def test_nodes_are_flagged_and_in_tree_order() -> None:
    html = render_backtest_html(result(), BANDS)
    wrong = re.search(r'<tr class="wrong" data-node="value.volume.mrr">.*?</tr>', html, re.S)
    assert wrong and "points the wrong way" in wrong.group(0) and "MRR" in wrong.group(0)
    flat = re.search(r'<tr class="flat" data-node="value">.*?</tr>', html, re.S)
    assert flat and "no signal" in flat.group(0)
    page = build_page(result(), BANDS)
    order = [n.path for n in page.horizons[0].nodes]
    # children stay under their parent, siblings keep first-seen order
    assert order == ["", "success", "success.adoption", "success.adoption.seat_use",
                     "value", "value.volume", "value.volume.mrr"]
    assert [n.depth for n in page.horizons[0].nodes] == [0, 1, 2, 3, 1, 2, 3]
    labels = {n.path: n.label for n in page.horizons[0].nodes}
    assert labels["success"] == "Customer Success" and labels["success.adoption"] == "success.adoption"


def test_verdict_edges() -> None:
    assert verdict(None) == "" and verdict(0.78) == ""
    assert verdict(0.5) == verdict(0.48) == verdict(0.52) == "flat"
    assert verdict(0.47) == "wrong" and verdict(0.53) == ""


def test_undefined_numbers_render_as_dash() -> None:
    html = render_backtest_html(result(), BANDS)
    section = html.split('id="horizon-2"')[1]
    assert "nan" not in section.lower()
    assert re.search(r'class="v auc">–<', section)
    assert "No churn events within 30d" in section and "No ROC curve" in section
    assert 'class="chart roc"' not in section  # no curve without positives, but the band bars stay
    assert 'class="chart bars"' in section
    page = build_page(result(), BANDS)
    assert page.horizons[1].auc is None and page.horizons[1].lift_20 is None
    assert math.isclose(page.horizons[0].deciles[0].lift or 0, (27 / 412) / 0.0211)


def test_data_is_escaped() -> None:
    evil = result("<b>x</b>")
    evil["node_labels"]["success"] = "<script>alert(1)</script>"
    evil["warnings"] = ['<img src="http://example.invalid/x.png">']
    evil["horizons"]["<i>7d</i>"] = evil["horizons"].pop("30d")
    html = render_backtest_html(evil, {"<u>best</u>": 75, "yellow": 50, "red": 0}, title="<em>t</em>")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "<i>7d</i>" not in html and "<u>best</u>" not in html
    assert "&lt;u&gt;best&lt;/u&gt;</text>" in html  # escaped inside the SVG too
    assert "<em>t</em>" not in html


def test_write_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "backtest.html"
    target.parent.mkdir()
    target.write_text("old")
    out = write_backtest_html(result(), BANDS, target)
    assert out == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["backtest.html"]  # no temp file left behind


def test_page_renders_in_chromium_without_network(tmp_path: Path) -> None:
    page = write_backtest_html(result(), BANDS, tmp_path / "backtest.html", title="Nordwind")
    shot, net_log = tmp_path / "backtest.png", tmp_path / "net.json"
    run_browser(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", f"--log-net-log={net_log}")
    if not shot.exists():
        pytest.fail("Chromium wrote no screenshot")
    pixels = decode_png(shot)
    assert pixels.shape[:2] == (2400, 1200)
    not_white = (pixels < 245).any(axis=2).mean()
    assert not_white > 0.02, f"screenshot looks blank ({not_white:.2%} non-white pixels)"
    for colour in ("#009E73", "#E69F00", "#D55E00", "#0072B2"):  # band bars and the ROC curve drew
        assert has_colour(pixels, colour), colour
    assert page_requests(net_log) == []
