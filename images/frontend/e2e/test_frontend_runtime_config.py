"""BACKEND_URL is runtime configuration: one build, any backend; a bad value stops start-up."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from harness.core.net import free_port

from .support import PASSWORD, SERVER_COMMAND, STANDALONE_DIR, start_backend, start_frontend

pytestmark = pytest.mark.timeout(300)


def _seed(backend, email: str, title: str) -> None:
    created = httpx.post(
        f"{backend.url}/api/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert created.status_code == 201, created.text
    login = httpx.post(
        f"{backend.url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    task = httpx.post(
        f"{backend.url}/api/{login['user_id']}/tasks", json={"title": title}, headers=headers, timeout=10
    )
    assert task.status_code == 201, task.text


def _titles_seen_through(frontend_url: str, email: str) -> list[str]:
    """Sign in through the frontend's own /api routes, as a browser does, and list the tasks."""
    with httpx.Client(base_url=frontend_url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert "access_token" not in login.text
        tasks = client.get("/api/tasks")
        assert tasks.status_code == 200, tasks.text
        return [t["title"] for t in tasks.json()]


@pytest.mark.requirement("US3-1")
def test_the_same_build_reaches_whichever_backend_BACKEND_URL_names(
    standalone_server, postgres_server
) -> None:
    email = "runtime-url@example.com"
    backend_a = start_backend(postgres_server.create_database().url)
    backend_b = start_backend(postgres_server.create_database().url)
    try:
        _seed(backend_a, email, "only in backend A")
        _seed(backend_b, email, "only in backend B")

        # The same server and port, restarted with another BACKEND_URL (a ConfigMap change + restart).
        port = free_port()
        first = start_frontend(backend_a.url, port=port)
        try:
            assert _titles_seen_through(first.url, email) == ["only in backend A"]
        finally:
            first.stop()
        second = start_frontend(backend_b.url, port=port)
        try:
            assert _titles_seen_through(second.url, email) == ["only in backend B"]
        finally:
            second.stop()
    finally:
        backend_a.stop()
        backend_b.stop()

    # Nothing of either URL was baked into the build output.
    for path in STANDALONE_DIR.rglob("*"):
        if (
            path.is_file()
            and path.suffix in {".js", ".json", ".html", ".rsc"}
            and "node_modules" not in path.parts
        ):
            text = path.read_text(errors="ignore")
            assert backend_a.url not in text and backend_b.url not in text, path


@pytest.mark.requirement("EC-3")
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "BACKEND_URL is not set"),
        ("todo-backend:8000", "BACKEND_URL is malformed"),
        ("not a url", "BACKEND_URL is malformed"),
    ],
    ids=["missing", "no-scheme", "not-a-url"],
)
def test_a_missing_or_malformed_BACKEND_URL_stops_start_up(standalone_server, value, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BACKEND_URL"}
    env.update({"PORT": str(free_port()), "NEXT_TELEMETRY_DISABLED": "1"})
    if value is not None:
        env["BACKEND_URL"] = value
    result = subprocess.run(
        SERVER_COMMAND, cwd=STANDALONE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    naming = [line for line in (result.stdout + result.stderr).splitlines() if "BACKEND_URL" in line]
    assert len(naming) == 1, result.stdout + result.stderr
    assert naming[0].startswith(f"configuration error: {expected}")
    assert naming[0] in result.stderr
    assert "    at " not in result.stderr  # no stack trace


def test_the_health_endpoint_never_calls_the_backend(standalone_server) -> None:
    server = start_frontend(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        for _ in range(3):
            response = httpx.get(server.url + "/api/healthz", timeout=10)
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
        assert "backend_unreachable" not in server.logs()
    finally:
        server.stop()


def test_SIGTERM_lets_an_in_flight_request_finish_and_refuses_new_ones(standalone_server) -> None:
    """Graceful stop (src/server/main.ts, what Next's start-server did): a rolling update's SIGTERM
    must not cut the answer a user is waiting for. The backend double holds its answer until the
    frontend has been told to stop."""
    arrived, release = threading.Event(), threading.Event()

    class SlowBackend(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            arrived.set()
            release.wait(30)
            body = b'[{"id": 1, "title": "kept"}]'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    backend = ThreadingHTTPServer(("127.0.0.1", 0), SlowBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    server = start_frontend(f"http://127.0.0.1:{backend.server_address[1]}")
    session = {"token": "t", "userId": "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c", "email": "a@b.c"}
    cookie = "todo_session=" + base64.urlsafe_b64encode(json.dumps(session).encode()).decode().rstrip("=")
    try:
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(
                httpx.get, server.url + "/api/tasks", headers={"cookie": cookie, "connection": "close"}, timeout=30
            )
            assert arrived.wait(30), "the request never reached the backend"
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            # New connections are refused once the server has stopped listening.
            with pytest.raises(httpx.ConnectError):
                for _ in range(100):
                    httpx.get(server.url + "/api/healthz", timeout=2)
                    release.wait(0.1)  # a short pause between tries (release is not set yet)
            release.set()
            answer = in_flight.result(timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == [{"id": 1, "title": "kept"}]
        assert server.process.wait(timeout=30) == 143
    finally:
        release.set()
        server.stop()
        backend.shutdown()
