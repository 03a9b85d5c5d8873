"""Fixtures for the backend's own tests: a real PostgreSQL, the real ``todo-api`` process, real HTTP.

The helpers live in ``backend_support`` (a uniquely named module, so the many conftest.py files of
the whole suite cannot shadow each other). The only test double is the language model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from backend_support import ApiUser, FakeOpenAI, backend, register_and_login

from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess


@pytest.fixture(scope="session")
def api(postgres_server: LocalPostgres) -> Iterator[ServerProcess]:
    """The backend in its default (rules) mode, on a database of its own, for the whole session;
    API_DOCS on: the schemathesis run reads /openapi.json (off by default: test_backend_health)."""
    with backend(postgres_server.create_database().url, API_DOCS="true") as server:
        yield server


@pytest.fixture
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as http:
        yield http


@pytest.fixture
def make_user(api: ServerProcess) -> Callable[[], ApiUser]:
    return lambda: register_and_login(api.url)


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.fixture
def other_user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            fake.requests.append(body)
            fake.headers.append({k.lower(): v for k, v in self.headers.items()})
            fake.received.set()
            if self.path != "/v1/chat/completions":
                status, answer = 404, {"error": {"message": f"no route {self.path}"}}
            else:
                time.sleep(fake.delay)
                status, answer = fake.answer(body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
