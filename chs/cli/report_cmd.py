"""`chs report`: the weekly review as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chs.cli import common
from chs.cli.common import handle_errors, log, out, parse_date


@handle_errors
def report_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Report on the latest snapshot on or before this date (default: latest).")] = None,
    since: Annotated[str, typer.Option(
        "--since", help="Compare with the latest snapshot at least this long before, e.g. 7d or 4w.")] = "7d",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="HTML file to write (default: <output_dir>/report.html).")] = None,
    redact: Annotated[bool, typer.Option(
        "--redact", help="Replace account names and owners with stable pseudonyms (ids are kept).")] = False,
) -> None:
    """Write the weekly review of a stored snapshot as one self-contained HTML file."""
    from chs.durations import parse_days
    from chs.report import ReportOptions, generate
    try:
        since_days = parse_days(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    day = parse_date(as_of, "--as-of")
    loaded = common.load()
    cfg = loaded.config
    options = ReportOptions(bands=dict(cfg.score.bands), name=cfg.name, as_of=day, since_days=since_days,
                            redact=redact, salt=loaded.digest)
    target = output if output is not None else loaded.output_dir / "report.html"
    path, report = generate(loaded.database, target, options, config_hash=loaded.digest)
    compared = f" vs {report.header.compared}" if report.header.compared else ""
    log(f"report of {report.header.as_of}{compared}: {report.headline.accounts} accounts")
    out().print(str(path), markup=False)
