"""Posting new actions to `delivery.webhook`, after the snapshot is committed.

Delivery never fails or blocks scoring: each open action whose delivery_status is
'pending' or 'failed' is POSTed as JSON (3 tries, backoff 0.5 s then 1 s, 5 s timeout);
the outcome is stored per action at once, so a failed one is retried on the next run and a
crash between POST and UPDATE re-sends it (at-least-once; receivers de-duplicate on
`action_id`). When the endpoint is down (connection error, timeout, 5xx, 408, 429) the
remaining actions wait for the next run instead of each waiting out its retries.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import duckdb

from chs import __version__
from chs.actions.export import ACTION_COLUMNS, json_value
from chs.config import LoadedConfig

PAYLOAD_COLUMNS = ACTION_COLUMNS + ["created_as_of", "status"]
_PENDING = (f"SELECT {', '.join(PAYLOAD_COLUMNS)} FROM actions "
            "WHERE status = 'open' AND delivery_status IN ('pending', 'failed') ORDER BY action_id")
_RECORD = """
UPDATE actions SET delivery_status = $status, delivery_attempts = coalesce(delivery_attempts, 0) + $attempts,
  delivery_error = $error, delivered_at = CASE WHEN $status = 'delivered' THEN now()::TIMESTAMP END
WHERE action_id = $id"""


class _Failure(Exception):
    def __init__(self, message: str, endpoint_down: bool):
        super().__init__(message)
        self.endpoint_down = endpoint_down


def _post_once(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"chs/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        down = exc.code >= 500 or exc.code in (408, 429)
        raise _Failure(f"HTTP {exc.code} {exc.reason}", down) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Failure(f"{type(exc).__name__}: {reason}", True) from None
    if not 200 <= status < 300:
        raise _Failure(f"HTTP {status}", status >= 500)


def post(url: str, payload: dict[str, Any], tries: int = 3, backoff: float = 0.5, timeout: float = 5.0,
         sleep: Callable[[float], None] = time.sleep) -> tuple[int, _Failure | None]:
    """POST with retries; (attempts made, the last failure or None)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    failure: _Failure | None = None
    for attempt in range(1, tries + 1):
        try:
            _post_once(url, body, timeout)
            return attempt, None
        except _Failure as exc:
            failure = exc
            if not exc.endpoint_down:
                return attempt, exc  # a 4xx will not change by retrying now; next run tries again
        if attempt < tries:
            sleep(backoff * 2 ** (attempt - 1))
    return tries, failure


def deliver_pending(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, *, tries: int = 3,
                    backoff: float = 0.5, timeout: float = 5.0) -> dict[str, Any]:
    """Deliver every open, undelivered action; never raises for delivery problems.

    Returns counts `delivered`, `failed`, `deferred` (not tried: the endpoint was down) and
    `errors` (up to 3 messages). Call it after the snapshot's transaction has committed.
    """
    report: dict[str, Any] = {"delivered": 0, "failed": 0, "deferred": 0, "errors": []}
    delivery = loaded.config.delivery
    if delivery is None:
        return report
    try:
        return _deliver(con, delivery.webhook, report, tries, backoff, timeout)
    except duckdb.Error as exc:  # the state could not be read or written: report, never fail the run
        report["errors"].append(f"actions table: {str(exc).splitlines()[0]}")
        return report


def _deliver(con: duckdb.DuckDBPyConnection, webhook: str, report: dict[str, Any], tries: int,
             backoff: float, timeout: float) -> dict[str, Any]:
    rows = con.execute(_PENDING).fetchall()
    if urlsplit(webhook).scheme not in ("http", "https"):
        report["deferred"] = len(rows)
        report["errors"].append(f"delivery.webhook: '{webhook}' is not an http(s) URL")
        return report
    for i, row in enumerate(rows):
        payload = {c: json_value(v) for c, v in zip(PAYLOAD_COLUMNS, row)}
        attempts, failure = post(webhook, payload, tries=tries, backoff=backoff, timeout=timeout)
        con.execute(_RECORD, {"status": "failed" if failure else "delivered", "attempts": attempts,
                              "error": str(failure) if failure else None, "id": payload["action_id"]})
        if failure is None:
            report["delivered"] += 1
            continue
        report["failed"] += 1
        if len(report["errors"]) < 3:
            report["errors"].append(f"action {payload['action_id']}: {failure}")
        if failure.endpoint_down:
            report["deferred"] = len(rows) - i - 1
            break
    return report
