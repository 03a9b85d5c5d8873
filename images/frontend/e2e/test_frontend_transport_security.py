"""SESSION_COOKIE_SECURE and HSTS_MAX_AGE are runtime settings of the built standalone server
(security review, issue 16): the same build started with each value, checked over real HTTP."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from harness.core.net import free_port
from harness.testkit.server_process import ServerProcess

from .support import PASSWORD, SERVER_COMMAND, STANDALONE_DIR, start_frontend

pytestmark = pytest.mark.timeout(300)

HSTS_PATHS = ["/login", "/", "/api/healthz", "/api/tasks"]


@pytest.fixture(scope="module")
def email(backend: ServerProcess) -> str:
    address = f"tls-{uuid.uuid4().hex[:10]}@example.com"
    created = httpx.post(
        f"{backend.url}/api/auth/register", json={"email": address, "password": PASSWORD}, timeout=30
    )
    assert created.status_code == 201, created.text
    return address


@pytest.fixture(scope="module")
def started(standalone_server, backend: ServerProcess) -> Iterator:
    """start(**env) -> a running frontend with those settings; all are stopped at the end."""
    servers: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        servers.append(start_frontend(backend.url, **env))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _login_cookie(server: ServerProcess, email: str, **headers: str) -> str:
    """The Set-Cookie header of a successful sign-in through the frontend, over plain HTTP."""
    response = httpx.post(
        f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    cookie = response.headers.get("set-cookie", "")
    assert cookie.startswith("todo_session="), cookie
    return cookie


def _secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";"))


@pytest.mark.parametrize(
    ("setting", "headers", "secure"),
    [
        ({"SESSION_COOKIE_SECURE": "true"}, {}, True),
        ({"SESSION_COOKIE_SECURE": "auto"}, {"X-Forwarded-Proto": "https"}, True),
        ({"SESSION_COOKIE_SECURE": "auto"}, {}, False),
        ({}, {"X-Forwarded-Proto": "https"}, True),  # auto is the default
        ({}, {}, False),
        ({"SESSION_COOKIE_SECURE": "false"}, {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["true-over-http", "auto-behind-https-proxy", "auto-over-http", "unset-behind-https-proxy",
         "unset-over-http", "false-behind-https-proxy"],
)
def test_SESSION_COOKIE_SECURE_decides_the_cookies_Secure_flag(started, email, setting, headers, secure) -> None:
    server = started(**setting)
    cookie = _login_cookie(server, email, **headers)
    assert _secure(cookie) is secure, cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower(), cookie


@pytest.fixture(scope="module")
def hsts_server(started) -> ServerProcess:
    return started(HSTS_MAX_AGE="31536000")


@pytest.mark.parametrize("path", HSTS_PATHS)
def test_HSTS_MAX_AGE_puts_the_header_on_pages_and_api_alike(hsts_server: ServerProcess, path: str) -> None:
    response = httpx.get(hsts_server.url + path, timeout=30)
    assert response.headers.get("strict-transport-security") == "max-age=31536000", (path, response.headers)


@pytest.mark.parametrize("setting", [{"HSTS_MAX_AGE": "0"}, {}], ids=["zero", "unset"])
def test_HSTS_MAX_AGE_0_or_unset_sends_no_header(started, setting) -> None:
    server = started(**setting)
    for path in HSTS_PATHS:
        response = httpx.get(server.url + path, timeout=30)
        assert "strict-transport-security" not in response.headers, (path, response.headers)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SESSION_COOKIE_SECURE", "yes"), ("SESSION_COOKIE_SECURE", "1"), ("HSTS_MAX_AGE", "1y"),
     ("HSTS_MAX_AGE", "-1"), ("HSTS_MAX_AGE", "31536000s")],
)
def test_a_malformed_value_stops_start_up_with_one_line_naming_it(standalone_server, variable, value) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SESSION_COOKIE_SECURE", "HSTS_MAX_AGE")}
    env.update({"PORT": str(free_port()), "NEXT_TELEMETRY_DISABLED": "1",
                "BACKEND_URL": "http://127.0.0.1:8000", variable: value})
    result = subprocess.run(
        SERVER_COMMAND, cwd=STANDALONE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    naming = [line for line in result.stderr.splitlines() if variable in line]
    assert len(naming) == 1, result.stderr
    assert naming[0].startswith(f"configuration error: {variable} is malformed"), naming[0]
    assert "    at " not in result.stderr  # no stack trace
