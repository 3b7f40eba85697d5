"""`chs report`: the weekly review as one self-contained HTML file (DESIGN 4, EXPORTS "Report conventions").

Stored snapshots -> view model (all aggregation in DuckDB, lists are top-N) -> Jinja -> file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from chs.report.model import Report, ReportOptions

if TYPE_CHECKING:
    from chs.config import LoadedConfig

__all__ = ["Report", "ReportOptions", "build_report", "generate", "render_html"]


def build_report(con: duckdb.DuckDBPyConnection, options: ReportOptions, config_hash: str = "",
                 loaded: LoadedConfig | None = None) -> Report:
    """The view model for the snapshot chosen by `options`, from the history in `con`.

    With `loaded` (the config) and `accounts.revenue` declared, revenue is read from the
    account list onto `con` (temp tables only); see chs/report/revenue.py.
    """
    from chs.report import accounts, sections
    from chs.report.context import open_context
    from chs.report.model import make_bands
    from chs.report.parents import parents
    from chs.report.redact import Pseudonyms

    ctx = open_context(con, options, make_bands(options.bands, options.at_risk_bands), loaded)
    names = Pseudonyms(options.salt) if options.redact else None
    return Report(
        header=sections.header(ctx, config_hash), bands=ctx.bands, headline=sections.headline(ctx),
        histogram=sections.histogram(ctx), trend=sections.trend(ctx), movers=accounts.movers(ctx, names),
        at_risk=accounts.at_risk(ctx, names), breakdowns=sections.breakdowns(ctx, names),
        actions=sections.actions(ctx, names), quality=sections.quality(ctx),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        backlog=sections.backlog(ctx, names), renewals=accounts.renewals(ctx, names),
        churn=accounts.churn(ctx, names), owner_changes=sections.owner_changes(ctx, names),
        currency=options.currency, trend_periods=options.trend_periods, revenue_note=ctx.revenue_note, warnings=list(ctx.warnings),
        parents=parents(ctx, names))


def render_html(report: Report) -> str:
    from chs.report.render import render_html as render
    return render(report)


def generate(database: Path, output: Path, options: ReportOptions, config_hash: str = "",
             loaded: LoadedConfig | None = None) -> tuple[Path, Report]:
    """Open the history read-only, build and render the report, write it atomically."""
    from chs.db import connect
    from chs.report.render import write_atomic

    con = connect(database, read_only=True)
    try:
        report = build_report(con, options, config_hash, loaded)
    finally:
        con.close()
    return write_atomic(output, render_html(report)), report
