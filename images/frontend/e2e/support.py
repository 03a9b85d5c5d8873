"""Helpers of the frontend's end-to-end tests: start the real servers, log in, screenshots.

The fixtures that use them live in ``conftest.py``; the tests import what they need from here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.contract import FRONTEND_HEALTH_PATH
from harness.core.net import free_port
from harness.core.paths import REPO_ROOT
from harness.testkit import browser as ui
from harness.testkit.server_process import ServerProcess
from verification.tiers import skip_or_fail

FRONTEND_DIR = Path(__file__).resolve().parent.parent
STANDALONE_DIR = FRONTEND_DIR / ".next" / "standalone"
# The image's command (Dockerfile CMD), run in the standalone tree: our server entry, which answers the
# proxied API itself and hands the rest to Next (src/server/main.ts).
SERVER_JS = STANDALONE_DIR / "dist" / "server" / "main.js"
SERVER_COMMAND = ["node", "dist/server/main.js"]
# Fixed (reproducible) but random-looking: the backend refuses low-entropy secrets at start-up.
JWT_SECRET = secrets.token_hex(32)  # random per run: the backend refuses committed secrets (issue 27)
PASSWORD = "correct horse battery"


def _todo_api() -> Path:
    candidates = [Path(sys.executable).parent / "todo-api", REPO_ROOT / ".venv" / "bin" / "todo-api"]
    found = shutil.which("todo-api")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    skip_or_fail(
        "app", "the backend's `todo-api` is not installed: run `make setup` (pip install -e images/backend)"
    )
    raise AssertionError("unreachable")


# The frontend's runtime settings: never inherited from the caller's environment, only as a test says.
RUNTIME_ENV = ("BACKEND_URL", "SESSION_COOKIE_SECURE", "HSTS_MAX_AGE", "PROXY_TOKEN", "TRUSTED_PROXY_HOPS")


def start_frontend(
    backend_url: str | None, *, port: int | None = None, wait: bool = True, **extra: str
) -> ServerProcess:
    """Start the standalone build's server (SERVER_COMMAND) with BACKEND_URL (None: unset) and ``extra`` env."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k not in RUNTIME_ENV}
    env.update({"PORT": str(port), "NEXT_TELEMETRY_DISABLED": "1", **extra})
    if backend_url is not None:
        env["BACKEND_URL"] = backend_url
    server = ServerProcess(
        "frontend",
        SERVER_COMMAND,
        port=port,
        env=env,
        inherit_env=False,
        cwd=STANDALONE_DIR,
        health_path=FRONTEND_HEALTH_PATH,
    )
    try:
        return server.start(wait=wait)
    except BaseException:
        server.stop()
        raise


def start_backend(database_url: str) -> ServerProcess:
    port = free_port()
    server = ServerProcess(
        "backend",
        [str(_todo_api())],
        port=port,
        env={
            "PORT": str(port),
            "DATABASE_URL": database_url,
            "JWT_SECRET": JWT_SECRET,
            "CHAT_PROVIDER": "rules",
        },
        health_path="/readyz",
    )
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


@dataclass
class Account:
    email: str
    password: str = PASSWORD


def backend_token(backend: ServerProcess, account: Account) -> tuple[str, dict[str, str]]:
    """Log in to the backend directly (for checking what the UI did): (user_id, auth headers)."""
    response = httpx.post(
        f"{backend.url}/api/auth/login",
        json={"email": account.email, "password": account.password},
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    return str(body["user_id"]), {"Authorization": f"Bearer {body['access_token']}"}


screenshot = ui.screenshot
