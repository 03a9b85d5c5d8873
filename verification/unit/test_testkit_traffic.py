"""The bounded steady client and its in-cluster twin (harness.testkit.traffic), against a local HTTP server."""

from __future__ import annotations

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


def test_in_cluster_script_counts_the_same_way(server):
    """Run the script the traffic pod runs, here against the local server."""
    server.failing.set()
    threading.Timer(0.6, server.failing.clear).start()
    result = subprocess.run([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, server.url, server.url],
                            env={"MAX_SECONDS": "2"}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("DONE")
    tally = tr.parse_tally(result.stdout)
    assert tally.ok > 0 and tally.failed > 0 and tally.failures[0].startswith("HTTP 503")


def test_parse_tally_takes_the_last_line():
    log = 'noise\nTALLY {"ok": 1, "failed": 0, "failures": []}\nTALLY {"ok": 9, "failed": 1, "failures": ["x"]}\n'
    assert tr.parse_tally(log) == tr.TrafficTally(9, 1, ["x"])
    assert tr.parse_tally("nothing") is None
