"""`actions.csv` and `actions.jsonl`: the actions of one run (DESIGN 3).

CSV cells a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a
leading apostrophe; the JSONL keeps every value as stored.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from chs.outputs import Staging
from chs.sql import ident, string

ACTION_COLUMNS = ["action_id", "rule", "account_id", "account_name", "owner", "priority", "due_date",
                  "title", "detail", "reason", "channel"]
TEXT_COLUMNS = [c for c in ACTION_COLUMNS if c not in ("action_id", "due_date")]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralised(column: str) -> str:
    c = ident(column)
    starts = ", ".join(f"chr({ord(ch)})" for ch in FORMULA_STARTS)
    return f"CASE WHEN left({c}, 1) IN ({starts}) THEN '''' || {c} ELSE {c} END AS {c}"


def csv_query(where: str, source: str = "actions") -> str:
    cols = [_neutralised(c) if c in TEXT_COLUMNS else ident(c) for c in ACTION_COLUMNS]
    return f"SELECT {', '.join(cols)} FROM {source} WHERE {where} ORDER BY action_id"


def json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def write_action_outputs(con: duckdb.DuckDBPyConnection, staging: Staging, run_id: str) -> None:
    """Write this run's actions; both files exist (header only / empty) when there are none."""
    source = "actions"
    if staging.redactor is not None:
        # Pseudonymised before the formula neutralising, so free text still holds the raw name.
        source = f"({staging.redactor.wrap(con, 'SELECT * FROM actions')}) AS actions"
    staging.copy(con, csv_query(f"run_id = {string(run_id)}", source), "actions.csv", redacted=True)
    rows = con.execute(f"SELECT {', '.join(map(ident, ACTION_COLUMNS))} FROM {source} "
                       "WHERE run_id = $run_id ORDER BY action_id", {"run_id": run_id}).fetchall()
    lines = [json.dumps({c: json_value(v) for c, v in zip(ACTION_COLUMNS, row)}, ensure_ascii=False)
             for row in rows]
    staging.write_text("actions.jsonl", "".join(line + "\n" for line in lines))
