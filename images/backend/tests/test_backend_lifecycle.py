"""Process lifecycle: replicas migrating at once, and SIGTERM with a request in flight."""

from __future__ import annotations

import signal
import threading
import time

import httpx
from backend_support import PYTHON_M, FakeOpenAI, backend, register_and_login
from todo_api.migrate import head_revision

from harness.core.wait import wait_for
from harness.testkit.postgres import LocalPostgres


def test_two_processes_migrating_at_once_both_become_ready(postgres_server: LocalPostgres) -> None:
    database = postgres_server.create_database()
    first = backend(database.url, name="replica-a")
    second = backend(database.url, name="replica-b", argv=PYTHON_M)
    first.start(wait=False)
    second.start(wait=False)
    try:
        first.wait_healthy()
        second.wait_healthy()
        assert postgres_server.psql("SELECT version_num FROM alembic_version", database=database.name) == head_revision()
        tables = postgres_server.psql(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
            database=database.name,
        )
        assert tables == "alembic_version,conversations,messages,tasks,users"
        for replica in (first, second):
            assert '"level": "error"' not in replica.logs() and "Traceback" not in replica.logs()
        user = register_and_login(first.url)
        assert httpx.get(f"{second.url}/api/{user.id}/tasks", headers=user.headers).status_code == 200
    finally:
        assert first.stop() == 0
        assert second.stop() == 0


def test_sigterm_finishes_the_in_flight_request_and_exits_0(postgres_server: LocalPostgres,
                                                            fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 8.0
    server = backend(postgres_server.create_database().url, name="todo-api-sigterm", CHAT_PROVIDER="openai",
                     OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.url, OPENAI_ALLOW_HTTP="true")
    with server:
        user = register_and_login(server.url)
        outcome: dict[str, object] = {}

        def in_flight() -> None:
            try:
                outcome["response"] = httpx.post(f"{server.url}/api/{user.id}/chat", json={"message": "hello"},
                                                 headers=user.headers, timeout=30)
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        request = threading.Thread(target=in_flight)
        request.start()
        assert fake_openai.received.wait(timeout=20), "the chat request never reached the model"
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)

        # New connections are refused while the accepted request is still being served.
        def refused() -> bool:
            try:
                httpx.get(f"{server.url}/healthz", timeout=1)
            except httpx.ConnectError:
                return True
            return False

        wait_for(refused, what="the listening socket to close after SIGTERM and the drain", timeout=12, interval=0.1)
        assert request.is_alive(), "the in-flight request ended before the model answered"
        request.join(timeout=30)
        assert "error" not in outcome, outcome.get("error")
        response = outcome["response"]
        assert isinstance(response, httpx.Response) and response.status_code == 200
        assert response.json()["response"] == "You said: hello"
        assert server.process.wait(timeout=30) == 0


def test_after_sigterm_a_pooled_connection_is_closed_after_an_answer_not_under_a_request(
        postgres_server: LocalPostgres) -> None:
    """The drain: a client (the frontend's proxy) that sends on its pooled keep-alive connection just
    after SIGTERM gets an answer with "Connection: close" instead of a closed socket; the server
    stops accepting only after the drain, and exits 0."""
    server = backend(postgres_server.create_database().url, name="todo-api-drain")
    with server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").headers.get("connection") != "close"  # a pooled keep-alive connection
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # stock uvicorn has closed every idle connection and the listener by now
        answer = client.get("/healthz")
        assert answer.status_code == 200 and answer.headers.get("connection") == "close"
        assert server.process.wait(timeout=40) == 0
