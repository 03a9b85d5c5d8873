"""The bounded steady client and its in-cluster twin (harness.testkit.traffic), against a local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.core.net import free_port
from harness.core.wait import wait_for
from harness.testkit import traffic as tr


class Server:
    """A loopback server answering 200, or 503 while ``failing`` is set."""

    def __init__(self):
        self.failing = threading.Event()
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                self.send_response(503 if outer.failing.is_set() else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_steady_client_counts_successes_and_server_errors(server):
    with tr.SteadyClient(server.url, workers=1, pause=0.01) as traffic:
        wait_for(lambda: traffic.total > 0, what="the first request", timeout=30)
        time.sleep(0.2)
        server.failing.set()
        time.sleep(0.2)
        server.failing.clear()
        time.sleep(0.2)
    tally = traffic.tally()
    assert tally.ok > 5 and tally.failed > 5 and tally.total == tally.ok + tally.failed == traffic.total
    assert tally.failures[0].startswith("503") and len(tally.failures) <= 10
    assert "failed of" in tally.summary()


def test_steady_client_is_bounded_in_requests_and_time(server):
    with tr.SteadyClient(server.url, workers=2, max_requests=7, pause=0) as traffic:
        time.sleep(1)
    assert traffic.total == 7 == server.hits
    start = time.monotonic()
    client = tr.SteadyClient(server.url, max_seconds=0.5, pause=0.01).__enter__()
    for thread in client._threads:
        thread.join(10)
    assert not any(t.is_alive() for t in client._threads) and time.monotonic() - start < 5


def test_refused_connections_count_as_failed():
    with tr.SteadyClient(f"http://127.0.0.1:{free_port()}/", workers=1, max_requests=3, pause=0) as traffic:
        time.sleep(1)
    assert traffic.tally().failed == 3 and "ConnectError" in traffic.tally().failures[0]


class FrontendDouble:
    """The frontend's API as the traffic pod uses it: register, login (a session cookie), tasks and
    chat, answering 401 without the cookie and 502 while ``failing`` is set."""

    def __init__(self):
        self.failing = threading.Event()
        self.seen: list[tuple[str, str, str]] = []  # (method, path, cookie)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, body=b"{}", cookie=None):
                self.send_response(status)
                if cookie:
                    self.send_header("Set-Cookie", f"todo_session={cookie}; Path=/; HttpOnly; SameSite=Lax")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                outer.seen.append((self.command, self.path, self.headers.get("Cookie", "")))
                if self.path == "/api/auth/register":
                    return self._answer(201)
                if self.path == "/api/auth/login":
                    return self._answer(200, cookie="s3cret")
                if self.headers.get("Cookie") != "todo_session=s3cret":
                    return self._answer(401)
                if outer.failing.is_set():
                    return self._answer(502, b'{"error": "backend_unavailable"}')
                assert body is None or "title" in body or "message" in body
                return self._answer(201 if self.command == "POST" and self.path == "/api/tasks" else 200)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_in_cluster_script_signs_in_uses_the_api_like_the_ui_and_counts_any_non_2xx():
    """Run the script the traffic pod runs, here against a double of the frontend's API."""
    frontend = FrontendDouble()
    try:
        threading.Timer(0.5, frontend.failing.set).start()
        threading.Timer(1.0, frontend.failing.clear).start()
        result = subprocess.run([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, frontend.url],
                                env={"MAX_SECONDS": "2"}, capture_output=True, text=True, timeout=30)
    finally:
        frontend.httpd.shutdown()
    assert result.returncode == 0 and result.stdout.rstrip().endswith("DONE"), result.stdout + result.stderr
    tally = tr.parse_tally(result.stdout)
    assert tally.ok > 0 and tally.failed > 0 and "HTTP 502" in tally.failures[0]
    assert set(tally.by_kind) == {"list tasks", "add task", "chat turn"}
    api_calls = [(m, p, c) for m, p, c in frontend.seen if not p.startswith("/api/auth/")]
    assert api_calls and all(c == "todo_session=s3cret" for _, _, c in api_calls)  # signed in throughout


def test_in_cluster_script_gives_up_when_it_cannot_sign_in():
    result = subprocess.run([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, f"http://127.0.0.1:{free_port()}"],
                            env={"MAX_SECONDS": "2", "SIGN_IN_SECONDS": "2"}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "SIGN-IN FAILED" in result.stdout


def test_parse_tally_takes_the_last_line():
    log = 'noise\nTALLY {"ok": 1, "failed": 0, "failures": []}\nTALLY {"ok": 9, "failed": 1, "failures": ["x"]}\n'
    assert tr.parse_tally(log) == tr.TrafficTally(9, 1, ["x"])
    assert tr.parse_tally("nothing") is None
