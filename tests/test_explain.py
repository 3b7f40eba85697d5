"""`chs explain ACCOUNT`: exact drivers, exact change decomposition, lookups and errors.

One tiny project is scored three times (subprocess, as a user would) and explained:

tree (bands green 70, yellow 55, red 0):
  product  w60: adoption  = mrr,            thresholds [[0,0],[1000,100]]
  support  w40: urgent w50 = urgent tickets / 30d, thresholds [[0,100],[4,0]]
                csat   w25 = avg csat / 30d,       thresholds [[1,0],[5,100]], missing: skip
                nps    w25 = nps / 365d,           thresholds [[-100,0],[100,100]], missing: 40

A1 has one urgent ticket (csat 3) on 2026-02-20 and no NPS answers; its mrr is 500, then 800
from the third run on. The ticket is in the 30d window on 2026-03-01 only, so `csat`
goes missing (skipped) on 2026-03-31.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOL = 1e-9
D0, D1, D2 = "2026-02-01", "2026-03-01", "2026-03-31"

CONFIG = """\
version: 1
name: explain-test
storage: {database: chs.duckdb, output_dir: out}
accounts: {source: accounts, id: account_id, name: account_name, owner: owner, segment: tier}
sources:
  accounts: {path: data/accounts.csv}
  tickets: {path: data/tickets.csv, account: account_id, time: created_at}
  nps: {path: data/nps.csv, account: account_id, time: responded_at}
variables:
  mrr: {source: accounts, column: mrr}
  urgent: {source: tickets, agg: count, where: "priority = 'urgent'", window: 30d}
  csat: {source: tickets, agg: avg, column: csat, window: 30d}
  nps: {source: nps, agg: nps, column: score, window: 365d}
score:
  bands: {green: 70, yellow: 55, red: 0}
  tree:
    product:
      weight: 60
      children:
        adoption: {weight: 1, variable: mrr, scale: {thresholds: [[0, 0], [1000, 100]]}}
    support:
      weight: 40
      children:
        urgent: {weight: 50, variable: urgent, scale: {thresholds: [[0, 100], [4, 0]]}}
        csat: {weight: 25, variable: csat, scale: {thresholds: [[1, 0], [5, 100]]}}
        nps: {weight: 25, variable: nps, scale: {thresholds: [[-100, 0], [100, 100]]}, missing: 40}
"""

ACCOUNTS = """\
account_id,account_name,owner,tier,mrr
A1,Acme Corp,ann@x.io,ent,{mrr}
B2,Beta Labs,bob@x.io,smb,100
"""

FILES = {
    "data/tickets.csv": "account_id,created_at,priority,csat\nA1,2026-02-20,urgent,3\n",
    "data/nps.csv": "account_id,responded_at,score\nB2,2026-01-15,10\n",
}


def chs(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(project / "chs.yaml"), *args],
                          check=False, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=project)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    (root / "data").mkdir()
    (root / "chs.yaml").write_text(CONFIG)
    for rel, text in FILES.items():
        (root / rel).write_text(text)
    for day, mrr in ((D0, 500), (D1, 500), (D2, 800)):
        (root / "data/accounts.csv").write_text(ACCOUNTS.format(mrr=mrr))
        done = chs(root, "score", "--as-of", day)
        assert done.returncode == 0, done.stderr
    return root


def explain_json(project: Path, *args: str) -> dict:
    done = chs(project, "explain", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # the whole of stdout is one JSON document


def leaves(doc: dict) -> dict[str, dict]:
    return {n["path"]: n for n in doc["nodes"] if n["kind"] == "leaf"}


def check_sums(doc: dict) -> None:
    """DESIGN 3: Σ leaves' contribution = score − 50 and Σ delta_part = delta."""
    ls = leaves(doc).values()
    assert math.fsum(n["contribution"] for n in ls) == pytest.approx(doc["score"] - 50, abs=TOL)
    if doc["delta"] is not None:
        assert math.fsum(n["delta_part"] for n in ls) == pytest.approx(doc["delta"], abs=TOL)


def test_latest_snapshot_vs_previous_with_a_leaf_gone_missing(project: Path) -> None:
    doc = explain_json(project, "A1")
    assert list(doc)[:12] == ["account_id", "account_name", "owner", "segment", "as_of", "score", "band",
                              "previous_as_of", "delta", "coverage", "actions", "nodes"]
    assert (doc["account_id"], doc["account_name"], doc["owner"], doc["segment"]) == \
        ("A1", "Acme Corp", "ann@x.io", "ent")
    assert (doc["as_of"], doc["previous_as_of"]) == (D2, D1)
    # D2: adoption 800 -> 80; urgent 0 -> 100; csat missing (skip); nps imputed 40.
    # support = (50*100 + 25*40) / 75 = 80; score = 0.6*80 + 0.4*80 = 80 -> green.
    # D1: adoption 50; urgent 1 -> 75; csat 3 -> 50; nps 40: support = 60; score = 30 + 24 = 54.
    assert doc["score"] == pytest.approx(80, abs=TOL)
    assert doc["band"] == "green"
    assert doc["delta"] == pytest.approx(26, abs=TOL)
    # coverage: csat (0.4 * 25/100 = 0.1) and nps (0.1, imputed) do not count -> 0.8
    assert doc["coverage"] == pytest.approx(0.8, abs=TOL)
    assert [n["path"] for n in doc["nodes"]] == ["", "product", "product.adoption", "support",
                                                  "support.urgent", "support.csat", "support.nps"]
    lv = leaves(doc)
    # effective weights now: adoption 0.6, urgent 0.4*50/75, csat 0 (skipped), nps 0.4*25/75
    assert lv["product.adoption"]["effective_weight"] == pytest.approx(0.6, abs=TOL)
    assert lv["support.urgent"]["effective_weight"] == pytest.approx(0.4 * 50 / 75, abs=TOL)
    assert lv["support.csat"]["effective_weight"] == 0
    # contributions: 0.6*30 = 18; (4/15)*50 = 13.333; 0; (2/15)*(-10) = -1.333 -> 30 = 80 - 50
    assert lv["product.adoption"]["contribution"] == pytest.approx(18, abs=TOL)
    assert lv["support.urgent"]["contribution"] == pytest.approx(40 / 3, abs=TOL)
    assert lv["support.csat"]["contribution"] == 0
    assert lv["support.nps"]["contribution"] == pytest.approx(-4 / 3, abs=TOL)
    # delta parts = eff_now*s_now - eff_then*s_then:
    #   adoption 0.6*80 - 0.6*50 = 18; urgent (4/15)*100 - 0.2*75 = 26.667 - 15 = 11.667
    #   csat 0 - 0.1*50 = -5 (went missing); nps (2/15)*40 - 0.1*40 = 1.333 -> Σ = 26
    assert lv["product.adoption"]["delta_part"] == pytest.approx(18, abs=TOL)
    assert lv["support.urgent"]["delta_part"] == pytest.approx(80 / 3 - 15, abs=TOL)
    assert lv["support.csat"]["delta_part"] == pytest.approx(-5, abs=TOL)
    assert lv["support.nps"]["delta_part"] == pytest.approx(16 / 3 - 4, abs=TOL)
    groups = {n["path"]: n for n in doc["nodes"] if n["kind"] == "group"}
    assert groups["support"]["delta_part"] == pytest.approx(8, abs=TOL)
    assert groups[""]["delta_part"] == pytest.approx(26, abs=TOL)
    assert groups["support"]["contribution"] == pytest.approx(12, abs=TOL)
    # leaves carry variable, raw value and missing; csat's data fell out of the window
    assert lv["support.csat"]["missing"] is True and lv["support.csat"]["raw_value"] is None
    assert lv["support.nps"]["missing"] is True and lv["support.nps"]["imputed"] is True
    assert lv["support.nps"]["score"] == 40
    assert (lv["product.adoption"]["variable"], lv["product.adoption"]["raw_value"]) == ("mrr", 800)
    assert doc["actions"] == []
    check_sums(doc)


def test_earlier_snapshot_and_compare_options(project: Path) -> None:
    doc = explain_json(project, "A1", "--as-of", D1)
    # D1 vs D0: D0 urgent 0 -> 100, csat missing, nps 40: support 80, score 0.6*50 + 0.4*80 = 62
    assert (doc["score"], doc["previous_as_of"]) == (pytest.approx(54, abs=TOL), D0)
    assert doc["delta"] == pytest.approx(54 - 62, abs=TOL)
    lv = leaves(doc)
    # csat appears: 0.1*50 - 0 = +5; urgent 0.2*75 - (4/15)*100 = -11.667; nps 4 - 5.333 = -1.333
    assert lv["support.csat"]["delta_part"] == pytest.approx(5, abs=TOL)
    assert lv["support.urgent"]["delta_part"] == pytest.approx(15 - 80 / 3, abs=TOL)
    check_sums(doc)

    doc = explain_json(project, "A1", "--compare", D0)
    # D2 vs D0: only adoption moved (48 - 30); the support parts cancel out exactly.
    assert (doc["previous_as_of"], doc["comparison"]) == (D0, "compare")
    assert doc["delta"] == pytest.approx(18, abs=TOL)
    assert leaves(doc)["support.urgent"]["delta_part"] == pytest.approx(0, abs=TOL)
    check_sums(doc)

    doc = explain_json(project, "A1", "--since", "31d")  # latest snapshot on or before 2026-02-28
    assert (doc["previous_as_of"], doc["delta"]) == (D0, pytest.approx(18, abs=TOL))

    doc = explain_json(project, "A1", "--as-of", D0)  # the first snapshot: nothing to compare
    assert doc["previous_as_of"] is None and doc["delta"] is None
    assert all(n["delta_part"] is None for n in doc["nodes"])
    check_sums(doc)
    assert [(h["as_of"], h["band"]) for h in doc["history"]] == [(D0, "yellow"), (D1, "red"), (D2, "green")]


def test_lookup_by_name_is_case_insensitive(project: Path) -> None:
    assert explain_json(project, "acme CORP")["account_id"] == "A1"
    assert explain_json(project, "b2")["account_id"] == "B2"


def test_unknown_account_is_66_with_a_suggestion(project: Path) -> None:
    done = chs(project, "explain", "Acme Crop")
    assert done.returncode == 66
    assert done.stdout == ""
    assert "Acme Crop" in done.stderr and "did you mean" in done.stderr and "A1 (Acme Corp)" in done.stderr


def test_as_of_without_snapshot_names_the_nearest_dates(project: Path) -> None:
    done = chs(project, "explain", "A1", "--as-of", "2026-03-15")
    assert done.returncode == 2
    assert f"nearest before: {D1}" in done.stderr and f"nearest after: {D2}" in done.stderr
    done = chs(project, "explain", "A1", "--compare", "2026-01-01")
    assert done.returncode == 2 and f"nearest after: {D0}" in done.stderr
    done = chs(project, "explain", "A1", "--compare", D0, "--since", "7d")
    assert done.returncode == 2


def test_json_is_one_document_and_nothing_else(project: Path) -> None:
    done = chs(project, "explain", "A1", "--json")
    assert done.returncode == 0
    decoder = json.JSONDecoder()
    doc, end = decoder.raw_decode(done.stdout)
    assert done.stdout[end:].strip() == ""
    assert isinstance(doc, dict)


def test_text_view_without_colour(project: Path) -> None:
    done = chs(project, "explain", "A1", env={"NO_COLOR": "1", "COLUMNS": "160"})
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "\x1b[" not in text
    for expected in ("Acme Corp", "A1", "GREEN (healthy)", "▲ +26.0 since 2026-03-01", "coverage 80%",
                     "Product", "Urgent", "missing (skipped)", "missing (imputed 40)",
                     "count of tickets where priority = 'urgent' / 30d",
                     "What changed since 2026-03-01", "Csat: missing (skipped), was 3: −5.0 pts",
                     "History", "▅▅▇", "Open actions: none"):
        assert expected in text, expected
    assert "RED (at risk) → GREEN (healthy)" in text
    # the movers are listed largest first
    assert text.index("Adoption: raw 800 (was 500): +18.0 pts") < text.index("Urgent: raw 0 (was 1): +11.7 pts")
    plain = chs(project, "--no-color", "explain", "A1")
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout


def test_no_history_yet_is_66(tmp_path: Path) -> None:
    (tmp_path / "chs.yaml").write_text(CONFIG)
    done = chs(tmp_path, "explain", "A1")
    assert done.returncode == 66 and "chs score" in done.stderr


def test_library_reads_only_and_adds_up(project: Path) -> None:
    from chs.db import connect
    from chs.explain import explain

    con = connect(project / "chs.duckdb", read_only=True)
    try:
        result = explain(con, "Acme Corp", as_of=None, compare=None, since_days=None)
    finally:
        con.close()
    assert result.warnings == []
    assert [m.path for m in result.movers()] == ["product.adoption", "support.urgent", "support.csat",
                                                 "support.nps"]
    assert result.nodes[0].label == "Health score"
