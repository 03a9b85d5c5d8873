"""The bounded steady client and its in-cluster twin (harness.testkit.traffic), against a local HTTP server."""

from __future__ import annotations

import json
import signal
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
    """The frontend's API as the traffic pod uses it, on 127.0.0.1: register, login (a session
    cookie), tasks (kept per server, so the list really holds what was added) and chat; 401 without
    the cookie. ``fault`` makes it misbehave for one kind of request (:data:`FAULTS`); ``hang_all``
    makes every request after sign-in hang until the double is closed."""

    def __init__(self, fault: str | None = None):
        self.fault = fault
        self.hang_all = threading.Event()
        self.hanging = threading.Event()  # set when a request is being held
        self.released = threading.Event()
        self.seen: list[tuple[str, str, str]] = []  # (method, path, cookie)
        self.tasks: dict[int, str] = {}
        self.next_id = 1
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status, body=b"", cookie=None, content_type="application/json"):
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                if cookie:
                    self.send_header("Set-Cookie", f"todo_session={cookie}; Path=/; HttpOnly; SameSite=Lax")
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def _hang(self):
                outer.hanging.set()
                outer.released.wait(60)

            def _trickle(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                for byte in body:  # every read is answered within the socket timeout, the whole never is
                    if outer.released.wait(0.3):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                outer.seen.append((self.command, self.path, self.headers.get("Cookie", "")))
                if self.path == "/api/auth/register":
                    return self._answer(201, {"id": "u1", "email": body["email"]})
                if self.path == "/api/auth/login":
                    return self._answer(200, {"user_id": "u1", "email": body["email"]}, cookie="s3cret")
                if self.headers.get("Cookie") != "todo_session=s3cret":
                    return self._answer(401, {"detail": "not signed in"})
                if outer.hang_all.is_set():
                    return self._hang()
                kind = {("POST", "/api/tasks"): "add", ("GET", "/api/tasks"): "list",
                        ("POST", "/api/chat"): "chat"}.get((self.command, self.path), "delete")
                fault = outer.fault if outer.fault and outer.fault.startswith(kind + " ") else None
                if fault == f"{kind} hangs":
                    return self._hang()
                if fault == f"{kind} 502":
                    return self._answer(502, {"error": "backend_unavailable"})
                if kind == "add":
                    task = {"id": outer.next_id, "title": body["title"], "description": None, "completed": False,
                            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}
                    outer.next_id += 1
                    if fault == "add answers another title":
                        task["title"] = "something else"
                    if fault != "add stores nothing":
                        outer.tasks[task["id"]] = task["title"]
                    return self._answer(201, task)
                if kind == "list":
                    tasks = [{"id": i, "title": t} for i, t in outer.tasks.items()]
                    if fault == "list answers an HTML page":
                        return self._answer(200, b"<html>Bad gateway</html>", content_type="text/html")
                    if fault == "list trickles":
                        return self._trickle(json.dumps(tasks).encode())
                    if fault == "list answers an object":
                        return self._answer(200, {"tasks": tasks})
                    return self._answer(200, tasks)
                if kind == "chat":
                    if fault == "chat answers an empty response":
                        return self._answer(200, {"conversation_id": 1, "response": "", "tool_calls": []})
                    if fault == "chat answers 200 without JSON":
                        return self._answer(200, b"", content_type="text/plain")
                    return self._answer(200, {"conversation_id": 1, "response": "You have no tasks.", "tool_calls": []})
                task_id = int(self.path.rsplit("/", 1)[-1])
                if outer.tasks.pop(task_id, None) is None:
                    return self._answer(404, {"detail": "not found"})
                return self._answer(204)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# fault -> the kind of request it must show up under
FAULTS = {
    "add 502": "add task",
    "add answers another title": "add task",
    "add stores nothing": "list tasks",  # the add looks right; the list read back lacks the task
    "list answers an HTML page": "list tasks",
    "list answers an object": "list tasks",
    "list hangs": "list tasks",
    "list trickles": "list tasks",
    "chat answers an empty response": "chat turn",
    "chat answers 200 without JSON": "chat turn",
    "chat 502": "chat turn",
}


# What a fault may also fail after it: the task never stored cannot be deleted either (404).
FOLLOW_ON = {"add stores nothing": {"delete task"}}


def start_client(url: str, **env: str) -> subprocess.Popen:
    """The script the traffic pod runs, here as a process of this machine against ``url``."""
    return subprocess.Popen([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, url],
                            env={"REQUEST_TIMEOUT": "1", **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_until_stopped(url: str, seconds: float, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """Start the client, let it run ``seconds``, SIGTERM it as the test does the pod; (result, signal time)."""
    process = start_client(url, **env)
    try:
        time.sleep(seconds)
        stopped_at = time.time()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), stopped_at


@pytest.fixture
def frontend(request):
    double = FrontendDouble(getattr(request, "param", None))
    yield double
    double.close()


def test_in_cluster_client_signs_in_uses_the_api_like_the_ui_and_runs_until_stopped(frontend):
    start = time.time()
    result, stopped_at = run_until_stopped(frontend.url, 2.5)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("DONE"), result.stdout + result.stderr
    final = tr.final_verdict(result.stdout, after=start)  # alive to the end: stopped by the signal, tally after it
    assert final.final and final.ended == "stop" and final.failed == 0 and final.ok >= 8, final
    assert stopped_at - 1 <= final.stop_at <= final.at and final.last_ok_at >= start
    assert set(final.by_kind) == {"add task", "list tasks", "chat turn", "delete task"}
    assert final.by_kind["add task"][0] >= 2 and final.by_kind["delete task"][0] >= 1
    api_calls = [(m, p, c) for m, p, c in frontend.seen if not p.startswith("/api/auth/")]
    assert api_calls and all(c == "todo_session=s3cret" for _, _, c in api_calls)  # signed in throughout
    assert len(frontend.tasks) <= 1  # each round deletes the task it added: the list stays short
    assert tr.parse_tally(result.stdout) == final and len(tr.parse_timeline(result.stdout)) >= 2


@pytest.mark.parametrize("frontend", list(FAULTS), indirect=True, ids=list(FAULTS))
def test_in_cluster_client_counts_a_wrong_answer_as_failed(frontend):
    """A right status is not enough: a wrong body, a task missing from the list read back, a hang or
    an answer trickling in past the request timeout, each is a failure of the kind it hit."""
    result, _ = run_until_stopped(frontend.url, 2)
    final = tr.final_verdict(result.stdout)
    kind = FAULTS[frontend.fault]
    ok, failed = final.by_kind[kind]
    assert failed >= 1, f"{frontend.fault}: not counted as failed: {final.summary()}"
    assert any(f.startswith(kind) for f in final.failures), final.failures
    others = {k for k, v in final.by_kind.items() if k != kind and v[1]}
    assert others <= FOLLOW_ON.get(frontend.fault, set()), f"{frontend.fault} was counted under {others} too"


def test_a_request_hanging_when_the_client_is_stopped_is_counted_as_failed(frontend):
    process = start_client(frontend.url, REQUEST_TIMEOUT="2")
    try:
        wait_for(lambda: frontend.seen and any(not p.startswith("/api/auth/") for _, p, _ in frontend.seen),
                 what="the first API request", timeout=30)
        frontend.hang_all.set()
        assert frontend.hanging.wait(30), "no request reached the hang"
        process.send_signal(signal.SIGTERM)  # while that request hangs
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    final = tr.final_verdict(out)
    assert final.ended == "stop" and final.failed == 1, final.summary()
    assert "no whole answer" in final.failures[0] or "timed out" in final.failures[0], final.failures


def test_in_cluster_client_that_stops_by_itself_is_not_taken_as_alive_to_the_end(frontend):
    """The safety net (MAX_SECONDS) ends the client, but its tally then fails the verdict."""
    result = subprocess.run([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, frontend.url],
                            env={"MAX_SECONDS": "1.5"}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and tr.parse_final(result.stdout).ended == "max_seconds", result.stdout
    with pytest.raises(tr.TrafficClientProblem, match="stopped by itself"):
        tr.final_verdict(result.stdout)


def test_final_verdict_rejects_a_client_that_died_or_went_quiet_before_the_moment_to_cover():
    running = 'TALLY {"ok": 5, "failed": 0, "failures": [], "at": 100.0}\n'
    with pytest.raises(tr.TrafficClientProblem, match="no final tally"):
        tr.final_verdict(running + "Traceback (most recent call last):\n")
    final = ('TALLY {"ok": 5, "failed": 0, "failures": [], "at": 110.0, "final": true, "ended": "stop", '
             '"stop_at": 109.0, "last_ok_at": 104.0}\nDONE\n')
    assert tr.final_verdict(running + final, after=103.0).ok == 5
    with pytest.raises(tr.TrafficClientProblem, match="succeeded after"):
        tr.final_verdict(running + final, after=105.0)  # alive, but nothing succeeded after the rollout
    with pytest.raises(tr.TrafficClientProblem, match="before 111.0"):
        tr.final_verdict(running + final, after=111.0)
    with pytest.raises(tr.TrafficClientProblem, match="not written after the stop"):
        tr.final_verdict(running + final.replace('"stop_at": 109.0', '"stop_at": 112.0'))


def test_in_cluster_script_gives_up_when_it_cannot_sign_in():
    result = subprocess.run([sys.executable, "-c", tr.IN_CLUSTER_TRAFFIC, f"http://127.0.0.1:{free_port()}"],
                            env={"MAX_SECONDS": "2", "SIGN_IN_SECONDS": "2"}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "SIGN-IN FAILED" in result.stdout


def test_parse_tally_takes_the_last_line():
    log = 'noise\nTALLY {"ok": 1, "failed": 0, "failures": []}\nTALLY {"ok": 9, "failed": 1, "failures": ["x"]}\n'
    assert tr.parse_tally(log) == tr.TrafficTally(9, 1, ["x"])
    assert tr.parse_tally("nothing") is None
    assert tr.parse_final(log) is None  # running counts, no final tally
