"""Fixtures for the frontend's end-to-end tests.

Everything is real: the built standalone server (`node dist/server/main.js` in .next/standalone),
the real backend (`todo-api`) on a private PostgreSQL, and Debian's Chromium driven by
Python Playwright. Prerequisites that are missing skip with a reason (or fail under
REQUIRE_TIERS=app); a missing `next build` output is built once per session instead.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.testkit import browser as ui
from harness.testkit.server_process import ServerProcess
from verification.tiers import skip_or_fail

from .support import FRONTEND_DIR, SERVER_JS, STANDALONE_DIR, Account, start_backend, start_frontend


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
def browser(request: pytest.FixtureRequest):
    if reason := ui.missing():
        skip_or_fail("app", reason)
    return request.getfixturevalue("chromium")  # the session's one browser (verification/fixtures.py)


@pytest.fixture
def page(browser, frontend: ServerProcess):
    context = browser.new_context(base_url=frontend.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def account() -> Account:
    return Account(email=f"e2e-{uuid.uuid4().hex[:10]}@example.com")



