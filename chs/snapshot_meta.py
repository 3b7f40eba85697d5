"""What each tree node meant when a snapshot was scored: labels and variable descriptions.

Stored with every snapshot so `explain` and `report` describe old snapshots correctly
even after the config changed.
"""

from __future__ import annotations

from chs.config import LoadedConfig
from chs.tree import TreeNode


def describe_variable(loaded: LoadedConfig, name: str) -> str:
    """A short human description, e.g. `count of tickets where priority = 'urgent' / 90d`."""
    var = loaded.config.variables.get(name)
    if var is None:
        return "days since the account's start" if name == "tenure_days" else name
    if var.source is None:
        return f"= {var.expr}"
    if var.agg is None:
        return f"account {var.column}" if var.column else f"account: {var.expr}"
    what = var.column or var.expr or ""
    agg = var.agg.replace("_", " ")
    if var.agg == "pct_change":
        agg = f"change of {'sum ' + what if var.of == 'sum' else 'rows'} vs previous window"
        what = ""
    text = f"{agg} {what} of {var.source}".replace("  ", " ")
    if var.where:
        text += f" where {var.where}"
    if var.window:
        text += f" / {var.window}"
    return text


def node_metadata(loaded: LoadedConfig, nodes: list[TreeNode]) -> list[tuple]:
    """Rows for `snapshot_nodes` (without as_of): node, order, parent, label, kind, variable, description, missing."""
    rows = []
    for i, n in enumerate(nodes):
        rows.append((n.path, i, n.parent, n.label, "leaf" if n.is_leaf else "group", n.variable,
                     describe_variable(loaded, n.variable) if n.variable else None,
                     None if n.missing is None else str(n.missing)))
    return rows
