"""Rewrite only the `weight:` values of the score tree in a chs.yaml text.

`chs calibrate` proposes new weights as "the same file with only the weights changed", so
the user can diff it against the hand-written config. Re-dumping YAML would drop comments
and layout; instead we locate each weight scalar with PyYAML's composer (its marks carry
character offsets into the text) and splice new text into exactly that span.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

__all__ = ["format_weight", "rewrite_weights"]

# A splice: replace text[start:end] with `new` (start == end is an insertion).
_Edit = tuple[int, int, str]


def format_weight(value: float) -> str:
    """Shortest readable YAML number: 2 decimals from 1 up, 3 significant digits below 1.

    Never uses exponent notation: YAML 1.1 (PyYAML) reads `1e-05` as a string.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"weight must be a finite number >= 0, got {value!r}")
    if value == 0:
        return "0"  # also turns -0.0 into "0"
    rounded = Decimal(repr(round(value, 2))) if value >= 1 else Decimal(f"{value:.3g}")
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _get(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    # Last occurrence wins, as in yaml.safe_load (the loader reports duplicates separately).
    found = None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = value_node
    return found


def _tree_nodes(root: yaml.Node | None) -> dict[str, yaml.Node]:
    """Every node under score.tree by dotted path; segments are never visited."""
    out: dict[str, yaml.Node] = {}
    score = _get(root, "score") if isinstance(root, yaml.MappingNode) else None
    tree = _get(score, "tree") if isinstance(score, yaml.MappingNode) else None

    def walk(children: yaml.Node | None, prefix: str) -> None:
        if not isinstance(children, yaml.MappingNode):
            return
        for key_node, value_node in children.value:
            path = f"{prefix}{key_node.value}"
            out[path] = value_node
            if isinstance(value_node, yaml.MappingNode):
                walk(_get(value_node, "children"), path + ".")

    walk(tree, "")
    return out


def _same_number(node: yaml.ScalarNode, value: float, new: str) -> bool:
    """True if the existing scalar already means `value`, so its spelling (35.0) can stay."""
    if node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return False
    try:
        old = SafeConstructor().construct_object(node)
    except ConstructorError:
        return False
    return old in (value, float(new))


def _newline_at(text: str, index: int) -> str:
    # An inserted line must end like its neighbours, or CRLF files get mixed endings.
    end = min((i for i in (text.find("\n", index), text.find("\r", index)) if i >= 0), default=-1)
    if end < 0:
        return "\n"
    if text.startswith("\r\n", end):
        return "\r\n"
    return text[end]


def _edit_for(path: str, node: yaml.Node, value: float, text: str) -> _Edit | None:
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"score.tree node '{path}' is not a mapping; cannot set its weight")
    new = format_weight(value)
    weight = _get(node, "weight")
    if weight is not None:
        if isinstance(weight, yaml.ScalarNode) and _same_number(weight, value, new):
            return None
        # For scalars the end mark sits right after the value (after a closing quote, before
        # any trailing spaces or comment), so comments on the line survive.
        return (weight.start_mark.index, weight.end_mark.index, new)
    if node.flow_style:
        brace = node.start_mark.index
        if text[brace] != "{":
            raise ValueError(f"score.tree node '{path}': unexpected flow mapping syntax")
        return (brace + 1, brace + 1, f"weight: {new}, " if node.value else f"weight: {new}")
    # Block mapping: insert "weight: V<newline><indent>" at the first key. When the key starts
    # its own line this equals inserting a whole line before it with the same indentation;
    # padding with spaces to the key's column also covers keys not at a line start ("- a:").
    first = node.value[0][0].start_mark
    return (first.index, first.index, f"weight: {new}{_newline_at(text, first.index)}{' ' * first.column}")


def rewrite_weights(text: str, weights: Mapping[str, float]) -> str:
    """Return `text` with the weight of each tree node path in `weights` replaced; every other byte unchanged.

    Paths are dotted node names under score.tree (`success.adoption.seat_use`). A node without
    a `weight:` gets one inserted. A weight that already has the requested value keeps its
    spelling. Raises ValueError for paths that are not tree nodes.
    """
    nodes = _tree_nodes(yaml.compose(text, Loader=yaml.SafeLoader))
    unknown = [p for p in weights if p not in nodes]
    if unknown:
        raise ValueError("not a score.tree node path: " + ", ".join(repr(p) for p in unknown))
    edits = [e for p, v in weights.items() if (e := _edit_for(p, nodes[p], v, text)) is not None]
    # Splice from the end backwards so earlier offsets stay valid.
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text
