"""What `explain` returns: one account's snapshot, its tree and its change (DESIGN 3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeExplanation:
    """One tree node of the explained snapshot.

    `score` is the node's sub-score, `contribution` its points (a group: the sum of its
    leaves), `delta_part` its share of the change (None without a compared snapshot).
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

    @property
    def is_leaf(self) -> bool:
        return self.kind == "leaf"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path, "label": self.label, "kind": self.kind, "score": self.score,
            "weight": self.weight, "effective_weight": self.effective_weight,
            "contribution": self.contribution, "delta_part": self.delta_part,
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

    def to_dict(self) -> dict[str, Any]:
        return {"action_id": self.action_id, "rule": self.rule, "priority": self.priority,
                "due_date": _iso(self.due_date), "title": self.title, "reason": self.reason,
                "owner": self.owner, "created_as_of": _iso(self.created_as_of)}


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

    @property
    def leaves(self) -> list[NodeExplanation]:
        return [n for n in self.nodes if n.is_leaf]

    def movers(self, limit: int = 5) -> list[NodeExplanation]:
        """Leaves that moved the score most, largest change first."""
        moved = [n for n in self.leaves if n.delta_part is not None and abs(n.delta_part) >= 0.05]
        return sorted(moved, key=lambda n: -abs(n.delta_part or 0.0))[:limit]

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
            "history": [h.to_dict() for h in self.history],
            "warnings": self.warnings,
        }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
