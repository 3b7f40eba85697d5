"""Action rules -> de-duplicated calls-to-action (DESIGN 2.4). Filled in by the action-list work."""

from __future__ import annotations

import datetime as dt

import duckdb

from chs.compiler import Plan
from chs.config import LoadedConfig
from chs.outputs import Staging

ACTION_COLUMNS = ["action_id", "rule", "account_id", "account_name", "owner", "priority", "due_date",
                  "title", "detail", "reason", "channel"]


def evaluate_actions(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, plan: Plan, run_id: str,
                     as_of: dt.date) -> int:
    return 0


def write_action_outputs(con: duckdb.DuckDBPyConnection, staging: Staging, run_id: str) -> None:
    cols = ", ".join(ACTION_COLUMNS)
    staging.copy(con, f"SELECT {cols} FROM actions WHERE run_id = '{run_id}' ORDER BY action_id", "actions.csv")
    staging.write_text("actions.jsonl", "")
