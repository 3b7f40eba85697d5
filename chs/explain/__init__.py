"""`explain`: one account's stored snapshot, its drivers and its change (DESIGN 2.3, 3).

Reads only the history tables (`scores`, `node_scores`, `snapshot_nodes`, `actions`); it never
recomputes a run. The change splits exactly into per-leaf parts: the score is Σ eff × s over
present leaves (effective weights sum to 1), so

    delta_part(leaf) = eff_now × s_now − eff_then × s_then

(a missing-and-skipped leaf has effective weight 0 on its side) and Σ delta_part = delta.
A group's part is the sum of its leaves' parts.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb

from chs.explain.change import Side, WeightRules, split
from chs.explain.lookup import resolve_account, resolve_snapshots, snapshot_dates, suggest
from chs.explain.model import ActionItem, Explanation, HistoryPoint, NodeExplanation, WeightsChange
from chs.explain.rollup import ChildExplanation, account_level, load_rollup

__all__ = ["ActionItem", "ChildExplanation", "Explanation", "HistoryPoint", "NodeExplanation", "WeightRules", "WeightsChange",
           "explain", "suggest"]

TOLERANCE = 1e-9

_NODE_SQL = """
SELECT n.as_of, n.node, n.node_order, n.kind, n.variable, n.raw_value, n.raw_text, n.sub_score,
       n.weight, n.effective_weight, n.contribution, n.missing, n.imputed
FROM node_scores AS n
WHERE n.account_id = $account AND n.as_of IN ($now, $then)
"""

_META_SQL = """
SELECT as_of, node, node_order, parent, label, kind, variable, description, missing_policy
FROM snapshot_nodes WHERE as_of IN ($now, $then)
"""

_HISTORY_SQL = """
SELECT as_of, account_name, owner, segment, score, band, delta, coverage, run_id
FROM scores WHERE account_id = $account ORDER BY as_of
"""

_RUNS_SQL = "SELECT run_id, config_hash FROM runs WHERE run_id IN ($now, $then)"

_ACTIONS_SQL = """
SELECT action_id, rule, priority, due_date, title, reason, owner, created_as_of
FROM actions WHERE account_id = $account AND status = 'open'
ORDER BY due_date NULLS LAST, action_id
"""


def explain(con: duckdb.DuckDBPyConnection, account: str, as_of: dt.date | None = None,
            compare: dt.date | None = None, since_days: int | None = None,
            rules: WeightRules | None = None) -> Explanation:
    """Explain `account` (id or exact name) as of a stored snapshot (default: the latest).

    `rules` (the current config's weights, optional) only serves to name the weight segment
    of snapshots scored with that same config; nothing is recomputed from it.
    """
    # DuckDB draws a progress bar on stdout for slow queries; it would corrupt `--json`.
    con.execute("SET enable_progress_bar = false")
    snaps = resolve_snapshots(snapshot_dates(con), as_of, compare, since_days)
    account_id = resolve_account(con, account, snaps.as_of)
    now, then = snaps.as_of, snaps.compared
    history = con.execute(_HISTORY_SQL, {"account": account_id}).fetchall()
    by_date = {row[0]: row for row in history}
    current = by_date[now]
    before = by_date.get(then) if then is not None else None

    if account_level(con, account_id, now) == "parent":
        return _explain_parent(con, account_id, snaps.comparison, now, then, current, before, history)
    params = {"account": account_id, "now": now, "then": then if then is not None else now}
    node_rows = _by_date(con.execute(_NODE_SQL, params).fetchall())
    meta_rows = _by_date(con.execute(_META_SQL, {"now": params["now"], "then": params["then"]}).fetchall())
    comparable = before is not None and before[4] is not None and current[4] is not None
    nodes = _nodes(meta_rows.get(now, {}), node_rows.get(now, {}),
                   meta_rows.get(then, {}) if comparable else {},
                   node_rows.get(then, {}) if comparable else {}, comparable)

    delta = current[4] - before[4] if comparable else None  # type: ignore[index,operator]
    result = Explanation(
        account_id=account_id, account_name=current[1], owner=current[2], segment=current[3],
        as_of=now, score=current[4], band=current[5], coverage=current[7],
        previous_as_of=then, previous_score=before[4] if before else None,
        previous_band=before[5] if before else None, delta=delta, comparison=snaps.comparison,
        nodes=nodes, actions=_actions(con, account_id, now),
        history=[HistoryPoint(as_of=r[0], score=r[4], band=r[5]) for r in history],
    )
    warnings = []
    if comparable:
        hashes = _config_hashes(con, current[8], before[8])  # type: ignore[index]
        sides = [Side(rows=node_rows.get(day, {}), meta=meta_rows.get(day, {}), segment=row[3],
                      config_hash=hashes.get(row[8]))
                 for day, row in ((now, current), (then, before))]  # type: ignore[list-item]
        warnings = _split(nodes, sides[0], sides[1], rules, result)
    result.warnings = _check(result, stored_delta=current[6]) + warnings
    return result


def _explain_parent(con: duckdb.DuckDBPyConnection, account_id: str, comparison: str, now: dt.date,
                    then: dt.date | None, current: tuple, before: tuple | None, history: list[tuple]) -> Explanation:
    """A parent's view: no tree of its own, its children's scores, weights and contributions."""
    comparable = before is not None and before[4] is not None and current[4] is not None
    rollup = load_rollup(con, account_id, now, then if comparable else None)
    result = Explanation(
        account_id=account_id, account_name=current[1], owner=current[2], segment=current[3],
        as_of=now, score=current[4], band=current[5], coverage=current[7],
        previous_as_of=then, previous_score=before[4] if before else None,
        previous_band=before[5] if before else None,
        delta=current[4] - before[4] if comparable else None,  # type: ignore[index,operator]
        comparison=comparison, nodes=[], actions=_actions(con, account_id, now),
        history=[HistoryPoint(as_of=r[0], score=r[4], band=r[5]) for r in history],
        level="parent", children=rollup.children, rollup_basis=rollup.basis, family_revenue=rollup.revenue,
    )
    warnings = []
    if result.score is not None:
        total = 50 + math.fsum(c.contribution for c in rollup.children)
        if abs(total - result.score) > TOLERANCE:
            warnings.append(f"stored children's contributions add up to {total:.6f}, not the score "
                            f"{result.score:.6f}")
    if result.delta is not None and rollup.comparable:
        parts = math.fsum(c.delta_part or 0.0 for c in rollup.children)
        if abs(parts - result.delta) > TOLERANCE:
            warnings.append(f"children's delta parts add up to {parts:.6f}, not the delta {result.delta:.6f}")
    elif result.delta is not None:
        warnings.append(f"{account_id} was not rolled up as a parent on {then}: the change is not split "
                        "by child")
    result.warnings = warnings
    return result


def _config_hashes(con: duckdb.DuckDBPyConnection, now_run: str | None, then_run: str | None) -> dict[str, str]:
    """run_id → runs.config_hash of the runs that stored the two snapshots."""
    try:
        rows = con.execute(_RUNS_SQL, {"now": now_run, "then": then_run}).fetchall()
    except duckdb.Error:  # an old database without runs
        return {}
    return {run_id: digest for run_id, digest in rows if digest}


def _split(nodes: list[NodeExplanation], now: Side, then: Side, rules: WeightRules | None,
           result: Explanation) -> list[str]:
    """Fill delta_value / delta_weight (groups: sums of their leaves) and weights_changed."""
    leaves = [n for n in nodes if n.is_leaf]
    parts = split(now, then, [n.path for n in leaves], {n.path: n.delta_part or 0.0 for n in leaves}, rules)
    for node in leaves:
        node.delta_value = parts.value[node.path]
        node.delta_weight = parts.weight[node.path]
        node.value_effective_weight = parts.value_effective_weight[node.path]
    for node in nodes:
        if not node.is_leaf:
            inside = [n for n in leaves if not node.path or n.path.startswith(node.path + ".")]
            node.delta_value = math.fsum(n.delta_value or 0.0 for n in inside)
            node.delta_weight = math.fsum(n.delta_weight or 0.0 for n in inside)
    result.weights_changed = parts.change
    return parts.warnings


def _by_date(rows: list[tuple]) -> dict[dt.date, dict[str, tuple]]:
    out: dict[dt.date, dict[str, tuple]] = {}
    for row in rows:
        out.setdefault(row[0], {})[row[1]] = row
    return out


def _raw(row: tuple | None) -> float | str | None:
    """The leaf's raw value: the text for map scales, else the number."""
    if row is None:
        return None
    return row[6] if row[6] is not None else row[5]


def _part(row: tuple | None) -> float:
    """eff × s of one leaf in one snapshot; 0 when missing and skipped, or absent."""
    if row is None or row[7] is None or row[9] is None:
        return 0.0
    return float(row[9]) * float(row[7])


def _nodes(meta_now: dict[str, tuple], now: dict[str, tuple], meta_then: dict[str, tuple],
           then: dict[str, tuple], comparable: bool) -> list[NodeExplanation]:
    """The explained tree in node order; nodes only the compared snapshot had come last."""
    order = sorted(meta_now.values(), key=lambda m: m[2])
    for meta in sorted((m for p, m in meta_then.items() if p not in meta_now), key=lambda m: m[2]):
        order.insert(_after_subtree(order, meta[3]), meta)
    nodes: list[NodeExplanation] = []
    for meta in order:
        path, kind = meta[1], meta[5]
        row, old = now.get(path), then.get(path)
        in_snapshot = path in meta_now
        leaf = kind == "leaf"
        nodes.append(NodeExplanation(
            path=path, label=meta[4], kind=kind, depth=0 if not path else path.count(".") + 1,
            score=row[7] if row else None, weight=row[8] if row else None,
            effective_weight=float(row[9]) if row and row[9] is not None else 0.0,
            contribution=float(row[10]) if row and row[10] is not None else 0.0,
            delta_part=(_part(row) - _part(old)) if comparable and leaf else None,
            variable=meta[6] if leaf else None, description=meta[7] if leaf else None,
            raw_value=_raw(row) if leaf else None,
            missing=bool(row[11]) if row and leaf else leaf and row is None,
            imputed=bool(row[12]) if row and leaf else False,
            missing_policy=meta[8] if leaf else None, in_snapshot=in_snapshot,
            previous_raw_value=_raw(old) if leaf else None,
            previous_score=old[7] if old else None,
            previous_effective_weight=old[9] if old else None,
            in_previous=path in meta_then if comparable else None,
        ))
    if comparable:
        for node in nodes:
            if not node.is_leaf:
                prefix = node.path + "."
                node.delta_part = math.fsum(
                    n.delta_part or 0.0 for n in nodes
                    if n.is_leaf and (not node.path or n.path.startswith(prefix)))
    return nodes


def _after_subtree(order: list[tuple], parent: str | None) -> int:
    """Where a node that only the compared snapshot had goes: after its parent's subtree."""
    if parent is None or not any(m[1] == parent for m in order):
        return len(order)
    inside = [i for i, m in enumerate(order) if m[1] == parent or not parent or m[1].startswith(parent + ".")]
    return inside[-1] + 1


def _actions(con: duckdb.DuckDBPyConnection, account_id: str, as_of: dt.date) -> list[ActionItem]:
    """Open actions; the table may be empty (or, in an old database, absent).

    An action is overdue when its due date is before the explained snapshot's as_of: due
    dates count days of as_of (`due: 7d` = created_as_of + 7), so the snapshot date, not the
    wall clock, is the day the view describes — for the nightly snapshot the two are the same.
    """
    try:
        rows = con.execute(_ACTIONS_SQL, {"account": account_id}).fetchall()
    except duckdb.CatalogException:
        return []
    items = [ActionItem(*row) for row in rows]
    for item in items:
        if item.due_date is not None and item.due_date < as_of:
            item.days_overdue = (as_of - item.due_date).days
    return items


def _check(result: Explanation, stored_delta: Any) -> list[str]:
    """The invariants a CSM relies on; a failure means history is stale or inconsistent."""
    warnings = []
    leaves = result.leaves
    if result.score is not None:
        total = 50 + math.fsum(n.contribution for n in leaves if n.in_snapshot)
        if abs(total - result.score) > TOLERANCE:
            warnings.append(f"stored contributions add up to {total:.6f}, not the score {result.score:.6f}")
    if result.delta is not None:
        parts = math.fsum(n.delta_part or 0.0 for n in leaves)
        if abs(parts - result.delta) > TOLERANCE:
            warnings.append(f"delta parts add up to {parts:.6f}, not the delta {result.delta:.6f}")
        split_total = math.fsum([*(n.delta_value or 0.0 for n in leaves), *(n.delta_weight or 0.0 for n in leaves)])
        if abs(split_total - parts) > TOLERANCE:
            warnings.append(f"value and weight parts add up to {split_total:.6f}, not {parts:.6f}")
        if result.comparison == "previous" and (stored_delta is None
                                                or abs(stored_delta - result.delta) > TOLERANCE):
            warnings.append(f"stored delta {stored_delta} differs from the score change since "
                            f"{result.previous_as_of} ({result.delta:.6f}); that snapshot was "
                            f"re-scored or backfilled after this one")
    return warnings
