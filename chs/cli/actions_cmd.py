"""`chs actions`: list calls-to-action, or close one with `done ID` / `dismiss ID`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from chs.cli import common
from chs.cli.common import handle_errors, log, out

VERBS = {"done": "done", "dismiss": "dismissed"}
STATUS_CHOICES = ("open", "done", "dismissed", "all")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _table(rows: list[dict[str, Any]], show_status: bool) -> Any:
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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List calls-to-action (default: open ones), or close one: chs actions done 12 --note "called".

    Closing again with the same verb changes nothing (exit 0); done <-> dismissed is refused (exit 2).
    """
    if verb is None:
        if note is not None:
            raise typer.BadParameter("--note goes with done ID or dismiss ID", param_hint="--note")
        if status not in STATUS_CHOICES:
            raise typer.BadParameter(f"'{status}' is not one of {', '.join(STATUS_CHOICES)}",
                                     param_hint="--status")
        _list(owner, status, rule, as_json)
        return
    if verb not in VERBS:
        raise typer.BadParameter(f"'{verb}' is not done or dismiss", param_hint="VERB")
    if action_id is None:
        raise typer.BadParameter(f"`chs actions {verb}` needs an action ID", param_hint="ID")
    if owner is not None or rule is not None or status != "open":
        raise typer.BadParameter("--owner, --status and --rule filter the list; they do not go with "
                                 f"{verb}", param_hint=verb)
    _close(action_id, VERBS[verb], note, as_json)


def _list(owner: str | None, status: str, rule: str | None, as_json: bool) -> None:
    from chs.actions import list_actions
    rows = list_actions(common.load(), owner=owner, status=status, rule=rule)
    if as_json:
        document = [{k: _plain(v) for k, v in r.items()} for r in rows]
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    if not rows:
        log(f"no {'' if status == 'all' else status + ' '}actions")
        return
    out().print(_table(rows, show_status=status != "open"))


def _close(action_id: int, status: str, note: str | None, as_json: bool) -> None:
    from chs.actions import close_action
    closed = close_action(common.load(), action_id, status, note)
    if as_json:
        typer.echo(json.dumps({k: _plain(v) for k, v in closed.action.items()}, ensure_ascii=False, indent=2))
    elif closed.changed:
        out().print(f"action {action_id} {status}: {closed.action['title']}", markup=False)
    if not closed.changed:
        log(f"action {action_id} was already {status}; nothing changed")
