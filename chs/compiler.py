"""Config + source schemas -> the SQL plan of one scoring run (DESIGN 5: compile stage).

The plan is a list of `CREATE TEMP TABLE` statements, parameterised only by the one-row
table `__params(as_of)`, so a backfill runs the same SQL for each date.
"""

from __future__ import annotations

from dataclasses import dataclass

from chs.aggregates import ZERO_WHEN_EMPTY, SourceQuery, add_variable
from chs.config import LoadedConfig
from chs.config.checks import referenced_names
from chs.scoring import group_contribution, scoring_sql
from chs.sources import SourceInfo, relation_name
from chs.sql import ident, node_column, string
from chs.tree import TreeNode, flatten


@dataclass(frozen=True)
class Step:
    """One statement of the plan: it creates temp table `table`."""

    table: str
    select: str

    @property
    def sql(self) -> str:
        return f"CREATE OR REPLACE TEMP TABLE {ident(self.table)} AS\n{self.select}"


@dataclass(frozen=True)
class Plan:
    steps: list[Step]
    nodes: list[TreeNode]
    aggregate_tables: dict[str, str]  # source -> table

    def render(self) -> str:
        head = "-- chs plan; as_of is bound via the one-row table __params\n" \
               "CREATE OR REPLACE TEMP TABLE __params AS SELECT CAST($as_of AS DATE) AS as_of;\n\n"
        return head + "\n\n".join(s.sql + ";" for s in self.steps) + "\n"


def needed_sources(loaded: LoadedConfig) -> set[str]:
    cfg = loaded.config
    return {cfg.accounts.source} | {v.source for v in cfg.variables.values() if v.source}


def _accounts_step(loaded: LoadedConfig, acc_columns: dict[str, str]) -> Step:
    acc = loaded.config.accounts
    cols = ["a.*"]
    for role in ("name", "owner", "segment"):
        column = getattr(acc, role)
        cols.append(f"CAST(a.{ident(column)} AS VARCHAR) AS __{role}" if column else f"NULL::VARCHAR AS __{role}")
    where = ["a.__account IS NOT NULL"]
    if acc.start:
        start = f"TRY_CAST(a.{ident(acc.start)} AS DATE)"
        if "tenure_days" not in acc_columns and "tenure_days" not in loaded.config.variables:
            cols.append(f"date_diff('day', {start}, p.as_of) AS tenure_days")
        # No look-ahead: an account that starts after as_of was not a customer yet.
        where.append(f"({start} IS NULL OR {start} <= p.as_of)")
    if acc.end:
        end = f"TRY_CAST(a.{ident(acc.end)} AS DATE)"
        where.append(f"({end} IS NULL OR {end} > p.as_of)")
    select = (f"SELECT {', '.join(cols)}\nFROM {ident(relation_name(acc.source))} AS a, __params AS p\n"
              f"WHERE {' AND '.join(where)}")
    return Step("acct", select)


def _derived_order(loaded: LoadedConfig) -> list[str]:
    """Derived variables in dependency order (cycles were rejected by the config check)."""
    cfg = loaded.config
    derived = [n for n, v in cfg.variables.items() if v.source is None]
    deps = {n: referenced_names(cfg.variables[n].expr or "") & set(derived) - {n} for n in derived}
    order: list[str] = []
    while len(order) < len(derived):
        ready = [n for n in derived if n not in order and deps[n] <= set(order)]
        order += ready
    return order


def _variables_step(loaded: LoadedConfig, acc_columns: dict[str, str], agg_tables: dict[str, str]) -> Step:
    cfg = loaded.config
    shadowed = [c for c in acc_columns if c in cfg.variables]
    exclude = f" EXCLUDE ({', '.join(ident(c) for c in shadowed)})" if shadowed else ""
    cols, joins = [f"a.*{exclude}"], []
    for name, var in cfg.variables.items():
        if var.source is not None and var.agg is None:
            value = f"a.{ident(var.column)}" if var.column else f"({var.expr})"
            cols.append(f"{value} AS {ident(name)}")
    for source, table in agg_tables.items():
        alias = ident(f"g_{source}")
        joins.append(f"LEFT JOIN {ident(table)} AS {alias} ON {alias}.__account = a.__account")
        for name, var in cfg.variables.items():
            if var.source == source and var.agg is not None:
                value = f"{alias}.{ident(name)}"
                cols.append(f"coalesce({value}, 0) AS {ident(name)}" if var.agg in ZERO_WHEN_EMPTY
                            else f"{value} AS {ident(name)}")
    ctes = [f"base AS (\n  SELECT {', '.join(cols)}\n  FROM acct AS a\n  CROSS JOIN __params AS p\n  "
            + "\n  ".join(joins) + "\n)"]
    prev = "base"
    for i, name in enumerate(_derived_order(loaded)):
        ctes.append(f"d_{i} AS (SELECT b.*, ({cfg.variables[name].expr}) AS {ident(name)} "
                    f"FROM {prev} AS b, __params AS p)")
        prev = f"d_{i}"
    rule = " ".join(f"WHEN ({seg.when}) THEN {string(name)}" for name, seg in cfg.segments.items())
    rule_sql = f"CASE {rule} END" if rule else "NULL::VARCHAR"
    joined = ",\n".join(ctes)
    select = f"WITH {joined}\nSELECT v.*, {rule_sql} AS __rule FROM {prev} AS v, __params AS p"
    return Step("vars", select)


def _snapshot_steps(loaded: LoadedConfig, nodes: list[TreeNode]) -> list[Step]:
    """The per-account row (scores) and the long per-node rows (node_scores) of a snapshot."""
    score_cols = ", ".join(f"__s_{i} AS {ident(node_column(n.path))}"
                           for i, n in enumerate(nodes) if n.path)
    scores = (f"SELECT __account AS account_id, __name AS account_name, __owner AS owner, "
              f"__segment AS segment, p.as_of, score, band, coverage, {score_cols}\n"
              f"FROM scored, __params AS p")
    parts = []
    for i, n in enumerate(nodes):
        leaf = n.is_leaf
        raw = f"TRY_CAST({ident(n.variable)} AS DOUBLE)" if leaf else "NULL::DOUBLE"
        text = f"CAST({ident(n.variable)} AS VARCHAR)" if leaf and n.scale and n.scale.kind == "map" \
            else "NULL::VARCHAR"
        weight = f"__w_{i}" if n.path else "1.0"
        contribution = f"__c_{i}" if leaf else \
            f"CASE WHEN __s_{i} IS NOT NULL THEN {group_contribution(nodes, i)} ELSE 0.0 END"
        missing = f"__r_{i} IS NULL" if leaf else f"__s_{i} IS NULL"
        imputed = f"(__r_{i} IS NULL AND __s_{i} IS NOT NULL)" if leaf else "false"
        parts.append(
            f"SELECT __account AS account_id, {string(n.path)} AS node, {i} AS node_order, "
            f"{string('leaf' if leaf else 'group')} AS kind, "
            f"{string(n.variable) if leaf else 'NULL::VARCHAR'} AS variable, {raw} AS raw_value, "
            f"{text} AS raw_text, CAST(__s_{i} AS DOUBLE) AS sub_score, CAST({weight} AS DOUBLE) AS weight, "
            f"CAST(__e_{i} AS DOUBLE) AS effective_weight, CAST({contribution} AS DOUBLE) AS contribution, "
            f"{missing} AS missing, {imputed} AS imputed FROM scored")
    return [Step("snap_scores", scores),
            Step("snap_nodes", "SELECT p.as_of, u.* FROM (\n" + "\nUNION ALL\n".join(parts)
                 + "\n) AS u, __params AS p")]


def compile_plan(loaded: LoadedConfig, sources: dict[str, SourceInfo]) -> Plan:
    """Every statement of one scoring run, given the registered sources' columns."""
    cfg = loaded.config
    nodes = flatten(cfg.score.tree, cfg.score.missing)
    acc_columns = sources[cfg.accounts.source].columns
    steps = [_accounts_step(loaded, acc_columns)]
    queries: dict[str, SourceQuery] = {}
    for name, var in cfg.variables.items():
        if var.agg is None or var.source is None:
            continue
        if var.source not in queries:
            info = sources[var.source]
            queries[var.source] = SourceQuery(var.source, relation_name(var.source), info.has_time,
                                              info.has_validity)
        add_variable(queries[var.source], name, var)
    agg_tables = {}
    for source, query in queries.items():
        agg_tables[source] = f"agg_{source}"
        steps.append(Step(f"agg_{source}", query.sql()))
    steps.append(_variables_step(loaded, acc_columns, agg_tables))
    steps.append(Step("scored", scoring_sql(nodes, cfg.score.bands, cfg.segments)))
    steps += _snapshot_steps(loaded, nodes)
    return Plan(steps=steps, nodes=nodes, aggregate_tables=agg_tables)


