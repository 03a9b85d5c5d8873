"""Liveness never touches the database; readiness follows it, including a database that starts late."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from backend_support import JWT_SECRET, backend

from harness import contract
from harness.core.wait import wait_for
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess


def test_health_paths_answer(api: ServerProcess, client: httpx.Client) -> None:
    assert client.get(contract.BACKEND_LIVENESS_PATH).json() == {"status": "ok"}
    ready = client.get(contract.BACKEND_READINESS_PATH)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_openapi_lists_the_contract(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/auth/register", "/api/auth/login", "/api/{user_id}/tasks", "/api/{user_id}/tasks/{task_id}",
                 "/api/{user_id}/tasks/{task_id}/complete", "/api/{user_id}/chat", "/healthz", "/readyz"):
        assert path in paths, path
    assert set(paths["/api/{user_id}/tasks/{task_id}"]) >= {"get", "put", "delete"}


def test_logs_are_json_lines_without_secrets(api: ServerProcess, client: httpx.Client) -> None:
    import json

    client.get("/healthz")
    logs = api.logs()
    records = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert any(r.get("path") == "/healthz" and r.get("status") == 200 for r in records)
    password = api.env["DATABASE_URL"].split(":")[2].split("@")[0]
    assert password not in logs and JWT_SECRET not in logs
    started = next(r for r in records if r["message"] == "starting")
    assert ":***@" in started["database"]


@pytest.fixture
def late_database() -> Iterator[tuple[LocalPostgres, str]]:
    """A PostgreSQL of its own, stopped: this test takes it down and up."""
    with LocalPostgres() as server:
        url = server.create_database().url
        server.stop()
        yield server, url


def test_starts_while_database_is_down_and_becomes_ready_by_itself(late_database: tuple[LocalPostgres, str]) -> None:
    server, url = late_database
    with backend(url, health_path=contract.BACKEND_LIVENESS_PATH) as api:
        with httpx.Client(base_url=api.url, timeout=15) as http:
            not_ready = http.get(contract.BACKEND_READINESS_PATH)
            assert not_ready.status_code == 503
            assert not_ready.json()["status"] == "not ready" and "database" in not_ready.json()["reason"]
            assert url.split(":")[2].split("@")[0] not in not_ready.text

            server.restart()
            wait_for(lambda: http.get(contract.BACKEND_READINESS_PATH).status_code == 200,
                     what="readiness after the database came up", timeout=45, describe=api.tail)

            server.stop()
            outage = http.get(contract.BACKEND_READINESS_PATH)
            assert outage.status_code == 503 and "database unreachable" in outage.json()["reason"]
            assert http.get(contract.BACKEND_LIVENESS_PATH).status_code == 200

            server.restart()
            wait_for(lambda: http.get(contract.BACKEND_READINESS_PATH).status_code == 200,
                     what="readiness after the outage", timeout=45, describe=api.tail)
        assert api.returncode is None, "the process must survive a database outage"
    assert "retrying" in api.logs()


def test_cors_allows_only_the_configured_origins(postgres_server: LocalPostgres) -> None:
    with backend(postgres_server.create_database().url, name="todo-api-cors",
                 CORS_ORIGINS="http://localhost:3000, https://todo.example.com") as api:
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        allowed = httpx.options(f"{api.url}/api/auth/login", headers={"Origin": "https://todo.example.com", **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://todo.example.com"
        refused = httpx.options(f"{api.url}/api/auth/login", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
