"""`chs explain ACCOUNT`: the drill-down a CSM reads before a call (DESIGN 4).

Parses, calls `chs.explain.explain` on the read-only database, and prints the terminal view
(chs/cli/explain_view.py) or one JSON document.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from chs.cli import common
from chs.cli.common import handle_errors, out, parse_date
from chs.cli.explain_view import render


@handle_errors
def explain_cmd(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Account id or exact account name (case-insensitive).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Snapshot to explain (default: the latest).")] = None,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="Compare with this snapshot date (default: the previous snapshot).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Compare with the latest snapshot at least this long before, e.g. 7d or 4w.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the view.")] = False,
    redact: Annotated[bool | None, typer.Option(
        "--redact/--no-redact", show_default=False,
        help="Pseudonymise the name, owner and names in action texts (key: $CHS_REDACT_SALT; "
             "default: privacy.redact).")] = None,
) -> None:
    """Show an account's tree: raw values, sub-scores, weights, contributions, change, open actions."""
    from chs.db import connect
    from chs.durations import parse_days
    from chs.explain import WeightRules, explain

    if compare is not None and since is not None:
        raise typer.BadParameter("use either --compare or --since", param_hint="--since")
    since_days = None
    if since is not None:
        try:
            since_days = parse_days(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    day, compare_day = parse_date(as_of, "--as-of"), parse_date(compare, "--compare")
    loaded = common.load()
    from chs.privacy import redact_explanation, redactor_for
    redactor = redactor_for(loaded, redact)
    con = connect(loaded.database, read_only=True)
    try:
        result = explain(con, account, as_of=day, compare=compare_day, since_days=since_days,
                         rules=WeightRules.from_config(loaded))
    finally:
        con.close()
    if redactor is not None:
        result = redact_explanation(result, redactor)
    for warning in result.warnings:
        common.log(f"warning: {warning}")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    render(out(), result)
