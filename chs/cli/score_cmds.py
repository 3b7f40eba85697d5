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
def validate_cmd() -> None:
    """Check the config and the sources (files, columns, fragments); all problems at once."""
    from chs.db import memory
    from chs.pipeline import prepare
    loaded = common.load()
    prep = prepare(memory(), loaded)
    console = out()
    console.print(f"{loaded.path}: ok ({len(loaded.config.variables)} variables, "
                  f"{sum(1 for n in prep.plan.nodes if n.is_leaf)} leaves)", markup=False)
    if loaded.config.outcomes is not None:
        from chs.outcomes import load_outcomes
        outcomes = load_outcomes(prep.con, loaded)
        unknown = f", {outcomes.unknown_accounts} for unknown accounts" if outcomes.unknown_accounts else ""
        console.print(f"  outcomes: {outcomes.events} churn events{unknown}, observed until "
                      f"{outcomes.observed_until}", markup=False)
    for name, info in prep.sources.items():
        warn = f", {info.rejected} rejected rows" if info.rejected else ""
        console.print(f"  source {name}: {info.rows} rows from {len(info.files)} file(s){warn}", markup=False)
        for sample in info.reject_samples:
            log(f"  warning: {name}: {sample}")


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
    every: Annotated[Optional[str], typer.Option("--every", help="Backfill step, e.g. 7d, 1w or 1m (calendar month) (default 1d).")] = None,
) -> None:
    """Score accounts (or backfill a range of dates), store snapshots, write outputs and actions."""
    from chs.pipeline import score
    dates = date_range(as_of, start, end, every)
    loaded = common.load()
    progress = log if (common.show_progress() or common.OPTIONS.verbose or len(dates) > 1) else None
    result = score(loaded, dates, progress=progress)
    for name, info in result.sources.items():
        if info.rejected:
            log(f"warning: source {name}: {info.rejected} rows could not be read and were left out "
                f"({'; '.join(info.reject_samples)})")
    console = out()
    for snap in result.snapshots:
        bands = ", ".join(f"{b} {n}" for b, n in sorted(snap.bands.items()))
        console.print(f"{snap.as_of}: {snap.accounts} accounts scored ({bands}); "
                      f"{snap.actions_created} new actions", markup=False)
    if result.delivery:
        d = result.delivery
        if d.get("failed") or d.get("deferred"):
            log(f"warning: webhook: {d.get('failed', 0)} failed, {d.get('deferred', 0)} deferred "
                f"(retried next run): {'; '.join(d.get('errors', []))}")
        else:
            log(f"webhook: {d.get('delivered', 0)} actions delivered")
    if result.outputs:
        console.print(f"outputs: {Path(result.outputs[0]).parent}", markup=False)
