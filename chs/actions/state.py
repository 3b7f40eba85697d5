"""Reading and closing actions: the state behind `chs actions` (DESIGN 2.4, 4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.db import connect
from chs.errors import InputMissingError, UsageError
from chs.lock import run_lock

STATUSES = ("open", "done", "dismissed")
LIST_COLUMNS = ["action_id", "rule", "account_id", "account_name", "owner", "channel", "priority",
                "created_as_of", "due_date", "title", "detail", "reason", "status", "note", "closed_at",
                "delivery_status"]


def _has_actions(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'actions'")
                .fetchone()[0])  # type: ignore[index]


def _rows(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM actions WHERE {where} "
                      "ORDER BY due_date, CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, "
                      "action_id", params)
    return [dict(zip(LIST_COLUMNS, row)) for row in cur.fetchall()]


def list_actions(loaded: LoadedConfig, owner: str | None = None, status: str = "open",
                 rule: str | None = None) -> list[dict[str, Any]]:
    """Actions by due date then priority; `status` is open | done | dismissed | all."""
    if status not in (*STATUSES, "all"):
        raise UsageError(f"--status must be one of {', '.join(STATUSES)}, all (got '{status}')")
    con = connect(loaded.database, read_only=True)
    try:
        if not _has_actions(con):
            return []
        where, params = ["true"], {}
        if status != "all":
            where.append("status = $status")
            params["status"] = status
        if owner is not None:
            where.append("lower(owner) = lower($owner)")
            params["owner"] = owner
        if rule is not None:
            where.append("rule = $rule")
            params["rule"] = rule
        return _rows(con, " AND ".join(where), params)
    finally:
        con.close()


@dataclass
class Closed:
    """The action after `close_action`; `changed` is False when it already had that status."""

    action: dict[str, Any]
    changed: bool


def close_action(loaded: LoadedConfig, action_id: int, status: str, note: str | None = None) -> Closed:
    """Mark an open action done or dismissed (under the run lock).

    Unknown id: InputMissingError (66). Already closed with the same status: unchanged, not
    an error. Already closed with the other status: UsageError (2), unchanged.
    """
    if status not in ("done", "dismissed"):
        raise UsageError(f"cannot close an action as '{status}'")
    if not loaded.database.exists():
        raise InputMissingError(f"{loaded.database}: no history yet; run `chs score` first")
    with run_lock(loaded.database):
        con = connect(loaded.database)
        try:
            found = _rows(con, "action_id = $id", {"id": action_id}) if _has_actions(con) else []
            if not found:
                raise InputMissingError(f"action {action_id} not found (see `chs actions --status all`)")
            action = found[0]
            if action["status"] == status:
                return Closed(action, changed=False)
            if action["status"] != "open":
                raise UsageError(f"action {action_id} is already {action['status']}; not changed")
            closed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            con.execute("UPDATE actions SET status = $status, note = coalesce($note, note), closed_at = $at "
                        "WHERE action_id = $id",
                        {"status": status, "note": note, "at": closed_at, "id": action_id})
            return Closed(_rows(con, "action_id = $id", {"id": action_id})[0], changed=True)
        finally:
            con.close()
