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
    redact: Annotated[bool | None, typer.Option(
        "--redact/--no-redact", help="Replace account names and owners with stable pseudonyms (ids are kept; "
        "key: $CHS_REDACT_SALT; default: privacy.redact).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of the path.")] = False,
) -> None:
    """Write the weekly review of a stored snapshot as one self-contained HTML file."""
    from chs.durations import parse_days
    from chs.report import ReportOptions, generate
    from chs.report.model import risk_names
    try:
        since_days = parse_days(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    day = parse_date(as_of, "--as-of")
    loaded = common.load()
    from chs.privacy import wanted_key
    key = wanted_key(loaded, redact)  # asked for but no key: exit 78 before any work
    cfg = loaded.config
    settings = cfg.report
    options = ReportOptions(
        bands=dict(cfg.score.bands), name=cfg.name, as_of=day, since_days=since_days, redact=key is not None,
        salt=key or "", currency=settings.currency,
        at_risk_bands=tuple(settings.at_risk_bands) if settings.at_risk_bands is not None else None)
    risk_names(options.bands, options.at_risk_bands)  # a band the config lacks: exit 78 before any work
    target = output if output is not None else loaded.output_dir / "report.html"
    path, report = generate(loaded.database, target, options, config_hash=loaded.digest, loaded=loaded)
    for warning in report.warnings:
        log(f"warning: {warning}")
    compared = f" vs {report.header.compared}" if report.header.compared else ""
    log(f"report of {report.header.as_of}{compared}: {report.headline.accounts} accounts, "
        f"{report.headline.at_risk_accounts} at risk")
    if as_json:
        import json
        h = report.headline
        typer.echo(json.dumps({
            "path": str(path), "as_of": str(report.header.as_of),
            "compared": str(report.header.compared) if report.header.compared else None,
            "accounts": h.accounts, "at_risk": h.at_risk_accounts, "average_score": h.avg_score,
            "average_change": h.avg_change,
            "bands": {b.band.name: b.accounts for b in h.bands},
            "revenue_total": h.mrr_total, "revenue_at_risk": h.mrr_at_risk,
            "warnings": list(report.warnings)}, default=str))
        return
    out().print(str(path), markup=False)
