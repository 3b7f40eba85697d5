"""rewrite_weights: only the score-tree weights change, every other byte of chs.yaml stays."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

import pytest
import yaml

from chs.calibrate.yaml_weights import format_weight, rewrite_weights
from chs.config.load import load_config


def _example() -> str:
    # Read without newline translation so offsets are checked against the real bytes.
    return (resources.files("chs") / "resources/examples/telecom/chs.yaml").read_bytes().decode("utf-8")


def _node(tree: dict, path: str) -> dict:
    names = path.split(".")
    node = tree[names[0]]
    for name in names[1:]:
        node = node["children"][name]
    return node


def _changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# One of each shape in the example: a leaf in a flow mapping, a block-mapped leaf with a
# comment line above, block-mapped groups at two levels, a leaf whose flow mapping is the
# last line of the tree.
NEW = {
    "success.adoption.seat_use": 12.5,
    "success.adoption.features": 0.333333,
    "success.adoption": 61,
    "value": 30.25,
    "value.payment.overdue": 0,
}


@pytest.mark.parametrize(
    ("value", "text"),
    [(35, "35"), (35.0, "35"), (12.5, "12.5"), (0.333333, "0.333"), (100 / 3, "33.33"),
     (0, "0"), (-0.0, "0"), (0.5, "0.5"), (1e-5, "0.00001"), (1e20, "100000000000000000000")],
)
def test_format_weight(value: float, text: str) -> None:
    assert format_weight(value) == text
    assert yaml.safe_load(text) == pytest.approx(value, rel=0.01, abs=1e-9)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_format_weight_rejects_invalid(bad: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        format_weight(bad)


def test_example_only_weight_lines_change() -> None:
    old = _example()
    new = rewrite_weights(old, NEW)
    removed, added = _changed_lines(old, new)
    # Hand-checked against example.yaml.
    assert removed == [
        "          weight: 60",
        "            seat_use: {weight: 35, variable: seat_use, scale: {thresholds: [[0.2, 0], [0.5, 60], [0.8, 100]]}}",
        "              weight: 20",
        "      weight: 25",
        "            overdue: {weight: 40, variable: overdue_invoices, scale: {steps: [[0, 100], [1, 40], [2, 0]]}}",
    ]
    assert added == [
        "          weight: 61",
        "            seat_use: {weight: 12.5, variable: seat_use, scale: {thresholds: [[0.2, 0], [0.5, 60], [0.8, 100]]}}",
        "              weight: 0.333",
        "      weight: 30.25",
        "            overdue: {weight: 0, variable: overdue_invoices, scale: {steps: [[0, 100], [1, 40], [2, 0]]}}",
    ]
    assert len(new.splitlines()) == len(old.splitlines())


def test_example_same_document_except_weights() -> None:
    old = _example()
    expected = yaml.safe_load(old)
    for path, value in NEW.items():
        _node(expected["score"]["tree"], path)["weight"] = float(format_weight(value))
    assert yaml.safe_load(rewrite_weights(old, NEW)) == expected


def test_comments_preserved() -> None:
    old = _example()
    new_lines = set(rewrite_weights(old, NEW).splitlines())
    comments = [line for line in old.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) > 20
    assert all(line in new_lines for line in comments)


def test_trailing_comment_and_quoted_keys() -> None:
    text = (
        "score:\n"
        "  'tree':\n"
        '    "success":\n'
        "      weight: 35   # why 35: see the workshop notes\n"
        "      children:\n"
        "        'a b': {'weight': 35.0, variable: x}  # flow\n"
        '        c: {weight: "7", variable: y}\n'
    )
    new = rewrite_weights(text, {"success": 40, "success.a b": 2.5, "success.c": 3})
    assert new == (
        "score:\n"
        "  'tree':\n"
        '    "success":\n'
        "      weight: 40   # why 35: see the workshop notes\n"
        "      children:\n"
        "        'a b': {'weight': 2.5, variable: x}  # flow\n"
        "        c: {weight: 3, variable: y}\n"
    )


def test_insert_missing_weight() -> None:
    text = (
        "score:\n"
        "  tree:\n"
        "    success:\n"
        "      # no weight: defaults to 1\n"
        "      label: Success\n"
        "      children:\n"
        "        a: {variable: x, scale: {steps: [[0, 0]]}}\n"
        "        b:\n"
        "          variable: y\n"
        "          scale: {steps: [[0, 0]]}\n"
        "segments:\n"
        "  s: {when: 'true', weights: {success: 5}}\n"
    )
    new = rewrite_weights(text, {"success": 2, "success.a": 0.25, "success.b": 3})
    assert new == (
        "score:\n"
        "  tree:\n"
        "    success:\n"
        "      # no weight: defaults to 1\n"
        "      weight: 2\n"
        "      label: Success\n"
        "      children:\n"
        "        a: {weight: 0.25, variable: x, scale: {steps: [[0, 0]]}}\n"
        "        b:\n"
        "          weight: 3\n"
        "          variable: y\n"
        "          scale: {steps: [[0, 0]]}\n"
        "segments:\n"
        "  s: {when: 'true', weights: {success: 5}}\n"
    )


def test_segment_weights_untouched() -> None:
    old = _example()
    # "success.adoption.usage_trend" is also a segment weights key (set to 0 there).
    new = rewrite_weights(old, {"success.adoption.usage_trend": 3, "success": 9})
    before, after = yaml.safe_load(old), yaml.safe_load(new)
    assert after["segments"] == before["segments"]
    assert _node(after["score"]["tree"], "success.adoption.usage_trend")["weight"] == 3
    assert after["score"]["tree"]["success"]["weight"] == 9
    assert old[old.index("\nsegments:"):] == new[new.index("\nsegments:"):]


def test_idempotent_with_current_weights() -> None:
    old = _example()
    tree = yaml.safe_load(old)["score"]["tree"]

    def paths(nodes: dict, prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {}
        for name, node in nodes.items():
            out[prefix + name] = node["weight"]
            out.update(paths(node.get("children") or {}, f"{prefix}{name}."))
        return out

    current = paths(tree)
    assert len(current) == 27
    assert rewrite_weights(old, current) == old
    # A weight already spelled differently but meaning the same value keeps its spelling.
    text = "score:\n  tree:\n    a: {weight: 35.0, variable: x}\n"
    assert rewrite_weights(text, {"a": 35}) == text
    assert rewrite_weights(text, {}) == text


def test_unknown_path() -> None:
    old = _example()
    with pytest.raises(ValueError, match="success.adoption.nope"):
        rewrite_weights(old, {"success": 1, "success.adoption.nope": 2})
    with pytest.raises(ValueError, match="''"):
        rewrite_weights(old, {"": 1})
    # Segment keys and non-tree keys are not tree paths.
    with pytest.raises(ValueError, match="onboarding"):
        rewrite_weights(old, {"onboarding": 1})
    with pytest.raises(ValueError, match="adoption"):
        rewrite_weights(old, {"adoption": 1})
    # A node that is not a mapping cannot carry a weight.
    with pytest.raises(ValueError, match="not a mapping"):
        rewrite_weights("score:\n  tree:\n    a:\n", {"a": 1})


def test_crlf() -> None:
    old = _example().replace("\n", "\r\n")
    new = rewrite_weights(old, NEW)
    assert "\n" not in new.replace("\r\n", "")
    assert new == rewrite_weights(_example(), NEW).replace("\n", "\r\n")
    text = "score:\r\n  tree:\r\n    a:\r\n      variable: x  # c\r\n"
    assert rewrite_weights(text, {"a": 4}) == "score:\r\n  tree:\r\n    a:\r\n      weight: 4\r\n      variable: x  # c\r\n"


def test_rewritten_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "chs.yaml"
    path.write_bytes(rewrite_weights(_example(), NEW).encode("utf-8"))
    config = load_config(path).config
    for name, value in NEW.items():
        node = config.score.tree[name.split(".")[0]]
        for child in name.split(".")[1:]:
            assert node.children is not None
            node = node.children[child]
        assert node.weight == float(format_weight(value))
    assert config.segments["onboarding"].weights["success.adoption.usage_trend"] == 0
