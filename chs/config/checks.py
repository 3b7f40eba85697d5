"""Cross-checks that need the whole config: references, cycles, fragments, segment paths.

Each check returns (key path, message) pairs so the loader can report them all at once,
each with its line.
"""

from __future__ import annotations

import math
import re
from typing import Any

import duckdb

from chs.config.models import Config

Problem = tuple[tuple[Any, ...], str]

_IDENT = re.compile(r'"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b')
_STRING = re.compile(r"'(?:[^']|'')*'")

# Names available in fragments besides variables and account columns.
BUILTIN_NAMES = {"as_of", "tenure_days"}


def referenced_names(fragment: str) -> set[str]:
    """Identifiers a SQL fragment mentions (string literals removed), for dependency order."""
    text = _STRING.sub("''", fragment)
    return {(m.group(1) or m.group(2)).replace('""', '"') for m in _IDENT.finditer(text)}


def fragment_problem(kind: str, fragment: str) -> str | None:
    """Parse-check a where/expr/when fragment in DuckDB; None when it is one valid expression."""
    sql = f"SELECT 1 WHERE ({fragment})" if kind == "where" else f"SELECT ({fragment})"
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return "does not compile: " + str(exc).splitlines()[0]
    if len(statements) != 1:
        return "must be one SQL expression"
    return None


def _variable_checks(cfg: Config) -> list[Problem]:
    out: list[Problem] = []
    acc_source = cfg.accounts.source
    for name, var in cfg.variables.items():
        at = ("variables", name)
        if name in BUILTIN_NAMES and name != "tenure_days":
            out.append((at, f"'{name}' is a reserved name"))
        if var.source is not None and var.source not in cfg.sources:
            out.append((at + ("source",), f"unknown source '{var.source}' (sources: {', '.join(cfg.sources)})"))
            continue
        if var.agg is None and var.source is not None and var.source != acc_source:
            out.append((at + ("source",), f"without agg, a variable reads the accounts source "
                        f"'{acc_source}'; add an agg to aggregate '{var.source}'"))
        if var.agg is not None and var.source is not None:
            src = cfg.sources[var.source]
            if src.account is None and var.source != acc_source:
                out.append((("sources", var.source), f"source '{var.source}' needs `account:` (the account key column)"))
            needs_time = var.window is not None or var.agg in ("days_since", "latest", "pct_change")
            if needs_time and src.time is None and src.valid is None:
                what = "a window" if var.window is not None else f"agg '{var.agg}'"
                out.append((at, f"{what} needs `time:` (or `valid:`) on source '{var.source}'"))
        for key in ("expr", "where"):
            fragment = getattr(var, key)
            if fragment is not None and (problem := fragment_problem(key, fragment)):
                out.append((at + (key,), problem))
    return out


def _dependency_checks(cfg: Config) -> list[Problem]:
    """Derived variables may use each other; a cycle has no order to compute in."""
    derived = {n: v for n, v in cfg.variables.items() if v.source is None and v.expr}
    deps = {n: referenced_names(v.expr) & set(cfg.variables) - {n} for n, v in derived.items()}
    self_refs = [n for n, v in derived.items() if n in referenced_names(v.expr)]
    out: list[Problem] = [(("variables", n, "expr"), "refers to itself") for n in self_refs]
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for d in sorted(deps.get(n, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d] if d in stack else [n, d]
                out.append((("variables", n, "expr"), "cycle among variables: " + " -> ".join(cycle)))
            elif d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in derived:
        if n not in state:
            visit(n, [n])
    return out


def _tree_checks(cfg: Config) -> list[Problem]:
    from chs.tree import flatten  # chs.tree imports the config models: import late, no cycle

    out: list[Problem] = []
    nodes = flatten(cfg.score.tree, cfg.score.missing)
    known = set(cfg.variables) | ({"tenure_days"} if cfg.accounts.start else set())
    for node in nodes:
        if not node.is_leaf:
            continue
        at = ("score", "tree", *tree_key_path(node.path), "variable")
        if node.variable not in known:
            out.append((at, f"unknown variable '{node.variable}'"))
        if node.scale and node.scale.percentile and node.scale.percentile.within == "segment" \
                and not cfg.accounts.segment:
            out.append((at[:-1] + ("scale", "percentile", "within"), "within: segment needs `accounts.segment`"))
    paths = {n.path for n in nodes if n.path}
    for seg_name, seg in cfg.segments.items():
        if problem := fragment_problem("expr", seg.when):
            out.append((("segments", seg_name, "when"), problem))
        for path in seg.weights:
            if path not in paths:
                out.append((("segments", seg_name, "weights", path), f"no tree node '{path}'"))
    return out


def tree_key_path(path: str) -> tuple[str, ...]:
    """`a.b.c` -> the YAML key path (a, children, b, children, c) for line lookup."""
    parts = path.split(".")
    out: list[str] = [parts[0]]
    for p in parts[1:]:
        out += ["children", p]
    return tuple(out)


def _action_checks(cfg: Config) -> list[Problem]:
    out: list[Problem] = []
    if not cfg.actions:
        return out
    import jinja2.sandbox  # 70 ms: only configs with actions pay for it (explain's start-up budget)

    env = jinja2.sandbox.SandboxedEnvironment()
    seen: set[str] = set()
    for i, action in enumerate(cfg.actions):
        at = ("actions", i)
        if action.id in seen:
            out.append((at + ("id",), f"duplicate action id '{action.id}'"))
        seen.add(action.id)
        if problem := fragment_problem("expr", action.when):
            out.append((at + ("when",), problem))
        for key in ("title", "detail"):
            template = getattr(action, key)
            if template is None:
                continue
            try:
                env.parse(template)
            except jinja2.TemplateSyntaxError as exc:
                out.append((at + (key,), f"template error: {exc.message}"))
    return out


def _outcome_checks(cfg: Config) -> list[Problem]:
    if cfg.outcomes is None:
        return []
    churn = cfg.outcomes.churn
    at = ("outcomes", "churn")
    if churn.source is not None:
        if churn.source not in cfg.sources:
            return [(at + ("source",), f"unknown source '{churn.source}' (sources: {', '.join(cfg.sources)})")]
        if churn.source != cfg.accounts.source and cfg.sources[churn.source].account is None:
            return [(("sources", churn.source), f"source '{churn.source}' needs `account:` (the account key column)")]
    return []


# Durations are days added to dates: beyond this the date arithmetic overflows (DuckDB,
# Python), and no export covers more than a century.
MAX_DAYS = 36_600
DURATION_KEYS = {"window", "max_age", "due", "cooldown"}


def _value_checks(cfg: Config) -> list[Problem]:
    """Values that pass the field types but would break or empty the run: a non-finite number
    anywhere (`.inf`, `.nan` in YAML), a duration too long to add to a date, and a group
    whose children's weights add up to 0 (every account would be `unknown`)."""
    from chs.durations import parse_days

    out: list[Problem] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + (k,))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, path + (i,))
        elif isinstance(value, float) and not math.isfinite(value):
            out.append((path, f"{value} is not a finite number"))
        elif isinstance(value, str) and path and path[-1] in DURATION_KEYS:
            try:
                days = parse_days(value)
            except ValueError:
                return  # the field validator reports malformed durations
            if days > MAX_DAYS:
                out.append((path, f"'{value}' is {days} days; at most {MAX_DAYS}d (100 years)"))

    walk(cfg.model_dump(by_alias=True, exclude_unset=True), ())
    out += _zero_weight_groups(cfg)
    return out


def _zero_weight_groups(cfg: Config) -> list[Problem]:
    from chs.tree import flatten

    nodes = flatten(cfg.score.tree, cfg.score.missing)
    weights = {n.path: n.weight for n in nodes}
    out: list[Problem] = []

    def check(overrides: dict[str, float], where: tuple[Any, ...] | None) -> None:
        for node in nodes:
            if node.is_leaf or not node.children:
                continue
            total = sum(overrides.get(c, weights[c]) for c in node.children)
            base = sum(weights[c] for c in node.children)
            if total == 0 and (where is None or base != 0):  # a zero base is reported once
                at = where or (("score", "tree") if not node.path else
                               ("score", "tree", *tree_key_path(node.path), "children"))
                group = f"group '{node.path}'" if node.path else "the tree's top level"
                out.append((at, f"the weights of {group} ({', '.join(c.rsplit('.', 1)[-1] for c in node.children)}) "
                                f"add up to 0: every account would score `unknown`; give one a weight > 0"))

    check({}, None)
    for name, seg in cfg.segments.items():
        check(seg.weights, ("segments", name, "weights"))
    return out


def cross_check(cfg: Config) -> list[Problem]:
    """Every whole-config problem, in file order where possible."""
    out: list[Problem] = []
    if cfg.accounts.source not in cfg.sources:
        out.append((("accounts", "source"), f"unknown source '{cfg.accounts.source}' (sources: {', '.join(cfg.sources)})"))
    for name, src in cfg.sources.items():
        if src.timezone is not None:
            try:
                import pytz
                pytz.timezone(src.timezone)
            except Exception:
                out.append((("sources", name, "timezone"), f"unknown timezone '{src.timezone}'"))
    out += _variable_checks(cfg)
    out += _dependency_checks(cfg)
    out += _tree_checks(cfg)
    out += _action_checks(cfg)
    out += _outcome_checks(cfg)
    out += _value_checks(cfg)
    for i, band in enumerate(cfg.report.at_risk_bands or []):
        if band not in cfg.score.bands and band != "unknown":
            out.append((("report", "at_risk_bands", i), f"unknown band '{band}' (bands: {', '.join(cfg.score.bands)})"))
    return out
