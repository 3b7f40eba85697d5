"""Load YAML and remember the line of every key, so errors can say `chs.yaml:42:`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[Any, ...]


@dataclass
class Located:
    """The parsed document plus the line (1-based) of each key path."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1


def _walk(node: yaml.Node, path: Path_, out: Located) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                out.duplicates.append((path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            out.lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), out)


# libyaml parses a config ~10x faster than the pure-Python parser (60 ms of every command's
# start-up); both resolve the same YAML 1.1 types, so valid documents load identically.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def load_located(text: str) -> Located:
    """Parse `text`; raise yaml.YAMLError with its own mark on syntax errors."""
    if _FAST_LOADER is not None:
        try:
            return _located(yaml.load(text, Loader=_FAST_LOADER), yaml.compose(text, Loader=_FAST_LOADER))
        except yaml.YAMLError:
            pass  # a syntax error: the pure-Python parser words it as chs always has
    return _located(yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader))


def _located(data: Any, root: yaml.Node | None) -> Located:
    located = Located(data=data)
    if root is not None:
        _walk(root, (), located)
    return located
