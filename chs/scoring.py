"""The score tree compiled to set-based SQL over the `vars` table (DESIGN 2.3).

Columns are named by node index i in tree order: __x_i scale input, __r_i sub-score before
imputation (NULL = missing), __s_i sub-score, __w_i weight after segment overrides, __den_i
Σ weights of a group's present children, __e_i effective weight, __f_i effective weight if
nothing were missing (coverage), __c_i contribution. One CTE layer per tree depth keeps the
SQL linear in the tree size.
"""

from __future__ import annotations

from chs.config.models import Segment
from chs.scales import input_sql, scale_sql
from chs.sql import ident, number, string
from chs.tree import TreeNode

SEGMENT = "__segment"


def _weight_sql(node: TreeNode, segments: dict[str, Segment]) -> str:
    overrides = [(name, seg.weights[node.path]) for name, seg in segments.items() if node.path in seg.weights]
    if not overrides:
        return number(node.weight)
    whens = " ".join(f"WHEN {string(name)} THEN {number(w)}" for name, w in overrides)
    return f"CASE __rule {whens} ELSE {number(node.weight)} END"


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


def _ranks_sql(ranked: list[tuple[int, TreeNode]]) -> str:
    """The percentile leaves' sub-scores by `vars` row: their windows sort only the row id,
    segment and value (over the full input row, the window cost 0.9 s of 3 s at 1M accounts;
    this narrow one and the join back cost half that). `scored` is sorted after, so the join's
    order does not matter."""
    inputs = ", ".join(f"{input_sql(n.scale, ident(n.variable))} AS __x_{i}"  # type: ignore[arg-type]
                       for i, n in ranked)
    ranks = ", ".join(f"{scale_sql(n.scale, f'__x_{i}', SEGMENT)} AS __r_{i}"  # type: ignore[arg-type]
                      for i, n in ranked)
    return f"SELECT __rid, {ranks} FROM (SELECT rowid AS __rid, {SEGMENT}, {inputs} FROM vars)"


def static_weight(node: TreeNode, segments: dict[str, Segment]) -> bool:
    """No segment overrides this node's weight: its __w_i is the literal `node.weight`."""
    return bool(node.path) and not any(node.path in seg.weights for seg in segments.values())


def scoring_sql(nodes: list[TreeNode], bands: dict[str, float], segments: dict[str, Segment],
                carry: list[str] | None = None) -> str:
    """SELECT over `vars` producing every per-node column plus score, band and coverage.

    `carry`: the columns of `vars` to keep in the result (default all). `chs score` keeps only
    what the snapshot reads; weights of nodes marked `fixed_weight` are not kept (readers use
    the literal): at 1M accounts the table is a third narrower and spills far less under the
    memory limit."""
    index = {n.path: i for i, n in enumerate(nodes)}
    leaves = [(index[n.path], n) for n in nodes if n.is_leaf]
    groups = [(index[n.path], n) for n in nodes if not n.is_leaf]
    layers: list[tuple[str, list[str]]] = []

    # Percentile leaves are ranked in a narrow subquery (_ranks_sql), joined to l_scale by row id.
    ranked = [(i, n) for i, n in leaves if n.scale and n.scale.kind == "percentile"]
    scaled = [(i, n) for i, n in leaves if (i, n) not in ranked]
    inputs = [f"{input_sql(n.scale, ident(n.variable))} AS __x_{i}" for i, n in scaled]  # type: ignore[arg-type]
    weights = [f"{_weight_sql(n, segments)} AS __w_{i}" for i, n in enumerate(nodes) if n.path]
    layers.append(("l_input", inputs + weights + (["rowid AS __rid"] if ranked else [])))
    layers.append(("l_scale", [f"{scale_sql(n.scale, f'__x_{i}', SEGMENT)} AS __r_{i}"  # type: ignore[arg-type]
                               for i, n in scaled] + [f"__p.__r_{i}" for i, _ in ranked]))
    joins = {"l_scale": f" JOIN ({_ranks_sql(ranked)}) AS __p USING (__rid)"} if ranked else {}
    subs = []
    for i, n in leaves:
        imputed = n.missing if isinstance(n.missing, (int, float)) else None
        subs.append(f"coalesce(__r_{i}, {number(imputed)}) AS __s_{i}" if imputed is not None
                    else f"__r_{i} AS __s_{i}")
    layers.append(("l_leaf", subs))

    # Groups bottom-up: a group's score needs its children's scores from an earlier layer.
    for depth in sorted({n.depth for _, n in groups}, reverse=True):
        cols = []
        for i, n in groups:
            if n.depth != depth:
                continue
            kids = [index[c] for c in n.children]
            present = {k: f"(__s_{k} IS NOT NULL AND __w_{k} > 0)" for k in kids}
            den = _sum([f"CASE WHEN {present[k]} THEN __w_{k} ELSE 0 END" for k in kids])
            num = _sum([f"CASE WHEN {present[k]} THEN __w_{k} * __s_{k} ELSE 0 END" for k in kids])
            cols.append(f"({den}) AS __den_{i}")
            has_data = "TRUE"
            if i == 0:
                # An account with no real value in any leaf gets no score, even where leaves
                # impute one: imputation fills gaps, it does not invent a whole score.
                has_data = " OR ".join(f"__r_{k} IS NOT NULL" for k, _ in leaves)
            cols.append(f"CASE WHEN ({den}) > 0 AND ({has_data}) THEN ({num}) / ({den}) END AS __s_{i}")
            cols.append(f"({_sum([f'__w_{k}' for k in kids])}) AS __fden_{i}")
        layers.append((f"l_depth{depth}", cols))

    eff = []
    for i, n in enumerate(nodes):
        ratios, full = ["CASE WHEN __s_0 IS NOT NULL THEN 1.0 ELSE 0.0 END"], ["1.0"]
        path = n
        while path.parent is not None:
            k, p = index[path.path], index[path.parent]
            ratios.append(f"CASE WHEN __s_{k} IS NOT NULL AND __w_{k} > 0 THEN __w_{k} / __den_{p} ELSE 0.0 END")
            full.append(f"coalesce(__w_{k} / nullif(__fden_{p}, 0), 0.0)")
            path = nodes[p]
        eff.append(f"({' * '.join(ratios)}) AS __e_{i}")
        if n.is_leaf:
            eff.append(f"({' * '.join(full)}) AS __f_{i}")
    layers.append(("l_eff", eff))
    layers.append(("l_contrib", [f"CASE WHEN __s_{i} IS NOT NULL THEN __e_{i} * (__s_{i} - 50) ELSE 0.0 END AS __c_{i}"
                                 for i, _ in leaves]))

    # score = 50 + Σ contributions by construction, so drivers always add up (clamped
    # only against float dust beyond [0, 100]).
    total = _sum([f"__c_{i}" for i, _ in leaves])
    final = [
        f"CASE WHEN __s_0 IS NOT NULL THEN greatest(0.0, least(100.0, 50 + ({total}))) END AS score",
        f"({_sum([f'CASE WHEN __r_{i} IS NOT NULL THEN __f_{i} ELSE 0 END' for i, _ in leaves])}) AS coverage",
    ]
    layers.append(("l_score", final))
    whens = " ".join(f"WHEN score >= {number(m)} THEN {string(b)}"
                     for b, m in sorted(bands.items(), key=lambda kv: -kv[1]))
    layers.append(("l_band", [f"CASE WHEN score IS NULL THEN 'unknown' {whens} ELSE 'unknown' END AS band"]))

    ctes, prev = [], "vars"
    for name, cols in layers:
        kept = f"{prev}.*" if prev != "vars" or carry is None else ", ".join(ident(c) for c in carry)
        ctes.append(f"{name} AS (\n  SELECT {kept},\n    " + ",\n    ".join(cols) +
                    f"\n  FROM {prev}{joins.get(name, '')}\n)")
        prev = name
    # Only what the snapshot reads is materialised: the scale inputs and denominators are not.
    scratch = [f"__x_{i}" for i, _ in scaled] + [f"__f_{i}" for i, _ in leaves] + \
        [f"__{k}_{i}" for i, _ in groups for k in ("den", "fden")] + (["__rid"] if ranked else [])
    # node.fixed_weight (set by chs.compiler): node_fields writes that weight as a literal.
    scratch += [f"__w_{i}" for i, n in enumerate(nodes) if n.fixed_weight]
    return "WITH " + ",\n".join(ctes) + f"\nSELECT * EXCLUDE ({', '.join(scratch)}) FROM {prev}"


def group_contribution(nodes: list[TreeNode], i: int) -> str:
    """A group's contribution: the sum of its leaves' contributions."""
    index = {n.path: k for k, n in enumerate(nodes)}
    prefix = nodes[i].path
    leaves = [index[n.path] for n in nodes if n.is_leaf and (not prefix or n.path.startswith(prefix + "."))]
    return _sum([f"__c_{k}" for k in leaves])

