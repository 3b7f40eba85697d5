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
    example: Annotated[bool, typer.Option("--example", help="The full example company and scorecard.")] = False,
    accounts: Annotated[Optional[int], typer.Option("--accounts", min=1, help="How many example accounts.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing chs.yaml.")] = False,
) -> None:
    """Write a starter chs.yaml and sample data to try at once."""
    from chs.errors import UsageError
    from chs.init_project import InitError, init_project
    try:
        written = init_project(directory, example=example, accounts=accounts, force=force)
    except InitError as exc:
        raise UsageError(str(exc)) from None
    out().print(f"wrote {directory / 'chs.yaml'} and sample data in {directory / 'data'}", markup=False)
    common.debug(str(written))
    log(f"next: cd {directory} && chs score && chs report")


@handle_errors
def validate_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of text.")] = False,
) -> None:
    """Check the config and the sources (files, columns, fragments); all problems at once."""
    import json

    from chs.db import memory
    from chs.pipeline import prepare
    loaded = common.load()
    prep = prepare(memory(), loaded)
    outcomes = None
    if loaded.config.outcomes is not None:
        from chs.outcomes import load_outcomes
        outcomes = load_outcomes(prep.con, loaded)
    leaves = sum(1 for n in prep.plan.nodes if n.is_leaf)
    for name, info in prep.sources.items():
        for sample in info.reject_samples:
            common.warn(f"warning: {name}: {sample}")
    if as_json:
        typer.echo(json.dumps({
            "config": str(loaded.path), "ok": True, "variables": len(loaded.config.variables), "leaves": leaves,
            "sources": {n: {"files": i.files, "rows": i.rows, "rejected": i.rejected,
                            "reject_samples": i.reject_samples} for n, i in prep.sources.items()},
            "outcomes": outcomes.to_json() if outcomes else None}, default=str))
        return
    console = out()
    console.print(f"{loaded.path}: ok ({len(loaded.config.variables)} variables, {leaves} leaves)", markup=False)
    if outcomes is not None:
        unknown = f", {outcomes.unknown_accounts} for unknown accounts" if outcomes.unknown_accounts else ""
        console.print(f"  outcomes: {outcomes.events} churn events{unknown}, observed until "
                      f"{outcomes.observed_until}", markup=False)
    for name, info in prep.sources.items():
        warn = f", {info.rejected} rejected rows" if info.rejected else ""
        console.print(f"  source {name}: {info.rows} rows from {len(info.files)} file(s){warn}", markup=False)


@handle_errors
def compile_cmd() -> None:
    """Print the SQL the config compiles to."""
    from chs.db import memory
    from chs.pipeline import prepare
    prep = prepare(memory(), common.load())
    typer.echo(prep.plan.render())


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
) -> None:
    """Score accounts (or backfill a range of dates), store snapshots, write outputs and actions."""
    import json

    from chs.pipeline import score
    dates = date_range(as_of, start, end, every)
    loaded = common.load()
    with common.progress_bar(len(dates), "scoring") as advance:
        result = score(loaded, dates, progress=advance, strict=strict)
    # Data problems are never hidden, not even by --quiet.
    for name, info in result.sources.items():
        if info.rejected:
            common.warn(f"warning: source {name}: {info.rejected} rows could not be read and were left out "
                        f"({'; '.join(info.reject_samples)})")
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
