"""`chs init`, `validate`, `compile`, `score`: each parses, calls the library, renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chs.cli import common
from chs.cli.common import date_range, handle_errors, log, out


@handle_errors
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder to create (default: current folder).")] = Path("."),
    example: Annotated[Optional[str], typer.Option(
        "--example", metavar="[NAME]", show_default=False,
        help="An example company and scorecard from examples/: telecom (the default when NAME is left out) "
             "or saas.")] = None,
    accounts: Annotated[Optional[int], typer.Option("--accounts", min=1, help="How many example accounts.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing chs.yaml.")] = False,
    preset: Annotated[Optional[str], typer.Option(
        "--preset", metavar="NAME", show_default=False,
        help="Print a starter `sources:` block for a known export (qualtrics, stripe, zendesk, ...) "
             "to stdout; writes nothing.")] = None,
) -> None:
    """Write a starter chs.yaml and sample data to try at once."""
    from chs.errors import UsageError
    from chs.init_project import InitError, init_project
    if preset is not None:
        from chs.presets import PRESETS, starter_block
        if preset not in PRESETS:
            raise UsageError(f"unknown preset '{preset}' (presets: {', '.join(PRESETS)})")
        typer.echo(starter_block(preset), nl=False)
        return
    try:
        written = init_project(directory, example=example, accounts=accounts, force=force)
    except InitError as exc:
        raise UsageError(str(exc)) from None
    readme = f" ({directory / 'README.md'} explains it)" if written["docs"] else ""
    out().print(f"wrote {directory / 'chs.yaml'} and sample data in {directory / 'data'}{readme}", markup=False)
    common.debug(str(written))
    log(f"next: cd {directory} && chs score && chs report")


@handle_errors
def validate_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of text.")] = False,
) -> None:
    """Check the config and the sources (files, columns, fragments); all problems at once."""
    import json

    from chs.db import memory
    from chs.validate import validate
    loaded = common.load()
    result = validate(memory(), loaded)  # every problem, not the first (chs/validate.py)
    outcomes = result.outcomes
    leaves = result.leaves
    for name, info in result.sources.items():
        for sample in info.reject_samples:
            common.warn(f"warning: {name}: {sample}")
        for warning in info.warnings:
            common.warn(f"warning: source {name}: {warning}")
    sources_json = {n: {"files": i.files, "rows": i.rows, "rejected": i.rejected,
                        "reject_samples": i.reject_samples, "warnings": i.warnings, "notes": i.notes,
                        "unmatched_keys": i.unmatched} for n, i in result.sources.items()}
    if as_json:
        typer.echo(json.dumps({
            "config": str(loaded.path), "ok": not result.problems, "variables": len(loaded.config.variables),
            "leaves": leaves, "problems": [m for _, m in result.problems], "sources": sources_json,
            "outcomes": outcomes.to_json() if outcomes else None}, default=str))
        if result.problems:
            raise typer.Exit(result.exit_code)
        return
    result.raise_if_failed()
    console = out()
    console.print(f"{loaded.path}: ok ({len(loaded.config.variables)} variables, {leaves} leaves)", markup=False)
    if outcomes is not None:
        unknown = f", {outcomes.unknown_accounts} for unknown accounts" if outcomes.unknown_accounts else ""
        console.print(f"  outcomes: {outcomes.events} churn events{unknown}, observed until "
                      f"{outcomes.observed_until}", markup=False)
    for name, info in result.sources.items():
        warn = f", {info.rejected} rejected rows" if info.rejected else ""
        console.print(f"  source {name}: {info.rows} rows from {len(info.files)} file(s){warn}", markup=False)
        for note in info.notes:  # what a preset converted (money units, zones), said out loud
            console.print(f"    {note}", markup=False)


@handle_errors
def compile_cmd(
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="The date compiled into the plan (default: today, UTC).")] = None,
    dialect: Annotated[Optional[str], typer.Option(
        "--dialect", metavar="NAME", show_default=False,
        help="Print only the per-source aggregate queries, for duckdb, spark, trino, snowflake or bigquery "
             "(DESIGN 7).")] = None,
) -> None:
    """Print the SQL the config compiles to (as_of is a literal in it)."""
    from chs.db import memory
    from chs.errors import UsageError
    from chs.pipeline import prepare
    if dialect is not None:
        from chs.engines.portable import DIALECTS
        if dialect not in DIALECTS:
            raise UsageError(f"unknown dialect '{dialect}' (dialects: {', '.join(DIALECTS)})")
    loaded = common.load()
    prep = prepare(memory(), loaded, common.parse_date(as_of, "--as-of"))
    if dialect is None:
        typer.echo(prep.plan.render())
        return
    from chs.engines.portable import render_plan
    columns = {name: info.columns for name, info in prep.sources.items()}
    typer.echo(render_plan(loaded, prep.plan, columns, dialect), nl=False)


@handle_errors
def score_cmd(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Score as of this date (default: today, UTC).")] = None,
    start: Annotated[Optional[str], typer.Option("--from", help="Backfill: first date.")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Backfill: last date (default: today).")] = None,
    every: Annotated[Optional[str], typer.Option(
        "--every", help="Backfill step, e.g. 7d, 1w or 1m (calendar month) (default 1d).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Unreadable rows or a stale export stop the run (exit 65); nothing is stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of text.")] = False,
    redact: Annotated[Optional[bool], typer.Option(
        "--redact/--no-redact", show_default=False,
        help="Pseudonymise names, owners and names in action texts in the outputs and webhook payloads "
             "(key: $CHS_REDACT_SALT; default: privacy.redact).")] = None,
) -> None:
    """Score accounts (or backfill a range of dates), store snapshots, write outputs and actions."""
    import json

    from chs.pipeline import score
    dates = date_range(as_of, start, end, every)
    loaded = common.load()
    from chs.privacy import redactor_for
    redactor = redactor_for(loaded, redact)  # asked for without a key: exit 78 before any work
    with common.progress_bar(len(dates), "scoring") as advance:
        result = score(loaded, dates, progress=advance, strict=strict, redactor=redactor)
    # Data problems are never hidden, not even by --quiet.
    for name, info in result.sources.items():
        if info.rejected:
            common.warn(f"warning: source {name}: {info.rejected} rows could not be read and were left out "
                        f"({'; '.join(info.reject_samples)})")
        for warning in info.warnings:  # ambiguous dates, keys that match no account
            common.warn(f"warning: source {name}: {warning}")
    for snap in result.snapshots:
        for warning in snap.warnings:
            common.warn(f"warning: {snap.as_of}: {warning}")
    d = result.delivery
    if d and (d.get("failed") or d.get("deferred")):
        common.warn(f"warning: webhook: {d.get('failed', 0)} failed, {d.get('deferred', 0)} deferred "
                    f"(retried next run): {'; '.join(d.get('errors', []))}")
    elif d:
        log(f"webhook: {d.get('delivered', 0)} actions delivered")
    if as_json:
        typer.echo(json.dumps({
            "snapshots": [{"as_of": s.as_of.isoformat(), "run_id": s.run_id, "accounts": s.accounts,
                           "bands": s.bands, "actions_created": s.actions_created, "seconds": s.seconds,
                           "warnings": s.warnings} for s in result.snapshots],
            "sources": {n: {"rows": i.rows, "rejected": i.rejected, "reject_samples": i.reject_samples}
                        for n, i in result.sources.items()},
            "delivery": result.delivery or None, "outputs": result.outputs}, default=str))
        return
    console = out()
    for snap in result.snapshots:
        bands = ", ".join(f"{b} {n}" for b, n in sorted(snap.bands.items()))
        console.print(f"{snap.as_of}: {snap.accounts} accounts scored ({bands}); "
                      f"{snap.actions_created} new actions", markup=False)
    if result.outputs:
        console.print(f"outputs: {Path(result.outputs[0]).parent}", markup=False)
