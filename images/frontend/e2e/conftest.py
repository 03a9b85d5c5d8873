"""Fixtures for the frontend's end-to-end tests.

Everything is real: the built standalone Next.js server (`node .next/standalone/server.js`),
the real backend (`todo-api`) on a private PostgreSQL, and Debian's Chromium driven by
Python Playwright. Prerequisites that are missing skip with a reason (or fail under
REQUIRE_TIERS=app); a missing `next build` output is built once per session instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from verification.contract import FRONTEND_HEALTH_PATH
from verification.lib.net import free_port
from verification.lib.server_process import ServerProcess
from verification.tiers import skip_or_fail

FRONTEND_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = FRONTEND_DIR.parent.parent
STANDALONE_DIR = FRONTEND_DIR / ".next" / "standalone"
SERVER_JS = STANDALONE_DIR / "server.js"
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
JWT_SECRET = "e2e-" + "x" * 40
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


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, cwd=FRONTEND_DIR, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"{what} failed with exit code {result.returncode}:\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def standalone_server() -> Path:
    """The built standalone server's directory; runs `npm run build` once when it is missing."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        skip_or_fail(
            "app", "Node.js >= 20.9 with npm is needed for the frontend: install Node.js 20 or newer"
        )
    if not (FRONTEND_DIR / "node_modules" / ".bin" / "next").exists():
        _run([npm, "ci", "--no-audit", "--no-fund"], "npm ci")
    if not SERVER_JS.exists():
        _run([npm, "run", "build"], "npm run build")
    elif not (STANDALONE_DIR / ".next" / "static").exists():
        # Built by plain `next build`: the standalone tree still needs its static assets.
        _run(
            ["node", "scripts/copy-standalone-assets.mjs"], "copying the static assets into .next/standalone"
        )
    assert SERVER_JS.exists(), f"{SERVER_JS} is still missing after the build"
    return STANDALONE_DIR


def start_frontend(backend_url: str | None, *, port: int | None = None, wait: bool = True) -> ServerProcess:
    """Start `node server.js` from the standalone build with BACKEND_URL (None: unset)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k != "BACKEND_URL"}
    env.update({"PORT": str(port), "NEXT_TELEMETRY_DISABLED": "1"})
    if backend_url is not None:
        env["BACKEND_URL"] = backend_url
    server = ServerProcess(
        "frontend",
        ["node", "server.js"],
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


@pytest.fixture(scope="session")
def backend(postgres_server) -> Iterator[ServerProcess]:
    server = start_backend(postgres_server.create_database().url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def frontend(standalone_server: Path, backend: ServerProcess) -> Iterator[ServerProcess]:
    server = start_frontend(backend.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(
            "app", "Chromium is missing at /usr/bin/chromium: install it with apt-get install chromium"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("app", "Python Playwright is missing: run `make setup`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, frontend: ServerProcess):
    context = browser.new_context(base_url=frontend.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class Account:
    email: str
    password: str = PASSWORD


@pytest.fixture
def account() -> Account:
    return Account(email=f"e2e-{uuid.uuid4().hex[:10]}@example.com")


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


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
