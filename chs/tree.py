"""The score tree flattened into a list of nodes in tree order (root first, depth-first)."""

from __future__ import annotations

from dataclasses import dataclass

from chs.config.models import Missing, Node, Scale


@dataclass(frozen=True)
class TreeNode:
    """One node: `path` is "" for the root, else dotted names (`success.adoption`)."""

    path: str
    parent: str | None
    label: str
    weight: float
    children: tuple[str, ...]
    variable: str | None = None
    scale: Scale | None = None
    missing: Missing | None = None
    # No segment overrides the weight, and the plan's `scored` has no __w_i column for it
    # (set by chs.compiler; False elsewhere, where __w_i is always there).
    fixed_weight: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.variable is not None

    @property
    def depth(self) -> int:
        return 0 if not self.path else self.path.count(".") + 1

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def flatten(tree: dict[str, Node], default_missing: Missing, root_label: str = "Health score") -> list[TreeNode]:
    """Flatten the config tree; leaves get the global `missing` default when they set none."""
    out: list[TreeNode] = []

    def visit(name: str, node: Node, parent: str) -> None:
        path = f"{parent}.{name}" if parent else name
        kids = tuple(f"{path}.{k}" for k in (node.children or {}))
        out.append(TreeNode(
            path=path, parent=parent, label=node.label or name.replace("_", " ").capitalize(),
            weight=float(node.weight), children=kids, variable=node.variable, scale=node.scale,
            missing=node.missing if node.missing is not None else (default_missing if node.variable else None),
        ))
        for child_name, child in (node.children or {}).items():
            visit(child_name, child, path)

    out.append(TreeNode(path="", parent=None, label=root_label, weight=1.0, children=tuple(tree)))
    for name, node in tree.items():
        visit(name, node, "")
    return out

