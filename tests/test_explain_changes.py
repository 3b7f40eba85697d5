"""`chs explain`: the change split into value and weight parts, overdue actions, 80 columns.

Tree (bands green 70, yellow 55, red 0), weights after `segments.onboarding` in brackets:
  product  w60 [20]: adoption = mrr,                thresholds [[0,0],[1000,100]]
  support  w40 [80]: urgent w50 = urgent tickets / 30d, thresholds [[0,100],[4,0]]
                     csat   w50 = avg csat / 30d,       thresholds [[1,0],[5,100]], missing: skip
segment `onboarding` when tenure_days < 90 (accounts.start: started_at).

Snapshots D1 = 2026-03-01 and D2 = 2026-04-15. Every account's mrr is 500 on D1 and 800 on D2
(adoption 50 → 80) and has no urgent ticket (urgent 100 both times).
  A1 started 2026-01-01: tenure 59 on D1 (onboarding), 104 on D2 (default weights); a
     low-priority ticket with csat 3 on 2026-02-20 is in the window on D1 only.
  B2 started 2024-01-01 (default weights both times); a ticket with csat 5 on D1 only.
The action rule `score < 75` (due 7d) fires for both on D1 (score 70): due 2026-03-08.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOL = 1e-9
D1, D2 = "2026-03-01", "2026-04-15"

TREE = """\
    product:
      weight: {product}
      children:
        adoption: {{weight: 1, variable: mrr, scale: {{thresholds: [[0, 0], [1000, 100]]}}}}{size}
    support:
      weight: 40
      children:
        urgent: {{weight: 50, variable: urgent, scale: {{thresholds: [[0, 100], [4, 0]]}}}}{csat}
"""
CSAT = "\n        csat: {weight: 50, variable: csat, scale: {thresholds: [[1, 0], [5, 100]]}}"
SIZE = "\n        size: {weight: 1, variable: mrr, scale: {thresholds: [[0, 0], [2000, 100]]}}"

CONFIG = """\
version: 1
name: explain-change-test
storage: {{database: chs.duckdb, output_dir: out}}
accounts: {{source: accounts, id: account_id, name: account_name, owner: owner, segment: tier, start: started_at}}
sources:
  accounts: {{path: data/accounts.csv}}
  tickets: {{path: data/tickets.csv, account: account_id, time: created_at}}
variables:
  mrr: {{source: accounts, column: mrr}}
  urgent: {{source: tickets, agg: count, where: "priority = 'urgent'", window: 30d}}
  csat: {{source: tickets, agg: avg, column: csat, window: 30d}}
score:
  bands: {{green: 70, yellow: 55, red: 0}}
  tree:
{tree}segments:
  onboarding:
    when: "tenure_days < 90"
    weights: {{product: 20, support: 80}}
actions:
  - id: check-in
    when: "score < 75"
    title: "Check in with {{{{ name }}}}: walk through seat adoption and the support tickets of the last month"
    priority: high
    due: 7d
"""

TICKETS = "account_id,created_at,priority,csat\nA1,2026-02-20,low,3\nB2,2026-02-20,low,5\n"
ACCOUNTS = "account_id,account_name,owner,tier,started_at,mrr\n"


def config(product: int = 60, csat: bool = True, size: bool = False) -> str:
    return CONFIG.format(tree=TREE.format(product=product, csat=CSAT if csat else "", size=SIZE if size else ""))


def chs(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(project / "chs.yaml"), *args],
                          check=False, capture_output=True, text=True, env={**environ, **(env or {})}, cwd=project)


def make_project(root: Path, accounts: dict[str, str], configs: tuple[str, str]) -> tuple[str, str]:
    """Score D1 with configs[0] and D2 with configs[1]; `accounts` rows are formatted with
    mrr (500, then 800) and tier (smb, then ent). Returns the two config hashes (as `chs
    score` stores them in runs.config_hash)."""
    (root / "data").mkdir()
    (root / "data/tickets.csv").write_text(TICKETS)
    hashes = []
    for day, mrr, tier, text in ((D1, 500, "smb", configs[0]), (D2, 800, "ent", configs[1])):
        (root / "chs.yaml").write_text(text)
        rows = "".join(row.format(mrr=mrr, tier=tier) + "\n" for row in accounts.values())
        (root / "data/accounts.csv").write_text(ACCOUNTS + rows)
        done = chs(root, "score", "--as-of", day)
        assert done.returncode == 0, done.stderr
        hashes.append(hashlib.sha256(text.encode()).hexdigest()[:16])
    return hashes[0], hashes[1]


@pytest.fixture(scope="module")
def segment_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("segment")
    make_project(root, {"A1": "A1,Acme Corp,ann@x.io,ent,2026-01-01,{mrr}",
                        "B2": "B2,Beta Labs,bob@x.io,smb,2024-01-01,{mrr}"}, (config(), config()))
    return root


@pytest.fixture(scope="module")
def config_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """product's weight edited 60 → 30 between the snapshots; C3's tier column moves smb → ent."""
    root = tmp_path_factory.mktemp("config")
    old, new = make_project(root, {"B2": "B2,Beta Labs,bob@x.io,smb,2024-01-01,{mrr}",
                                   "C3": "C3,Cee Ltd,cy@x.io,{tier},2024-01-01,{mrr}"},
                            (config(60), config(30)))
    return root, old, new


def explain_json(project: Path, *args: str) -> dict:
    done = chs(project, "explain", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def leaves(doc: dict) -> dict[str, dict]:
    return {n["path"]: n for n in doc["nodes"] if n["kind"] == "leaf"}


def check_split(doc: dict) -> None:
    """Σ delta_part = delta (unchanged contract); delta_value + delta_weight = delta_part per node."""
    ls = leaves(doc).values()
    assert math.fsum(n["delta_part"] for n in ls) == pytest.approx(doc["delta"], abs=TOL)
    for n in doc["nodes"]:
        assert n["delta_value"] + n["delta_weight"] == pytest.approx(n["delta_part"], abs=TOL), n["path"]
    total = math.fsum([*(n["delta_value"] for n in ls), *(n["delta_weight"] for n in ls)])
    assert total == pytest.approx(doc["delta"], abs=TOL)
    assert doc["weights_changed"]["points"] == pytest.approx(math.fsum(n["delta_weight"] for n in ls), abs=TOL)
    assert doc["warnings"] == []


def what_changed(text: str) -> list[str]:
    """The lines of the 'What changed' block, without their indent."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("What changed since"))
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


# ------------------------------------------------------------------ segment crossing
def test_segment_crossing_splits_value_and_weight(segment_project: Path) -> None:
    doc = explain_json(segment_project, "A1")
    # D1 onboarding (product 0.2, support 0.8 → urgent 0.4, csat 0.4):
    #   score = 0.2*50 + 0.4*100 + 0.4*50 = 70
    # D2 default, csat missing (skipped): urgent has all of support: 0.6*80 + 0.4*100 = 88
    assert (doc["score"], doc["delta"]) == (pytest.approx(88, abs=TOL), pytest.approx(18, abs=TOL))
    lv = leaves(doc)
    # delta_part = e_new*s_new - e_old*s_old: adoption 48 - 10, urgent 40 - 40, csat 0 - 20
    assert [lv[p]["delta_part"] for p in ("product.adoption", "support.urgent", "support.csat")] == \
        [pytest.approx(38, abs=TOL), pytest.approx(0, abs=TOL), pytest.approx(-20, abs=TOL)]
    # e* = effective weight under the OLD weights with the NEW data: csat is missing now, so
    # urgent gets all of support's 0.8: adoption 0.2, urgent 0.8, csat 0.
    # delta_weight = (e_new - e*) * s_new: adoption (0.6-0.2)*80 = 32, urgent (0.4-0.8)*100 = -40
    assert lv["product.adoption"]["delta_weight"] == pytest.approx(32, abs=TOL)
    assert lv["support.urgent"]["delta_weight"] == pytest.approx(-40, abs=TOL)
    assert lv["support.csat"]["delta_weight"] == 0
    # delta_value = e* * s_new - e_old * s_old: adoption 0.2*80 - 0.2*50 = 6,
    # urgent 0.8*100 - 0.4*100 = 40 (csat went missing), csat 0 - 0.4*50 = -20
    assert lv["product.adoption"]["delta_value"] == pytest.approx(6, abs=TOL)
    assert lv["support.urgent"]["delta_value"] == pytest.approx(40, abs=TOL)
    assert lv["support.csat"]["delta_value"] == pytest.approx(-20, abs=TOL)
    groups = {n["path"]: n for n in doc["nodes"] if n["kind"] == "group"}
    assert groups[""]["delta_weight"] == pytest.approx(-8, abs=TOL)
    assert groups[""]["delta_value"] == pytest.approx(26, abs=TOL)
    assert groups["support"]["delta_weight"] == pytest.approx(-40, abs=TOL)
    wc = doc["weights_changed"]
    assert (wc["reason"], wc["from"], wc["to"]) == ("segment", "onboarding", "default")
    assert wc["points"] == pytest.approx(-8, abs=TOL)
    assert wc["config_from"] == wc["config_to"]
    check_split(doc)


def test_segment_crossing_first_line_names_the_segment(segment_project: Path) -> None:
    done = chs(segment_project, "explain", "A1")
    assert done.returncode == 0, done.stderr
    block = what_changed(done.stdout)
    assert block[0] == "weights changed: segment onboarding → default, −8.0 pts"
    # then the value parts only, largest first
    assert block[1:] == ["Urgent: weight 80% (was 40%) at the old weights: +40.0 pts",
                         "Csat: missing (skipped), was 3: −20.0 pts",
                         "Adoption: raw 800 (was 500): +6.0 pts"]
    assert "Δ weights" in done.stdout  # the tree shows each node's weight part too


def test_no_weight_change_has_no_weights_line(segment_project: Path) -> None:
    # B2: default weights both times; csat went missing, so urgent's effective weight moved
    # 0.2 → 0.4 — renormalisation of the data, not a weight change.
    doc = explain_json(segment_project, "B2")
    lv = leaves(doc)
    assert all(n["delta_weight"] == 0 for n in doc["nodes"])
    assert all(n["delta_value"] == n["delta_part"] for n in lv.values())
    # D1 0.6*50 + 0.2*100 + 0.2*100 = 70; D2 0.6*80 + 0.4*100 = 88: urgent 40 - 20, csat -20
    assert lv["support.urgent"]["delta_value"] == pytest.approx(20, abs=TOL)
    assert doc["weights_changed"] == {
        "reason": None, "from": None, "to": None, "points": 0.0, "changed": False,
        "segment_from": "default", "segment_to": "default",
        "config_from": doc["weights_changed"]["config_from"], "config_to": doc["weights_changed"]["config_from"]}
    check_split(doc)
    done = chs(segment_project, "explain", "B2")
    assert "weights changed" not in done.stdout and "Δ weights" not in done.stdout
    assert what_changed(done.stdout)[0] == "Urgent: weight 40% (was 20%): +20.0 pts"


def test_first_snapshot_has_no_split(segment_project: Path) -> None:
    doc = explain_json(segment_project, "A1", "--as-of", D1)
    assert doc["delta"] is None
    assert all(n["delta_value"] is None and n["delta_weight"] is None for n in doc["nodes"])
    assert doc["weights_changed"]["reason"] is None and doc["weights_changed"]["points"] is None


def test_library_names_the_rule_only_with_the_config(segment_project: Path) -> None:
    from chs.config import load_config
    from chs.db import connect
    from chs.explain import WeightRules, explain

    loaded = load_config(segment_project / "chs.yaml")
    con = connect(loaded.database, read_only=True)
    try:
        named = explain(con, "A1", rules=WeightRules.from_config(loaded))
        bare = explain(con, "A1")
    finally:
        con.close()
    assert (named.weights_changed.segment_from, named.weights_changed.segment_to) == ("onboarding", "default")
    # Without the config the rule names are unknown; the account's segment column did not
    # move, but the same config gave other weights, so it still was a segment rule.
    assert bare.weights_changed.reason == "segment"
    assert (bare.weights_changed.segment_from, bare.weights_changed.segment_to) == ("ent", "ent")
    assert [n.path for n in bare.movers()] == ["support.urgent", "support.csat", "product.adoption"]


# ------------------------------------------------------------------ config edits
def test_config_weight_edit(config_project: tuple[Path, str, str]) -> None:
    root, old, new = config_project
    doc = explain_json(root, "B2")
    # D1 (product 60): 0.6*50 + 0.2*100 + 0.2*100 = 70.
    # D2 (product 30, support 40; csat missing): 3/7*80 + 4/7*100 = 6400/70
    assert doc["delta"] == pytest.approx(6400 / 70 - 70, abs=TOL)
    lv = leaves(doc)
    # old weights on the new data: adoption 0.6, urgent 0.4 (csat missing), csat 0
    assert lv["product.adoption"]["delta_value"] == pytest.approx(0.6 * 80 - 0.6 * 50, abs=TOL)
    assert lv["product.adoption"]["delta_weight"] == pytest.approx((3 / 7 - 0.6) * 80, abs=TOL)
    assert lv["support.urgent"]["delta_value"] == pytest.approx(0.4 * 100 - 0.2 * 100, abs=TOL)
    assert lv["support.urgent"]["delta_weight"] == pytest.approx((4 / 7 - 0.4) * 100, abs=TOL)
    assert (lv["support.csat"]["delta_value"], lv["support.csat"]["delta_weight"]) == (pytest.approx(-20), 0)
    wc = doc["weights_changed"]
    assert (wc["reason"], wc["from"], wc["to"]) == ("config", old, new)
    assert wc["points"] == pytest.approx(24 / 7, abs=TOL)
    check_split(doc)
    done = chs(root, "explain", "B2")
    assert what_changed(done.stdout)[0] == \
        f"weights changed: config edited between the snapshots (hash {old[:8]} → {new[:8]}), +3.4 pts"


def test_config_edit_and_segment_move_is_both(config_project: tuple[Path, str, str]) -> None:
    root, old, new = config_project
    doc = explain_json(root, "C3")
    wc = doc["weights_changed"]
    # The old snapshot's rule cannot be named (its config is gone), so the account's segment
    # column tells that the account moved too.
    assert (wc["reason"], wc["from"], wc["to"]) == ("both", "smb", "ent")
    assert (wc["config_from"], wc["config_to"]) == (old, new)
    check_split(doc)
    done = chs(root, "explain", "C3")
    assert what_changed(done.stdout)[0].startswith(
        f"weights changed: segment smb → ent and config edited between the snapshots (hash {old[:8]} → {new[:8]})")


def test_leaf_added_and_removed_is_a_weight_change(tmp_path: Path) -> None:
    # D2's config drops csat and adds product.size (mrr, [[0,0],[2000,100]]: 800 → 40).
    make_project(tmp_path, {"B2": "B2,Beta Labs,bob@x.io,smb,2024-01-01,{mrr}"},
                 (config(), config(csat=False, size=True)))
    doc = explain_json(tmp_path, "B2")
    # D1: 0.6*50 + 0.2*100 + 0.2*100 = 70; D2: 0.3*80 + 0.3*40 + 0.4*100 = 76
    assert doc["delta"] == pytest.approx(6, abs=TOL)
    lv = leaves(doc)
    assert lv["support.csat"].get("in_snapshot") is False and lv["product.size"].get("in_previous") is False
    # The removed leaf keeps its old value on the new side, the new one has weight 0 on the
    # old side: both are pure weight parts. Old weights on the new data: adoption 0.6,
    # urgent 0.2, csat 0.2, size 0.
    assert (lv["support.csat"]["delta_value"], lv["support.csat"]["delta_weight"]) == \
        (pytest.approx(0, abs=TOL), pytest.approx(-20, abs=TOL))
    assert (lv["product.size"]["delta_value"], lv["product.size"]["delta_weight"]) == \
        (pytest.approx(0, abs=TOL), pytest.approx(12, abs=TOL))
    assert (lv["product.adoption"]["delta_value"], lv["product.adoption"]["delta_weight"]) == \
        (pytest.approx(18, abs=TOL), pytest.approx(-24, abs=TOL))
    assert (lv["support.urgent"]["delta_value"], lv["support.urgent"]["delta_weight"]) == \
        (pytest.approx(0, abs=TOL), pytest.approx(20, abs=TOL))
    assert doc["weights_changed"]["reason"] == "config"
    assert doc["weights_changed"]["points"] == pytest.approx(-12, abs=TOL)
    check_split(doc)


# ------------------------------------------------------------------ overdue actions
def test_overdue_open_action_is_marked(segment_project: Path) -> None:
    doc = explain_json(segment_project, "A1")
    (action,) = doc["actions"]
    assert (action["due_date"], action["overdue"], action["days_overdue"]) == ("2026-03-08", True, 38)
    done = chs(segment_project, "explain", "A1", env={"NO_COLOR": "1"})
    assert "Open actions (1, 1 overdue on 2026-04-15)" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("#"))
    assert "due 2026-03-08 OVERDUE (38 days): Check in with Acme Corp" in line
    # As of the day it was created it is not overdue yet.
    doc = explain_json(segment_project, "A1", "--as-of", D1)
    assert (doc["actions"][0]["overdue"], doc["actions"][0]["days_overdue"]) == (False, None)
    done = chs(segment_project, "explain", "A1", "--as-of", D1)
    assert "OVERDUE" not in done.stdout and "overdue" not in done.stdout


# ------------------------------------------------------------------ width
def assert_words_whole(text: str, doc: dict) -> None:
    """Every leaf's description is on its leaf's line, whole or cut before a word + '…'."""
    lines = text.splitlines()
    for leaf in leaves(doc).values():
        desc = leaf["description"]
        (line,) = [x for x in lines if x.strip().startswith(leaf["label"] + " ")]
        if desc in line:
            continue
        rest = line.split(" — ", 1)[1] if " — " in line else ""
        if "…" not in rest:  # left out entirely: no room
            assert not any(w in line for w in desc.split() if len(w) > 3), (line, desc)
            continue
        shown = rest[:rest.index("…")]
        assert desc.startswith(shown), (line, desc)
        assert not (desc[len(shown)].isalnum() or desc[len(shown)] == "_"), (line, desc)  # cut between words
    for line in lines:  # no continuation line of a wrapped description
        assert not any(line.strip() and line.strip() == leaf["description"].split()[-1] for leaf in leaves(doc).values())


@pytest.mark.parametrize("account", ["A1", "B2"])
def test_80_columns(segment_project: Path, account: str) -> None:
    done = chs(segment_project, "explain", account, env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, [x for x in lines if len(x) > 80]
    doc = explain_json(segment_project, account)
    # one line per node: header + rule + nodes
    start = next(i for i, x in enumerate(lines) if x.startswith("Node "))
    assert lines[start + 2 + len(doc["nodes"])].startswith("History")
    assert_words_whole(done.stdout, doc)
    # the long action line wraps between words, never inside one
    action = doc["actions"][0]
    head = next(i for i, x in enumerate(lines) if x.startswith("Open actions"))
    assert " ".join(x.strip() for x in lines[head + 1:]) == \
        f"#{action['action_id']} [high] due 2026-03-08 OVERDUE (38 days): {action['title']}"
    assert len(lines) - head - 1 > 1  # it did wrap


def test_narrower_still_fits(segment_project: Path) -> None:
    for width in (60, 50):
        done = chs(segment_project, "explain", "A1", env={"COLUMNS": str(width)})
        assert done.returncode == 0, done.stderr
        assert max(len(x) for x in done.stdout.splitlines()) <= width


def test_pipe_is_120_wide_without_columns(segment_project: Path) -> None:
    done = chs(segment_project, "explain", "A1")
    widths = [len(x) for x in done.stdout.splitlines()]
    assert max(widths) == 120  # the tree's rule spans the pipe width
    assert re.search(r"Sub-score +Weight +Eff\. %", done.stdout)  # the wide tree


def test_shorten() -> None:
    from chs.cli.explain_tree import shorten

    assert shorten("count of tickets where priority = 'urgent' / 30d", 100) == \
        "count of tickets where priority = 'urgent' / 30d"
    assert shorten("count of tickets where priority = 'urgent' / 30d", 20) == "count of tickets…"
    assert shorten("count of tickets where priority = 'urgent' / 30d", 35) == "count of tickets where priority…"
    assert shorten("supercalifragilistic", 8) == "superca…"  # one word longer than the room


def test_effective_weights_follow_the_engine() -> None:
    from chs.explain.change import effective_weights

    parents = {"": None, "a": "", "a.x": "a", "a.y": "a", "b": "", "b.z": "b"}
    weights = {"a": 60, "a.x": 1, "a.y": 3, "b": 40, "b.z": 0}
    eff = effective_weights(parents, weights, {"a.x": True, "a.y": True, "b.z": True})
    # b.z has weight 0: b does not count, a takes the whole score
    assert eff == {"": 1.0, "a": 1.0, "a.x": 0.25, "a.y": 0.75, "b": 0.0, "b.z": 0.0}
    eff = effective_weights(parents, {**weights, "b.z": 1}, {"a.x": False, "a.y": True, "b.z": True})
    assert eff == pytest.approx({"": 1.0, "a": 0.6, "a.x": 0.0, "a.y": 0.6, "b": 0.4, "b.z": 0.4})
