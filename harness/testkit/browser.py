"""A real browser for the UI tests: Debian's Chromium driven by Python Playwright, and the steps a
person takes in the chat UI (sign up, sign in, chat), shared by the frontend's own end-to-end
tests (``images/frontend/e2e``) and the cluster tier (the UI through the NodePort).

The steps find elements by role and accessible name, as a person (or a screen reader) does.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from harness.core.paths import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
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


def missing() -> str | None:
    """Why no browser can run here (one line naming the fix), or None."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        return "Chromium is missing at /usr/bin/chromium: install it with 'apt-get install chromium' (make system)"
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
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
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
