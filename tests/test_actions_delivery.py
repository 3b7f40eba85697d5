"""Webhook delivery of new actions (`delivery.webhook`): success, failure, retry on the next run.

Against a local http.server on 127.0.0.1 in a thread. `deliver_pending` is called the way the
pipeline calls it after the snapshot commits; backoff is shortened to keep tests fast.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from chs.actions import deliver_pending
from chs.config import load_config
from chs.db import connect
from tests.test_actions import D0, RISK, day, project, score, stored


class Hook:
    """A webhook endpoint that answers `status` and records every JSON body it receives."""

    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def with_pending_actions(root: Path, url: str) -> Path:
    """Actions 1 (A) and 2 (C) stored as created under `delivery.webhook: url`, not yet sent.

    Scored without the webhook, then marked pending, so these tests do not depend on whether
    `chs score` itself delivers (it does once the pipeline calls deliver_pending).
    """
    cfg = project(root, [RISK])
    score(cfg, D0)
    con = duckdb.connect(str(root / "chs.duckdb"))
    con.execute("UPDATE actions SET delivery_status = 'pending'")
    con.close()
    return project(root, [RISK], delivery={"webhook": url})


def deliver(cfg: Path) -> dict:
    loaded = load_config(cfg)
    con = connect(loaded.database)
    try:
        return deliver_pending(con, loaded, backoff=0.01, timeout=2)
    finally:
        con.close()


def test_new_actions_are_posted_once(tmp_path, hook):
    cfg = with_pending_actions(tmp_path, hook.url)
    assert deliver(cfg) == {"delivered": 2, "failed": 0, "deferred": 0, "errors": []}
    assert [b["action_id"] for b in hook.bodies] == [1, 2]
    body = hook.bodies[0]
    assert body["account_id"] == "A" and body["owner"] == "csm1@x.com" and body["due_date"] == "2026-03-04"
    assert body["created_as_of"] == "2026-03-02" and body["status"] == "open" and "reason" in body
    rows = stored(cfg)
    assert [(r["delivery_status"], r["delivery_attempts"]) for r in rows] == [("delivered", 1)] * 2
    assert all(r["delivered_at"] is not None for r in rows)
    assert deliver(cfg)["delivered"] == 0  # nothing is sent twice
    score(cfg, D0)  # re-scoring the same as_of keeps the delivery state
    assert deliver(cfg)["delivered"] == 0 and len(hook.bodies) == 2


def test_failed_delivery_is_recorded_and_retried_next_run(tmp_path, hook):
    cfg = with_pending_actions(tmp_path, hook.url)
    hook.status = 500
    report = deliver(cfg)
    assert report["delivered"] == 0 and report["failed"] == 1 and report["deferred"] == 1
    assert report["errors"] == ["action 1: HTTP 500 Internal Server Error"]
    assert len(hook.bodies) == 3  # three tries, then the endpoint counts as down for this run
    first, second = stored(cfg)
    assert (first["delivery_status"], first["delivery_attempts"]) == ("failed", 3)
    assert first["delivery_error"] == "HTTP 500 Internal Server Error"
    assert (second["delivery_status"], second["delivery_attempts"]) == ("pending", 0)

    hook.status = 200
    score(cfg, day(1))  # the next nightly run creates nothing new ...
    deliver(cfg)  # ... and retries (a no-op here when `chs score` already delivered)
    assert [(r["delivery_status"], r["delivery_attempts"], r["delivery_error"]) for r in stored(cfg)] == [
        ("delivered", 4, None), ("delivered", 1, None)]


def test_client_error_is_not_retried_now_and_does_not_hold_back_others(tmp_path, hook):
    cfg = with_pending_actions(tmp_path, hook.url)
    hook.status = 400
    report = deliver(cfg)
    assert (report["failed"], report["deferred"], len(hook.bodies)) == (2, 0, 2)


def test_unreachable_endpoint_fails_fast_and_closed_actions_are_not_sent(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = with_pending_actions(tmp_path, f"http://127.0.0.1:{port}/hook")
    report = deliver(cfg)
    assert (report["delivered"], report["failed"], report["deferred"]) == (0, 1, 1)
    assert "Connection refused" in report["errors"][0] or "URLError" in report["errors"][0]
    from tests.test_actions import chs
    assert chs(cfg, "actions", "done", "1").returncode == 0
    assert chs(cfg, "actions", "done", "2").returncode == 0
    assert deliver(cfg) == {"delivered": 0, "failed": 0, "deferred": 0, "errors": []}


def test_created_under_a_webhook_means_pending(tmp_path):
    cfg = project(tmp_path, [RISK], delivery={"webhook": "file:///nowhere"})  # never deliverable
    score(cfg, D0)
    assert [r["delivery_status"] for r in stored(cfg)] == ["pending", "pending"]


def test_without_webhook_nothing_is_pending(tmp_path):
    cfg = project(tmp_path, [RISK])
    score(cfg, D0)
    assert [r["delivery_status"] for r in stored(cfg)] == [None, None]
    assert deliver(cfg) == {"delivered": 0, "failed": 0, "deferred": 0, "errors": []}


def test_non_http_webhook_is_refused(tmp_path):
    cfg = with_pending_actions(tmp_path, "file:///etc/passwd")
    report = deliver(cfg)
    assert report["deferred"] == 2 and "not an http(s) URL" in report["errors"][0]
    assert [r["delivery_status"] for r in stored(cfg)] == ["pending", "pending"]


_WIRED = "deliver_pending" in Path(__import__("chs.pipeline").pipeline.__file__).read_text()


@pytest.mark.skipif(not _WIRED, reason="chs.pipeline does not call deliver_pending yet")
def test_chs_score_delivers_after_commit_and_never_fails_on_delivery(tmp_path, hook):
    cfg = project(tmp_path, [RISK], delivery={"webhook": hook.url})
    hook.status = 503
    score(cfg, D0)  # exit 0 although the endpoint is down
    assert [r["delivery_status"] for r in stored(cfg)] == ["failed", "pending"]
    hook.status = 200
    score(cfg, day(1))
    assert [r["delivery_status"] for r in stored(cfg)] == ["delivered", "delivered"]
    assert sorted({b["action_id"] for b in hook.bodies}) == [1, 2]
