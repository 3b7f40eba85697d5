"""docs/config.md stays true: every ```yaml block loads with the real loader (or fails with
the message its `<!-- expect-error: ... -->` marker names), and every config key is documented.

A block with `version:` is a complete config. Any other block is a fragment, deep-merged into
BASE (the doc's minimal config plus the sources `tickets`, `nps`, `invoices`, as the doc says)
so that its references resolve. `load_config` validates keys and cross-references but opens
no data file, so no exports are needed.
"""

from __future__ import annotations

import copy
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from chs.config import load_config
from chs.config.models import AGGS, Config
from chs.errors import ConfigError

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"

BASE: dict[str, Any] = {
    "version": 1,
    "accounts": {"source": "accounts", "id": "account_id"},
    "sources": {
        "accounts": {"path": "data/accounts.csv"},
        "usage": {"path": "data/usage/*.parquet", "account": "account_id", "time": "event_time"},
        "tickets": {"path": "data/tickets.csv", "account": "account_id", "time": "created"},
        "nps": {"path": "data/nps.csv", "account": "account_id", "time": "responded_at"},
        "invoices": {"path": "data/invoices.parquet", "account": "account_id", "time": "due_date"},
    },
    "variables": {"events_30d": {"source": "usage", "agg": "count", "window": "30d"}},
    "score": {"tree": {"activity": {"variable": "events_30d", "scale": {"thresholds": [[0, 0], [100, 100]]}}}},
}

_FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*expect-error:\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    expect_error: str | None

    @property
    def id(self) -> str:
        return f"line{self.line}"


def _blocks(text: str) -> list[Block]:
    """Every fenced block, with the expect-error marker of the last non-blank line before it."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), None)
        assert end is not None, f"docs/config.md:{i + 1}: unclosed code fence"
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.match(before)
        out.append(Block(i + 1, lang.lower(), "\n".join(lines[i + 1:end]) + "\n",
                         marker.group(1) if marker else None))
        i = end + 1
    return out


DOC_TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = _blocks(DOC_TEXT)
YAML_BLOCKS = [b for b in BLOCKS if b.lang == "yaml"]


def deep_merge(base: Any, extra: Any) -> Any:
    """`extra` merged into a copy of `base`: mappings key by key, everything else replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(extra)


def _config_text(block: Block) -> str:
    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"docs/config.md:{block.line}: a yaml block must be a mapping"
    if "version" in data:
        return block.text  # a complete config, loaded exactly as written
    return yaml.safe_dump(deep_merge(BASE, data), sort_keys=False, allow_unicode=True)


def _load(block: Block, tmp_path: Path):
    path = tmp_path / "chs.yaml"
    path.write_text(_config_text(block), encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[b.id for b in YAML_BLOCKS])
def test_yaml_block_loads_or_fails_as_marked(block: Block, tmp_path: Path) -> None:
    if block.expect_error is None:
        try:
            _load(block, tmp_path)
        except ConfigError as exc:
            pytest.fail(f"docs/config.md:{block.line}: the example does not load (mark it with "
                        f"<!-- expect-error: ... --> if it should fail):\n{exc}")
        return
    with pytest.raises(ConfigError) as info:
        _load(block, tmp_path)
    assert block.expect_error in str(info.value), (
        f"docs/config.md:{block.line}: expected an error containing {block.expect_error!r}, got:\n{info.value}")


def test_base_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "chs.yaml"
    path.write_text(yaml.safe_dump(BASE, sort_keys=False), encoding="utf-8")
    load_config(path)


def test_doc_starts_with_a_complete_config_and_has_error_examples() -> None:
    assert YAML_BLOCKS, "docs/config.md has no yaml blocks"
    first = yaml.safe_load(YAML_BLOCKS[0].text)
    assert first.get("version") == 1 and YAML_BLOCKS[0].expect_error is None
    assert 2 <= sum(b.expect_error is not None for b in YAML_BLOCKS)


def test_every_block_is_tagged_and_every_marker_has_a_yaml_block() -> None:
    """An untagged or `yml` block would escape the checks above; so would a dangling marker."""
    for block in BLOCKS:
        assert block.lang, f"docs/config.md:{block.line}: give the code block a language (yaml, text, ...)"
        assert block.lang != "yml", f"docs/config.md:{block.line}: write ```yaml, not ```yml"
        assert block.expect_error is None or block.lang == "yaml", (
            f"docs/config.md:{block.line}: an expect-error marker must precede a yaml block")
    markers = len(re.findall(r"<!--\s*expect-error:", DOC_TEXT))
    assert markers == sum(b.expect_error is not None for b in BLOCKS), "an expect-error marker is not " \
        "directly before a yaml block"


def _models(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models inside a field annotation (Optional, list, dict, Union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _literals(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) is not None:
        return [v for arg in typing.get_args(annotation) for v in _literals(arg)]
    return []


def _walk_fields() -> tuple[dict[str, set[str]], set[str]]:
    """{key as written in YAML: models it occurs in}, and every string Literal value."""
    keys: dict[str, set[str]] = {}
    literals: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Config]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.setdefault(field.alias or name, set()).add(model.__name__)
            literals |= {v for v in _literals(field.annotation) if isinstance(v, str)}
            todo += _models(field.annotation)
    return keys, literals


def test_every_config_key_is_documented() -> None:
    keys, _ = _walk_fields()
    assert {"from", "to", "max_age", "at_risk_bands", "weights", "from_accounts"} <= set(keys)
    missing = sorted(f"{k} ({', '.join(sorted(m))})" for k, m in keys.items() if f"`{k}`" not in DOC_TEXT)
    assert not missing, f"docs/config.md does not mention these config keys as `key`: {missing}"


def test_every_choice_is_documented() -> None:
    """Every agg, priority, revenue unit, `within`, transform, `of`... appears as `value`."""
    _, literals = _walk_fields()
    assert set(AGGS) <= literals
    missing = sorted(v for v in literals if f"`{v}`" not in DOC_TEXT)
    assert not missing, f"docs/config.md does not mention these values as `value`: {missing}"


def _tested_configs() -> list[dict]:
    out = []
    for block in YAML_BLOCKS:
        if block.expect_error is None:
            out.append(yaml.safe_load(_config_text(block)))
    return out


def test_every_agg_and_scale_kind_has_a_loaded_example() -> None:
    aggs: set[str] = set()
    kinds: set[str] = set()

    def scales(nodes: dict) -> None:
        for node in nodes.values():
            if "children" in node:
                scales(node["children"])
            else:
                kinds.update(node["scale"])

    for cfg in _tested_configs():
        aggs |= {v["agg"] for v in cfg.get("variables", {}).values() if "agg" in v}
        scales(cfg["score"]["tree"])
    assert set(AGGS) <= aggs, f"no loaded example for agg {sorted(set(AGGS) - aggs)}"
    assert {"thresholds", "steps", "percentile", "map", "transform"} <= kinds, kinds


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_contents_links_resolve() -> None:
    in_code = False
    anchors = set()
    for line in DOC_TEXT.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC_TEXT))
    assert links, "no internal links"
    assert not sorted(links - anchors), f"links to no heading: {sorted(links - anchors)}"
