"""A real browser for the UI tests: Chromium (Debian's, Homebrew's or $CHROMIUM) driven by Python
Playwright, and the steps a person takes in the chat UI (sign up, sign in, chat), shared by the
frontend's own end-to-end tests (``images/frontend/e2e``) and the cluster tier (the UI through the
NodePort).

The steps find elements by role and accessible name, as a person (or a screen reader) does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.core.paths import REPO_ROOT

# Where a Chromium is looked for, after $CHROMIUM: Debian's, then PATH, then the Homebrew cask's app
# (scripts/setup-system.sh searches the same places).
CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/Applications/Chromium.app/Contents/MacOS/Chromium"),
                  Path.home() / "Applications" / "Chromium.app" / "Contents" / "MacOS" / "Chromium")
CHROMIUM_ON_PATH = ("chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in CI containers; the pages are our own app's
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"


def find_chromium() -> Path | None:
    """The Chromium to drive: $CHROMIUM (and only it when set), else the first one found."""
    if env := os.environ.get("CHROMIUM"):
        return Path(env) if Path(env).is_file() and os.access(env, os.X_OK) else None
    found = [CHROMIUM_PATHS[0], *(Path(w) for name in CHROMIUM_ON_PATH if (w := shutil.which(name))),
             *CHROMIUM_PATHS[1:]]
    return next((path for path in found if path.is_file() and os.access(path, os.X_OK)), None)


def install_hint() -> str:
    if sys.platform == "darwin":
        return "install it with 'brew install --cask chromium', or set CHROMIUM=/path/to/chromium"
    return "install it with 'sudo apt-get install chromium' (make system), or set CHROMIUM=/path/to/chromium"


def missing() -> str | None:
    """Why no browser can run here (one line naming the fix), or None."""
    if find_chromium() is None:
        if env := os.environ.get("CHROMIUM"):
            return f"CHROMIUM={env} is not an executable file: point it at a Chromium binary, or unset it"
        return f"Chromium is missing: {install_hint()}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is missing: run 'make setup'"
    return None


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = find_chromium()
        if executable is None:
            raise RuntimeError(missing())
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """A full-page screenshot under reports/screenshots/ (the acceptance report shows it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# --- what a person does in the UI -----------------------------------------------------------------


def register(page, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_role("button", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()


def sign_in(page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # keyboard submit


def chat(page, message: str) -> None:
    from playwright.sync_api import expect

    box = page.get_by_label("Message")
    box.fill(message)
    box.press("Enter")
    expect(page.get_by_role("button", name="Send")).to_be_visible()  # "Sending…" has finished


def task_item(page, title: str):
    return page.get_by_role("list", name="Tasks").get_by_role("listitem").filter(has_text=title)
