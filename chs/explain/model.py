"""What `explain` returns: one account's snapshot, its tree and its change (DESIGN 3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chs.explain.rollup import ChildExplanation


@dataclass
class NodeExplanation:
    """One tree node of the explained snapshot.

    `score` is the node's sub-score, `contribution` its points (a group: the sum of its
    leaves), `delta_part` its share of the change (None without a compared snapshot),
    split exactly into `delta_value` (what the data did) + `delta_weight` (what changed
    configured weights did; see chs.explain.change).
    `in_snapshot` is False for a node that only the compared snapshot had (the config
    changed): it is listed, after its parent's subtree, so that the delta parts still add
    up; `in_previous` is False for a node the compared snapshot did not have.
    """

    path: str
    label: str
    kind: str  # group | leaf
    depth: int
    score: float | None
    weight: float | None
    effective_weight: float
    contribution: float
    delta_part: float | None
    variable: str | None = None
    description: str | None = None
    raw_value: float | str | None = None
    missing: bool = False
    imputed: bool = False
    missing_policy: str | None = None  # "skip" or the imputed sub-score, as stored
    in_snapshot: bool = True
    in_previous: bool | None = None  # None: nothing compared
    # The same leaf in the compared snapshot, for "raw 0.10 (was 0.42)".
    previous_raw_value: float | str | None = None
    previous_score: float | None = None
    previous_effective_weight: float | None = None
    delta_value: float | None = None
    delta_weight: float | None = None
    # The leaf's effective weight in this snapshot under the compared snapshot's configured
    # weights (= effective_weight when no configured weight changed); delta_value uses it.
    value_effective_weight: float | None = None

    @property
    def is_leaf(self) -> bool:
        return self.kind == "leaf"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path, "label": self.label, "kind": self.kind, "score": self.score,
            "weight": self.weight, "effective_weight": self.effective_weight,
            "contribution": self.contribution, "delta_part": self.delta_part,
            "delta_value": self.delta_value, "delta_weight": self.delta_weight,
        }
        if self.is_leaf:
            out.update(variable=self.variable, raw_value=self.raw_value, missing=self.missing,
                       imputed=self.imputed, description=self.description)
        if not self.in_snapshot:
            out["in_snapshot"] = False
        if self.in_previous is False:
            out["in_previous"] = False
        return out


@dataclass
class ActionItem:
    """An open call-to-action of the account (from the `actions` state table)."""

    action_id: int
    rule: str | None
    priority: str | None
    due_date: dt.date | None
    title: str | None
    reason: str | None
    owner: str | None
    created_as_of: dt.date | None
    # Overdue: due before the explained snapshot's as_of (due dates count as_of days).
    days_overdue: int | None = None

    @property
    def overdue(self) -> bool:
        return self.days_overdue is not None

    def to_dict(self) -> dict[str, Any]:
        return {"action_id": self.action_id, "rule": self.rule, "priority": self.priority,
                "due_date": _iso(self.due_date), "title": self.title, "reason": self.reason,
                "owner": self.owner, "created_as_of": _iso(self.created_as_of),
                "overdue": self.overdue, "days_overdue": self.days_overdue}


WEIGHT_LINE_MIN = 0.05  # points: below this a weight change is not worth a line


@dataclass
class WeightsChange:
    """Why the account's configured weights differ between the two snapshots, and by how much.

    `reason`: "segment" (another weight segment rule applied), "config" (the config was
    edited: `runs.config_hash` differs), "both", or None (no weight differs, nothing
    compared, or — in a database without run hashes — not known). `points` is Σ of the
    leaves' `delta_weight` (None without a comparison), `largest_part` the largest
    |delta_weight| of one leaf. `segment_from/to` are the segment rule names when they could
    be told from the stored weights (`segment_is_rule`; "default" = no rule matched), else
    the account's segment column; `config_from/to` the config hashes.
    """

    reason: str | None
    points: float | None
    largest_part: float = 0.0
    changed: bool = False
    segment_from: str | None = None
    segment_to: str | None = None
    segment_is_rule: bool = False
    config_from: str | None = None
    config_to: str | None = None

    @property
    def shown(self) -> bool:
        """Worth a line in the view: weights differ and move the score or a leaf by ≥ 0.05."""
        return self.changed and self.points is not None and (
            abs(self.points) > WEIGHT_LINE_MIN or self.largest_part > WEIGHT_LINE_MIN)

    def to_dict(self) -> dict[str, Any]:
        if self.reason in ("segment", "both"):
            old, new = self.segment_from, self.segment_to
        elif self.reason == "config":
            old, new = self.config_from, self.config_to
        else:
            old = new = None
        return {"reason": self.reason, "from": old, "to": new, "points": self.points,
                "changed": self.changed, "segment_from": self.segment_from, "segment_to": self.segment_to,
                "config_from": self.config_from, "config_to": self.config_to}


@dataclass
class HistoryPoint:
    as_of: dt.date
    score: float | None
    band: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": _iso(self.as_of), "score": self.score, "band": self.band}


@dataclass
class Explanation:
    """One account as of one snapshot, compared with an earlier snapshot.

    `previous_as_of` is the snapshot that `delta` and every `delta_part` compare with:
    the previous snapshot by default, else the one chosen by `comparison`
    ("compare" = an exact date, "since:<N>d" = the latest snapshot on or before as_of − N).
    `delta` is None when there is no such snapshot, the account was not in it, or one
    side has no score.
    """

    account_id: str
    account_name: str | None
    owner: str | None
    segment: str | None
    as_of: dt.date
    score: float | None
    band: str | None
    coverage: float | None
    previous_as_of: dt.date | None
    previous_score: float | None
    previous_band: str | None
    delta: float | None
    comparison: str
    nodes: list[NodeExplanation]
    actions: list[ActionItem] = field(default_factory=list)
    history: list[HistoryPoint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    weights_changed: WeightsChange = field(default_factory=lambda: WeightsChange(reason=None, points=None))
    # A parent (accounts.parent, chs/rollup.py) has no tree of its own (`nodes` is empty):
    # its children, how they were weighed, and the family's revenue instead.
    level: str = "account"
    children: list[ChildExplanation] = field(default_factory=list)
    rollup_basis: str | None = None
    family_revenue: float | None = None

    @property
    def leaves(self) -> list[NodeExplanation]:
        return [n for n in self.nodes if n.is_leaf]

    def movers(self, limit: int = 5) -> list[NodeExplanation]:
        """Leaves whose data moved the score most (their `delta_value`), largest first.

        Changed configured weights are not in these parts: `weights_changed` sums them.
        """
        def part(n: NodeExplanation) -> float:
            return (n.delta_value if n.delta_value is not None else n.delta_part) or 0.0
        moved = [n for n in self.leaves if n.delta_part is not None and abs(part(n)) >= 0.05]
        return sorted(moved, key=lambda n: -abs(part(n)))[:limit]

    def band_changes(self) -> list[tuple[dt.date, str | None, str | None]]:
        """(as_of, band before, band after) wherever the band changed between snapshots."""
        changes = []
        for before, after in zip(self.history, self.history[1:]):
            if before.band != after.band:
                changes.append((after.as_of, before.band, after.band))
        return changes

    def to_dict(self) -> dict[str, Any]:
        """The `chs explain --json` object (DESIGN 3), plus a few documented extra keys."""
        return {
            "account_id": self.account_id, "account_name": self.account_name, "owner": self.owner,
            "segment": self.segment, "as_of": _iso(self.as_of), "score": self.score, "band": self.band,
            "previous_as_of": _iso(self.previous_as_of), "delta": self.delta, "coverage": self.coverage,
            "actions": [a.to_dict() for a in self.actions],
            "nodes": [n.to_dict() for n in self.nodes],
            "comparison": self.comparison, "previous_score": self.previous_score,
            "previous_band": self.previous_band,
            "weights_changed": self.weights_changed.to_dict(),
            "history": [h.to_dict() for h in self.history],
            "warnings": self.warnings,
            "level": self.level,
            **({"children": [c.to_dict() for c in self.children], "rollup_weight": self.rollup_basis,
                "family_revenue": self.family_revenue} if self.level == "parent" else {}),
        }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
