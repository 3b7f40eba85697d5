"""Webhook delivery cannot lose or hang (issue 15): POST only to http(s), a redirect is a
failed try (never re-sent as a GET), and each try has a total deadline even against an
endpoint that trickles its headers. A real http.server in a thread plays the endpoint."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from chs.actions.delivery import post


class Endpoint(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        Endpoint.received.append(("POST", self.path, body))
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/landing")
            self.end_headers()
        elif self.path == "/elsewhere":
            self.send_response(307)
            self.send_header("Location", "ftp://example.invalid/x")
            self.end_headers()
        elif self.path == "/trickle":
            # Status line, then one header byte every 0.3 s: each read is quick, the whole is not.
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            try:
                for ch in b"X-Slow: " + b"a" * 60 + b"\r\n\r\n":
                    self.wfile.write(bytes([ch]))
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass  # the client hung up at its deadline
        elif self.path == "/bad":
            self.send_response(400)
            self.end_headers()
        else:
            self.send_response(204)
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        Endpoint.received.append(("GET", self.path, b""))
        self.send_response(200)
        self.end_headers()


@pytest.fixture()
def server() -> Iterator[str]:
    Endpoint.received = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_plain_post_is_delivered(server: str) -> None:
    attempts, failure = post(server + "/hook", {"action_id": 1}, sleep=lambda s: None)
    assert (attempts, failure) == (1, None)
    assert Endpoint.received == [("POST", "/hook", b'{"action_id": 1}')]


def test_a_redirect_is_a_failed_try_and_never_becomes_a_get(server: str) -> None:
    attempts, failure = post(server + "/moved", {"action_id": 2}, sleep=lambda s: None)
    assert attempts == 1 and failure is not None  # not retried now (not an outage): next run
    assert "HTTP 302 redirect to /landing: not followed" in str(failure)
    assert [r[:2] for r in Endpoint.received] == [("POST", "/moved")]  # no GET /landing


def test_a_redirect_to_another_scheme_is_not_followed(server: str) -> None:
    attempts, failure = post(server + "/elsewhere", {"action_id": 3}, sleep=lambda s: None)
    assert failure is not None and "HTTP 307 redirect to ftp://example.invalid/x" in str(failure)
    assert len(Endpoint.received) == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/", "http:///nohost"])
def test_only_http_targets(url: str) -> None:
    attempts, failure = post(url, {"action_id": 4}, sleep=lambda s: None)
    assert attempts == 1 and failure is not None and "is not an http(s) URL" in str(failure)


def test_trickled_headers_are_cut_at_the_deadline(server: str) -> None:
    started = time.perf_counter()
    attempts, failure = post(server + "/trickle", {"action_id": 5}, tries=2, timeout=1.0, sleep=lambda s: None)
    elapsed = time.perf_counter() - started
    assert failure is not None and "no response within 1 s" in str(failure)
    assert attempts == 2  # an outage-like failure is retried, each try bounded
    assert elapsed < 3.5, f"two 1 s deadlines took {elapsed:.1f} s"


def test_client_error_is_reported(server: str) -> None:
    attempts, failure = post(server + "/bad", {"action_id": 6}, sleep=lambda s: None)
    assert attempts == 1 and str(failure) == "HTTP 400 Bad Request"


def test_connection_refused_is_an_outage() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    attempts, failure = post(f"http://127.0.0.1:{port}/", {"action_id": 7}, tries=2, sleep=lambda s: None)
    assert attempts == 2 and failure is not None and failure.endpoint_down
