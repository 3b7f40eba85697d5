"""`chs report`: the weekly review as one self-contained HTML file (DESIGN 4, EXPORTS "Report conventions").

Stored snapshots -> view model (all aggregation in DuckDB, lists are top-N) -> Jinja -> file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from chs.report.model import Report, ReportOptions

__all__ = ["Report", "ReportOptions", "build_report", "generate", "render_html"]


def build_report(con: duckdb.DuckDBPyConnection, options: ReportOptions, config_hash: str = "") -> Report:
    """The view model for the snapshot chosen by `options`, from the history in `con`."""
    from chs.report import accounts, sections
    from chs.report.context import open_context
    from chs.report.model import make_bands
    from chs.report.redact import Pseudonyms

    ctx = open_context(con, options, make_bands(options.bands))
    names = Pseudonyms(options.salt) if options.redact else None
    return Report(
        header=sections.header(ctx, config_hash), bands=ctx.bands, headline=sections.headline(ctx),
        histogram=sections.histogram(ctx), trend=sections.trend(ctx), movers=accounts.movers(ctx, names),
        at_risk=accounts.at_risk(ctx, names), breakdowns=sections.breakdowns(ctx, names),
        actions=sections.actions(ctx, names), quality=sections.quality(ctx),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def render_html(report: Report) -> str:
    from chs.report.render import render_html as render
    return render(report)


def generate(database: Path, output: Path, options: ReportOptions,
             config_hash: str = "") -> tuple[Path, Report]:
    """Open the history read-only, build and render the report, write it atomically."""
    from chs.db import connect
    from chs.report.render import write_atomic

    con = connect(database, read_only=True)
    try:
        report = build_report(con, options, config_hash)
    finally:
        con.close()
    return write_atomic(output, render_html(report)), report
