"""`chs validate`: every problem of the config and its sources in one run (DESIGN 4).

`pipeline.prepare` (used by score) stops at the first error. Validate instead checks each
source on its own (files, reading, columns, types, key match), each variable on its own
(column, type, where/expr binding), then compiles with every failed variable replaced by a
NULL stand-in so that the later checks (derived variables, segments, scales, actions,
fragments on real rows) still run, and collects what each check reports. The YAML itself
(keys, types, references) is checked by the loader, which already reports every problem of
that kind at once; data checks need a config that loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.config.models import Variable
from chs.errors import ChsError, ConfigError, DataError, InputMissingError
from chs.sources import SourceInfo, check_accounts, register_source, source_key

# The exit code of a failed validate: the worst kind among its problems (config first: it is
# what the user edits; then a missing file; then bad data).
SEVERITY = (ConfigError.exit_code, InputMissingError.exit_code, DataError.exit_code)
MAX_PLAN_ROUNDS = 20
_STAND_IN = "CAST(NULL AS DOUBLE)"
_LOCATED = re.compile(r":\d+: (variables\.(?P<var>[^.:\s]+)\.expr|segments\.(?P<seg>[^.:\s]+)\.when)\b")


class ValidationFailed(ConfigError):
    """Every problem validate found; the exit code is that of the worst kind."""

    def __init__(self, problems: list[str], exit_code: int):
        super().__init__(problems)
        self.exit_code = exit_code


@dataclass
class Validation:
    loaded: LoadedConfig
    con: duckdb.DuckDBPyConnection
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (exit code of its kind, message)
    leaves: int = 0
    outcomes: Any = None

    def add(self, exc: ChsError, prefix: str = "") -> None:
        lines = exc.problems if isinstance(exc, ConfigError) else str(exc).splitlines()
        for line in lines:
            entry = (exc.exit_code, f"{prefix}{line}")
            if entry not in self.problems:
                self.problems.append(entry)

    @property
    def exit_code(self) -> int:
        codes = {code for code, _ in self.problems}
        return next((c for c in SEVERITY if c in codes), max(codes)) if codes else 0

    def raise_if_failed(self) -> None:
        if self.problems:
            raise ValidationFailed([m for _, m in self.problems], self.exit_code)


def _with_variables(loaded: LoadedConfig, variables: dict[str, Variable]) -> LoadedConfig:
    config = loaded.config.model_copy(update={"variables": variables})
    return dataclasses.replace(loaded, config=config)


def _with_segments(loaded: LoadedConfig, drop: set[str]) -> LoadedConfig:
    segments = {n: s for n, s in loaded.config.segments.items() if n not in drop}
    return dataclasses.replace(loaded, config=loaded.config.model_copy(update={"segments": segments}))


def validate(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, as_of: dt.date | None = None) -> Validation:
    """Run every check; `Validation.problems` holds all that failed (nothing raised for them)."""
    from chs.pipeline import set_as_of
    day = as_of or dt.datetime.now(dt.UTC).date()
    set_as_of(con, day)
    result = Validation(loaded=loaded, con=con)
    cfg = loaded.config
    accounts_ok = _sources(result, day)
    if not accounts_ok:
        return result
    failed = _variables(result)
    _plan(result, failed, day)
    if cfg.outcomes is not None and not result.problems:
        from chs.outcomes import load_outcomes
        try:
            result.outcomes = load_outcomes(con, loaded)
        except ChsError as exc:
            result.add(exc)
    return result


def _sources(result: Validation, day: dt.date) -> bool:
    """Register every source on its own; False when the account list itself failed."""
    from chs.export_checks import check_exports
    from chs.key_mapping import check_key_match
    loaded, con = result.loaded, result.con
    cfg = loaded.config
    order = [cfg.accounts.source] + [n for n in cfg.sources if n != cfg.accounts.source]
    accounts_ok = True
    for name in order:
        at = f"{loaded.at('sources', name)}: "
        src = cfg.sources[name]
        if name != cfg.accounts.source and src.account_via is not None and not accounts_ok:
            continue  # its key maps through the account list, which could not be read
        try:
            check_exports(con, loaded, {name})
            info = register_source(con, loaded, name, source_key(loaded, name))
            if name == cfg.accounts.source:
                check_accounts(con, loaded, info)
            elif accounts_ok:
                check_key_match(con, loaded, name, info, result.sources[cfg.accounts.source])
            result.sources[name] = info
        except ChsError as exc:
            result.add(exc, "" if isinstance(exc, ConfigError) else at)
            if name == cfg.accounts.source:
                accounts_ok = False
    return accounts_ok


def _variables(result: Validation) -> set[str]:
    """Check each source-reading variable alone; the names of those that failed."""
    from chs.bind_check import check_variables
    loaded = result.loaded
    failed: set[str] = set()
    for name, var in loaded.config.variables.items():
        if var.source is None:
            continue
        if var.source not in result.sources:
            failed.add(name)
            continue
        try:
            check_variables(result.con, _with_variables(loaded, {name: var}), result.sources)
        except ChsError as exc:
            at = "" if isinstance(exc, ConfigError) else f"{loaded.at('variables', name)}: "
            result.add(exc, at)
            failed.add(name)
    return failed


def _plan(result: Validation, failed: set[str], day: dt.date) -> None:
    """Compile and bind with failed variables as NULL stand-ins; every failing derived
    variable or segment found by the dry run is reported and stood in for, in turn."""
    from chs.actions_engine import check_actions
    from chs.bind_check import check_scale_inputs, dry_run
    from chs.compiler import compile_plan
    from chs.fragment_check import check_fragments
    con = result.con
    variables = {n: (Variable(expr=_STAND_IN) if n in failed else v) for n, v in result.loaded.config.variables.items()}
    loaded = _with_variables(result.loaded, variables)
    dropped_segments: set[str] = set()
    sources = {n: result.sources[n] for n in
               {loaded.config.accounts.source} | {v.source for v in variables.values() if v.source}}
    plan = None
    for _ in range(MAX_PLAN_ROUNDS):
        try:
            plan = compile_plan(loaded, sources, day)
            dry_run(con, loaded, plan)
            break
        except ConfigError as exc:
            result.add(exc)
            match = next((m for m in map(_LOCATED.search, exc.problems) if m), None)
            if match is None:
                return
            if match.group("var"):
                variables[match.group("var")] = Variable(expr=_STAND_IN)
                loaded = _with_variables(loaded, variables)
            else:
                dropped_segments.add(match.group("seg"))
                loaded = _with_segments(loaded, dropped_segments)
            plan = None
        except ChsError as exc:
            result.add(exc)
            return
    if plan is None:
        return
    result.leaves = sum(1 for n in plan.nodes if n.is_leaf)
    checks = [lambda: check_scale_inputs(con, loaded, plan), lambda: check_actions(con, loaded, plan),
              lambda: check_fragments(con, loaded, sources, plan)]
    if loaded.config.storage.engine == "spark":  # DESIGN 7: the aggregates' fragments on Spark itself
        from chs.engines.spark import check_on_spark
        checks.append(lambda: check_on_spark(loaded, plan, sources))
    for check in checks:
        try:
            check()
        except ChsError as exc:
            result.add(exc)
