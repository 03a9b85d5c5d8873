"""The bounded continuous HTTP client and its in-cluster twin, against a local HTTP server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.core.net import free_port
from harness.deploy import k8s


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


@pytest.mark.requirement("SC-006")
def test_counter_counts_successes_and_server_errors(server):
    with k8s.TrafficCounter(server.url, interval=0.01) as traffic:
        traffic.wait_for_first()
        time.sleep(0.2)
        server.failing.set()
        time.sleep(0.2)
        server.failing.clear()
        time.sleep(0.2)
    tally = traffic.tally
    assert tally.ok > 5 and tally.failed > 5 and tally.total == tally.ok + tally.failed
    assert tally.failures[0] == "HTTP 503" and len(tally.failures) <= 10
    assert "failed of" in tally.summary()


@pytest.mark.requirement("SC-006")
def test_counter_is_bounded_in_requests_and_time(server):
    with k8s.TrafficCounter(server.url, max_requests=7, interval=0) as traffic:
        time.sleep(1)
    assert traffic.tally.total == 7 == server.hits
    start = time.monotonic()
    counter = k8s.TrafficCounter(server.url, max_seconds=0.5, interval=0.01).__enter__()
    counter._thread.join(10)
    assert not counter._thread.is_alive() and time.monotonic() - start < 5


@pytest.mark.requirement("SC-006")
def test_refused_connections_count_as_failed():
    with k8s.TrafficCounter(f"http://127.0.0.1:{free_port()}/", max_requests=3, interval=0) as traffic:
        time.sleep(1)
    assert traffic.tally.failed == 3 and "ConnectError" in traffic.tally.failures[0]


@pytest.mark.requirement("SC-006", "EC-2")
def test_in_cluster_script_counts_the_same_way(server):
    """Run the script the traffic pod runs, here against the local server."""
    server.failing.set()
    threading.Timer(0.6, server.failing.clear).start()
    result = subprocess.run([sys.executable, "-c", k8s.IN_CLUSTER_TRAFFIC, server.url, server.url],
                            env={"MAX_SECONDS": "2"}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("DONE")
    tally = k8s.parse_tally(result.stdout)
    assert tally.ok > 0 and tally.failed > 0 and tally.failures[0].startswith("HTTP 503")


@pytest.mark.requirement("SC-006")
def test_parse_tally_takes_the_last_line():
    log = 'noise\nTALLY {"ok": 1, "failed": 0, "failures": []}\nTALLY {"ok": 9, "failed": 1, "failures": ["x"]}\n'
    assert k8s.parse_tally(log) == k8s.TrafficTally(9, 1, ["x"])
    assert k8s.parse_tally("nothing") is None
