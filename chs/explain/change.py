"""Split each leaf's share of the change into a value part and a weight part.

The change of a leaf is `delta_part = e_new × s_new − e_old × s_old` (e: effective weight,
s: sub-score; a missing-and-skipped or absent leaf has e = 0 on its side). The effective
weights move for two different reasons: the *configured* weights changed (the account moved
to another weight segment, or the config was edited), or leaves went missing or came back
and their siblings were renormalised. Only the first is a weight change a CSM should read
as "the scorecard weighs this account differently now"; the second is part of what
happened to the data. So the split uses a counterfactual effective weight

    e*  = the effective weight the leaf would have in the new snapshot
          (new sub-scores, new missing pattern) under the OLD configured weights

    delta_value  = e* × s_new − e_old × s_old     (what the data did, at the old weights)
    delta_weight = (e_new − e*) × s_new           (what the new weights did, at the new data)

and delta_value + delta_weight = delta_part exactly (delta_value is computed as
delta_part − delta_weight). Without missing-pattern changes e* = e_old, so this is
`e_old × (s_new − s_old) + (e_new − e_old) × s_new`. When no configured weight differs
between the two snapshots, e* = e_new and every delta_weight is exactly 0.

A node that only one snapshot's tree has counts with configured weight 0 on the other side,
and a leaf that only the older tree has keeps its old sub-score and missing state on the
new side: adding or removing a leaf is a weight change (a config edit), not a value change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chs.explain.model import WeightsChange

if TYPE_CHECKING:
    from chs.config import LoadedConfig

WEIGHT_TOL = 1e-9
DEFAULT_RULE = "default"  # no segment rule matched: the tree's own weights

# Row layout of _NODE_SQL in chs.explain: as_of, node, node_order, kind, variable, raw_value,
# raw_text, sub_score, weight, effective_weight, contribution, missing, imputed.
SUB, WEIGHT, EFF = 7, 8, 9
# Row layout of _META_SQL: as_of, node, node_order, parent, ...
PARENT = 3


@dataclass(frozen=True)
class WeightRules:
    """The current config's weights: the tree's own and each segment's overrides, in order.

    Only used to name the weight segment of a snapshot that was scored with this very config
    (same config hash): the rule that matched is not stored in the history, but the stored
    weights after overrides tell it apart when exactly one rule gives those weights.
    """

    digest: str
    defaults: dict[str, float]
    segments: list[tuple[str, dict[str, float]]] = field(default_factory=list)

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> WeightRules:
        from chs.tree import flatten
        cfg = loaded.config
        nodes = flatten(cfg.score.tree, cfg.score.missing)
        return cls(digest=loaded.digest, defaults={n.path: n.weight for n in nodes if n.path},
                   segments=[(name, dict(seg.weights)) for name, seg in cfg.segments.items()])

    def rule_for(self, weights: dict[str, float]) -> str | None:
        """The segment rule whose weights are exactly `weights`; None if none or several fit."""
        if set(weights) != set(self.defaults):
            return None
        candidates = [(name, {**self.defaults, **over}) for name, over in self.segments]
        candidates.append((DEFAULT_RULE, self.defaults))
        fits = [name for name, expected in candidates
                if all(abs(weights[p] - expected[p]) <= WEIGHT_TOL for p in expected)]
        return fits[0] if len(fits) == 1 else None


@dataclass
class Side:
    """One snapshot of the account: node rows by path and the tree's parents by path."""

    rows: dict[str, tuple]
    meta: dict[str, tuple]
    segment: str | None = None  # the account's segment column (`scores.segment`)
    config_hash: str | None = None  # runs.config_hash of the run that stored the snapshot

    def weights(self) -> dict[str, float]:
        """Configured weights (after segment overrides) of every non-root node."""
        return {p: float(r[WEIGHT]) for p, r in self.rows.items()
                if p and r[WEIGHT] is not None}


def effective_weights(parents: dict[str, str | None], weights: dict[str, float],
                      present: dict[str, bool]) -> dict[str, float]:
    """The engine's effective weights (chs.scoring) for a tree given by `parents`: a node
    counts when it is present and its weight is > 0, a group is present when one of its
    children counts, the root has 1 and a child its parent's × weight / Σ counting weights."""
    children: dict[str, list[str]] = {}
    for path, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(path)
    den: dict[str, float] = {}
    counts: dict[str, bool] = {}

    def visit(path: str) -> bool:
        kids = children.get(path)
        if kids is None:
            here = present.get(path, False)
        else:
            flags = [visit(k) for k in kids]
            den[path] = math.fsum(weights.get(k, 0.0) for k, f in zip(kids, flags, strict=True) if f)
            here = den[path] > 0
        counts[path] = here and (path == "" or weights.get(path, 0.0) > 0)
        return counts[path]

    out: dict[str, float] = {}

    def assign(path: str, eff: float) -> None:
        out[path] = eff
        for kid in children.get(path, []):
            assign(kid, eff * weights.get(kid, 0.0) / den[path] if eff > 0 and counts[kid] else 0.0)

    assign("", 1.0 if visit("") else 0.0)
    return out


@dataclass
class Split:
    """Per leaf: delta_value, delta_weight and e* (the effective weight delta_value uses)."""

    value: dict[str, float]
    weight: dict[str, float]
    value_effective_weight: dict[str, float]
    change: WeightsChange
    warnings: list[str]


def split(now: Side, then: Side, leaves: list[str], delta_parts: dict[str, float],
          rules: WeightRules | None) -> Split:
    """Split every leaf's delta_part into its value and weight parts (module docstring)."""
    warnings: list[str] = []
    parents = {p: m[PARENT] for p, m in then.meta.items()}
    parents.update({p: m[PARENT] for p, m in now.meta.items()})
    parents[""] = None
    w_new, w_old = now.weights(), then.weights()
    paths = (set(w_new) | set(w_old)) - {""}
    differ = any(abs(w_new.get(p, 0.0) - w_old.get(p, 0.0)) > WEIGHT_TOL for p in paths)

    for side, name in ((now, "explained"), (then, "compared")):
        present = {p: r[SUB] is not None for p, r in side.rows.items()}
        side_parents = {p: m[PARENT] for p, m in side.meta.items()} | {"": None}
        recomputed = effective_weights(side_parents, side.weights(), present)
        off = [p for p, r in side.rows.items()
               if abs(recomputed.get(p, 0.0) - float(r[EFF] or 0.0)) > 1e-6]
        if off:
            warnings.append(f"stored effective weights of the {name} snapshot do not follow its "
                            f"stored weights ({', '.join(sorted(off)[:3])})")

    e_new = {p: float(now.rows[p][EFF] or 0.0) if p in now.rows else 0.0 for p in leaves}
    weight_part = dict.fromkeys(leaves, 0.0)
    star = dict(e_new)
    if differ:
        # The new snapshot's data; a leaf only the older tree had keeps its old state.
        present, s_new = {}, {}
        for path in leaves:
            row = now.rows.get(path) if path in now.meta else then.rows.get(path)
            present[path] = row is not None and row[SUB] is not None
            s_new[path] = float(row[SUB]) if row is not None and row[SUB] is not None else 0.0
        counterfactual = effective_weights(parents, w_old, present)
        for path in leaves:
            star[path] = counterfactual.get(path, 0.0)
            if present[path]:
                weight_part[path] = (e_new[path] - star[path]) * s_new[path]
    value_part = {p: delta_parts[p] - weight_part[p] for p in leaves}
    return Split(value_part, weight_part, star, _why(now, then, differ, weight_part, rules), warnings)


def _why(now: Side, then: Side, differ: bool, weight_part: dict[str, float],
         rules: WeightRules | None) -> WeightsChange:
    """Name the reason the configured weights differ: segment rule, config edit, or both."""
    points = math.fsum(weight_part.values())
    largest = max((abs(v) for v in weight_part.values()), default=0.0)
    change = WeightsChange(reason=None, points=points, largest_part=largest, changed=differ,
                           config_from=then.config_hash, config_to=now.config_hash)
    rule_old = rule_new = None
    if rules is not None:
        if then.config_hash is not None and then.config_hash == rules.digest:
            rule_old = rules.rule_for(then.weights())
        if now.config_hash is not None and now.config_hash == rules.digest:
            rule_new = rules.rule_for(now.weights())
    if rule_old is not None and rule_new is not None:
        change.segment_from, change.segment_to = rule_old, rule_new
        change.segment_is_rule = True
    else:
        change.segment_from, change.segment_to = then.segment, now.segment
    if not differ:
        return change
    hashes_known = then.config_hash is not None and now.config_hash is not None
    config_edited = hashes_known and then.config_hash != now.config_hash
    segment_moved = change.segment_from != change.segment_to
    if config_edited and segment_moved:
        change.reason = "both"
    elif config_edited:
        change.reason = "config"
    elif segment_moved or hashes_known:
        # Same config, other weights: only the segment rule can have changed.
        change.reason = "segment"
    return change
