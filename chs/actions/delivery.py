"""Posting new actions to `delivery.webhook`, after the snapshot is committed.

Delivery never fails or blocks scoring: each open action whose delivery_status is
'pending' or 'failed' is POSTed as JSON (3 tries, backoff 0.5 s then 1 s, each try a 5 s
deadline for the whole exchange); only http(s) targets, and a redirect is a failed try (a
followed redirect would re-send the POST as a GET without its payload);
the outcome is stored per action at once, so a failed one is retried on the next run and a
crash between POST and UPDATE re-sends it (at-least-once; receivers de-duplicate on
`action_id`). When the endpoint is down (connection error, timeout, 5xx, 408, 429) the
remaining actions wait for the next run instead of each waiting out its retries.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import duckdb

from chs import __version__
from chs.actions.export import ACTION_COLUMNS, json_value
from chs.config import LoadedConfig
from chs.privacy import Redactor

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
    """One POST; `timeout` is a deadline for the whole exchange (connect, send, status line
    and headers), not per socket read: an endpoint that trickles its headers byte by byte is
    cut off at the deadline. Redirects are not followed: urllib would repeat a 302/303 as a
    GET without the payload, and the action would count as delivered though nothing arrived."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure(f"'{url}' is not an http(s) URL", False)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    outcome: dict[str, Any] = {}

    def exchange() -> None:
        try:
            conn.request("POST", target, body=body, headers={
                "Content-Type": "application/json", "User-Agent": f"chs/{__version__}"})
            response = conn.getresponse()
            outcome.update(status=response.status, reason=response.reason,
                           location=response.getheader("Location"))
        except (OSError, http.client.HTTPException) as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=exchange, name="chs-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _abort(conn)
        worker.join(1.0)
        raise _Failure(f"no response within {timeout:g} s", True)
    conn.close()
    if "error" in outcome:
        exc = outcome["error"]
        raise _Failure(f"{type(exc).__name__}: {exc}", True)
    status = int(outcome["status"])
    if 300 <= status < 400:
        raise _Failure(f"HTTP {status} redirect to {outcome['location'] or '(no Location)'}: not followed, "
                       f"the payload was not delivered; set delivery.webhook to the final URL", False)
    if not 200 <= status < 300:
        down = status >= 500 or status in (408, 429)
        raise _Failure(f"HTTP {status} {outcome['reason']}".rstrip(), down)


def _abort(conn: http.client.HTTPConnection) -> None:
    """Unblock a worker stuck in a read: shut the socket down under it."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


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
                    backoff: float = 0.5, timeout: float = 5.0, redactor: Redactor | None = None) -> dict[str, Any]:
    """Deliver every open, undelivered action; never raises for delivery problems.

    Returns counts `delivered`, `failed`, `deferred` (not tried: the endpoint was down) and
    `errors` (up to 3 messages). Call it after the snapshot's transaction has committed.
    With `redactor` (--redact / privacy.redact) names, owners and free text in the payloads
    are pseudonymised; `action_id` and `account_id` stay as they are.
    """
    report: dict[str, Any] = {"delivered": 0, "failed": 0, "deferred": 0, "errors": []}
    delivery = loaded.config.delivery
    if delivery is None:
        return report
    try:
        return _deliver(con, delivery.webhook, report, tries, backoff, timeout, redactor)
    except duckdb.Error as exc:  # the state could not be read or written: report, never fail the run
        report["errors"].append(f"actions table: {str(exc).splitlines()[0]}")
        return report


def _deliver(con: duckdb.DuckDBPyConnection, webhook: str, report: dict[str, Any], tries: int,
             backoff: float, timeout: float, redactor: Redactor | None = None) -> dict[str, Any]:
    rows = con.execute(redactor.wrap(con, _PENDING) if redactor is not None else _PENDING).fetchall()
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
