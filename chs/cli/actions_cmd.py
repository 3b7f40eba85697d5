"""`chs actions`: list calls-to-action, or close one with `done ID` / `dismiss ID`."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer

from chs.cli import common
from chs.cli.common import handle_errors, log, out

VERBS = {"done": "done", "dismiss": "dismissed"}
STATUS_CHOICES = ("open", "done", "dismissed", "all")
FORMATS = ("table", "csv", "tsv", "json")
SORTS = ("due", "revenue")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _table(rows: list[dict[str, Any]], show_status: bool, with_revenue: bool = False) -> Any:
    from rich.table import Table
    from rich.text import Text
    today = dt.datetime.now(dt.UTC).date()
    table = Table(pad_edge=False)
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("Due", no_wrap=True)
    table.add_column("Priority", no_wrap=True)
    table.add_column("Account")
    table.add_column("Owner", overflow="fold")
    table.add_column("Action", ratio=1)
    with_channel = any(r["channel"] for r in rows)
    if with_channel:
        table.add_column("Channel")
    if show_status:
        table.add_column("Status")
    if with_revenue:
        table.add_column("Revenue", justify="right", no_wrap=True)
    for r in rows:
        overdue = r["status"] == "open" and r["due_date"] is not None and r["due_date"] < today
        action = Text(r["title"] or "")
        if r["reason"]:
            action.append("\n" + r["reason"], style="dim")
        # Text(), never markup: titles and names are data and may contain [brackets].
        due = Text(str(r["due_date"] or ""), style="red" if overdue else "")
        cells: list[Any] = [str(r["action_id"]), due,
                            Text(r["priority"] or "", style="bold" if r["priority"] == "high" else ""),
                            Text(f"{r['account_name'] or r['account_id']}"), Text(r["owner"] or ""), action]
        if with_channel:
            cells.append(Text(r["channel"] or ""))
        if show_status:
            cells.append(Text(r["status"] + (f": {r['note']}" if r["note"] else "")))
        if with_revenue:
            cells.append(Text("" if r["revenue"] is None else f"{r['revenue']:,.0f}"))
        table.add_row(*cells)
    return table


@handle_errors
def actions_cmd(
    verb: Annotated[str | None, typer.Argument(metavar="[done|dismiss]",
                                                  help="Close an action (omit to list actions).")] = None,
    action_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="The action to close.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only actions routed to this owner.")] = None,
    status: Annotated[str, typer.Option("--status", help="open, done, dismissed or all.")] = "open",
    rule: Annotated[str | None, typer.Option("--rule", help="Only actions of this rule id.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="With done/dismiss: why, what happened.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (= --format json).")] = False,
    sort: Annotated[str, typer.Option(
        "--sort", metavar="ORDER",
        help="due (default: due date, then priority) or revenue (the account's accounts.revenue, largest "
             "first; parents with their family's revenue; adds a revenue column).")] = "due",
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="table (default on a terminal), tsv (default when stdout is not a terminal: a header, then "
             "one line per action), csv or json.")] = None,
    redact: Annotated[bool | None, typer.Option(
        "--redact/--no-redact", show_default=False,
        help="Pseudonymise names, owners and the names in titles, details, reasons and notes "
             "(key: $CHS_REDACT_SALT; default: privacy.redact).")] = None,
) -> None:
    """List calls-to-action (default: open ones), or close one: chs actions done 12 --note "called".

    Closing again with the same verb changes nothing (exit 0); done <-> dismissed is refused (exit 2).

    Piped or redirected, the list is TSV (one line per action, for grep, wc, cut, sort); --format table keeps the table. CSV and TSV have the columns of actions.csv plus status; a text cell starting with = + - @ tab or CR gets a leading ' (no formula runs in a spreadsheet); in TSV, backslash, tab, newline and CR inside a cell are written as \\\\, \\t, \\n, \\r.
    """
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(FORMATS)}", param_hint="--format")
    if as_json and fmt not in (None, "json"):
        raise typer.BadParameter(f"--json and --format {fmt} exclude each other", param_hint="--format")
    if verb is not None and fmt not in (None, "json"):
        raise typer.BadParameter(f"--format {fmt} formats the list; with {verb} use --json or nothing",
                                 param_hint="--format")
    as_json = as_json or fmt == "json"
    if verb is None:
        if note is not None:
            raise typer.BadParameter("--note goes with done ID or dismiss ID", param_hint="--note")
        if status not in STATUS_CHOICES:
            raise typer.BadParameter(f"'{status}' is not one of {', '.join(STATUS_CHOICES)}",
                                     param_hint="--status")
        if sort not in SORTS:
            raise typer.BadParameter(f"'{sort}' is not one of {', '.join(SORTS)}", param_hint="--sort")
        chosen = fmt or ("json" if as_json else "table" if sys.stdout.isatty() else "tsv")
        _list(owner, status, rule, chosen, explicit=fmt is not None or as_json, redact=redact, sort=sort)
        return
    if verb not in VERBS:
        raise typer.BadParameter(f"'{verb}' is not done or dismiss", param_hint="VERB")
    if action_id is None:
        raise typer.BadParameter(f"`chs actions {verb}` needs an action ID", param_hint="ID")
    if owner is not None or rule is not None or status != "open" or sort != "due":
        raise typer.BadParameter("--owner, --status, --rule and --sort shape the list; they do not go with "
                                 f"{verb}", param_hint=verb)
    _close(action_id, VERBS[verb], note, as_json, redact)


def _list(owner: str | None, status: str, rule: str | None, fmt: str, explicit: bool,
          redact: bool | None = None, sort: str = "due") -> None:
    from chs.actions import list_actions
    from chs.privacy import redactor_for
    loaded = common.load()
    redactor = redactor_for(loaded, redact)
    rows = list_actions(loaded, owner=owner, status=status, rule=rule)
    extra: list[str] = []
    if sort == "revenue":  # before any redaction: revenue is looked up by the real account id
        from chs.actions.ranking import by_revenue
        rows, warnings = by_revenue(loaded, rows)
        for warning in warnings:
            log(f"warning: {warning}")
        extra = ["revenue"]
    if redactor is not None:
        rows = redactor.rows(rows)
    from chs.cli.scores_cmd import reader_may_leave
    with reader_may_leave():  # `chs actions | head` is not an error
        if fmt == "json":
            document = [{k: _plain(v) for k, v in r.items()} for r in rows]
            typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
            return
        if not rows:
            # An empty list is no output, as ever; an explicit --format csv/tsv still gets its header.
            if explicit and fmt in ("csv", "tsv"):
                _delimited([], fmt, extra)
            log(f"no {'' if status == 'all' else status + ' '}actions")
            return
        if fmt == "table":
            out().print(_table(rows, show_status=status != "open", with_revenue=bool(extra)))
        else:
            _delimited(rows, fmt, extra)


def delimited_columns() -> list[str]:
    """The columns of actions.csv, plus status."""
    from chs.actions.export import ACTION_COLUMNS
    return [*ACTION_COLUMNS, "status"]


def _cell(value: Any, tsv: bool) -> str:
    """A value as CSV/TSV text: formula-like text neutralised as in actions.csv; in TSV,
    backslash, tab, newline and CR escaped so that every action stays on one line."""
    from chs.actions.export import FORMULA_STARTS
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(_plain(value))
    value = common.clean(value)  # no terminal escapes from data, before the formula check
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if tsv:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _delimited(rows: list[dict[str, Any]], fmt: str, extra: list[str] | None = None) -> None:
    """CSV (RFC 4180: quoted where needed, CRLF) or TSV (one line per action, LF)."""
    columns = delimited_columns() + (extra or [])
    tsv = fmt == "tsv"
    if tsv:
        lines = ["\t".join(columns)]
        lines += ["\t".join(_cell(r.get(c), tsv=True) for c in columns) for r in rows]
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([_cell(r.get(c), tsv=False) for c in columns] for r in rows)


def _close(action_id: int, status: str, note: str | None, as_json: bool, redact: bool | None = None) -> None:
    from chs.actions import close_action
    from chs.privacy import redactor_for
    loaded = common.load()
    redactor = redactor_for(loaded, redact)  # before closing: a missing key changes nothing
    closed = close_action(loaded, action_id, status, note)
    if redactor is not None:
        closed.action = redactor.rows([closed.action])[0]
    if as_json:
        typer.echo(json.dumps({k: _plain(v) for k, v in closed.action.items()}, ensure_ascii=False, indent=2))
    elif closed.changed:
        out().print(f"action {action_id} {status}: {closed.action['title']}", markup=False)
    if not closed.changed:
        log(f"action {action_id} was already {status}; nothing changed")
