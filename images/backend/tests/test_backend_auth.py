"""Registration and login: argon2 hashes, HS256 tokens signed with JWT_SECRET, honest status codes."""

from __future__ import annotations

import os
import secrets
import sys
import threading
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from backend_support import JWT_SECRET, ApiUser, backend

from harness.core.paths import CHART_DIR
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess


def test_register_then_login_returns_a_bearer_token_for_the_user(client: httpx.Client) -> None:
    email = f"Ada-{secrets.token_hex(4)}@Example.com"
    created = client.post("/api/auth/register", json={"email": email, "password": "correct horse", "name": "Ada"})
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "email": email.lower()}
    login = client.post("/api/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer" and body["user_id"] == created.json()["id"]
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="todo-frontend")
    assert claims["sub"] == body["user_id"] and claims["exp"] > claims["iat"]
    assert claims["iss"] == "todo-api" and claims["aud"] == "todo-frontend"


def test_taken_email_is_409_whatever_its_case(client: httpx.Client, user: ApiUser) -> None:
    again = client.post("/api/auth/register", json={"email": user.email.upper(), "password": "another password"})
    assert again.status_code == 409 and again.json() == {"detail": "email already registered"}


def test_wrong_password_and_unknown_email_are_the_same_401(client: httpx.Client, user: ApiUser) -> None:
    wrong = client.post("/api/auth/login", json={"email": user.email, "password": "not-the-password"})
    unknown = client.post("/api/auth/login", json={"email": "nobody-" + user.email, "password": user.password})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid email or password"}


def test_invalid_registration_is_422_naming_the_field_without_echoing_it(client: httpx.Client) -> None:
    bad_email = client.post("/api/auth/register", json={"email": "not-an-email", "password": "long enough"})
    assert bad_email.status_code == 422
    assert bad_email.json()["detail"][0]["loc"] == ["body", "email"]
    assert "email address" in bad_email.json()["detail"][0]["msg"]
    short = client.post("/api/auth/register", json={"email": "x@example.com", "password": "sh0rt!"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    assert "sh0rt!" not in short.text
    missing = client.post("/api/auth/register", json={"password": "long enough"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "email"]


def test_passwords_are_stored_as_argon2_hashes(api: ServerProcess, postgres_server: LocalPostgres,
                                                user: ApiUser) -> None:
    database = api.env["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    stored = postgres_server.psql(f"SELECT password_hash FROM users WHERE id = '{user.id}'", database=database)
    assert stored.startswith("$argon2id$") and user.password not in stored


def test_task_routes_need_a_valid_token(client: httpx.Client, user: ApiUser) -> None:
    path = f"/api/{user.id}/tasks"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401
    now = datetime.now(UTC)
    forged = jwt.encode({"sub": user.id, "iat": now, "exp": now + timedelta(hours=1)}, "x" * 40, algorithm="HS256")
    assert client.get(path, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = jwt.encode({"sub": user.id, "iss": "todo-api", "aud": "todo-frontend", "iat": now - timedelta(hours=2),
                          "exp": now - timedelta(hours=1)}, JWT_SECRET, algorithm="HS256")
    response = client.get(path, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers=user.headers).status_code == 200


@pytest.mark.parametrize(("name", "claims"), [
    ("no iss or aud", {}),
    ("no aud", {"iss": "todo-api"}),
    ("no iss", {"aud": "todo-frontend"}),
    ("another issuer", {"iss": "someone-else", "aud": "todo-frontend"}),
    ("another audience", {"iss": "todo-api", "aud": "another-service"}),
])
def test_a_token_signed_with_the_key_but_not_issued_for_this_api_is_refused(
        api: ServerProcess, client: httpx.Client, user: ApiUser, name: str, claims: dict) -> None:
    now = datetime.now(UTC)
    token = jwt.encode({"sub": user.id, "iat": now, "exp": now + timedelta(hours=1), **claims}, JWT_SECRET,
                       algorithm="HS256")
    response = client.get(f"/api/{user.id}/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, name
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    mcp = client.post("/mcp", json=ping, headers={"Authorization": f"Bearer {token}",
                                                  "Accept": "application/json, text/event-stream"})
    assert mcp.status_code == 401, name
    good = {"sub": user.id, "iss": "todo-api", "aud": "todo-frontend", "iat": now, "exp": now + timedelta(hours=1)}
    accepted = jwt.encode(good, JWT_SECRET, algorithm="HS256")
    assert client.get(f"/api/{user.id}/tasks", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200


def test_a_burst_of_sign_ups_stays_within_the_charts_memory_limit(postgres_server: LocalPostgres) -> None:
    """40 registrations at once (FastAPI's whole thread pool) must not need more memory than the
    pod may use: with argon2's default 64 MiB per hash this process peaked past a gigabyte and the
    load test's backend pods were OOM-killed."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    import yaml

    values = CHART_DIR / "values.yaml"
    limit = yaml.safe_load(values.read_text())["backend"]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), f"{values}: backend.resources.limits.memory {limit!r} is not in Mi"
    limit_bytes = int(limit[:-2]) * 2**20

    def sign_up(base_url: str) -> int:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            body = {"email": f"burst-{secrets.token_hex(5)}@example.com", "password": secrets.token_urlsafe(12)}
            return http.post("/api/auth/register", json=body).status_code

    with backend(postgres_server.create_database().url) as server:
        assert server.process is not None
        with ThreadPoolExecutor(max_workers=40) as pool:
            codes = list(pool.map(sign_up, [server.url] * 40))
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    assert codes == [201] * 40
    assert peak_kib * 1024 < limit_bytes * 0.75, (
        f"peak RSS {peak_kib // 1024} MiB for 40 concurrent sign-ups; the pod's limit is {limit}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_password_hashing_runs_below_the_request_threads_priority() -> None:
    """A sign-up burst must not take the CPU limit from signed-in requests: the hashing threads
    run at nice HASH_NICE, the rest of the process at its own priority."""
    from todo_api import security

    assert security.verify_password(security.hash_password("correct horse battery"), "correct horse battery")
    hashing = [t for t in threading.enumerate() if t.name.startswith("argon2")]
    assert hashing, "no hashing thread ran"
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for thread in hashing:
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(19, base + security.HASH_NICE)
