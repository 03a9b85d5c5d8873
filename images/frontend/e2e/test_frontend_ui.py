"""The chat UI in a real browser against the real backend and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from harness.core.net import free_port
from harness.testkit import browser as ui

from .support import Account, backend_token, screenshot, start_frontend

pytestmark = pytest.mark.timeout(300)


def register_via_ui(page: Page, account: Account) -> None:
    ui.register(page, account.email, account.password)


def sign_in_via_ui(page: Page, account: Account) -> None:
    ui.sign_in(page, account.email, account.password)


chat, task_item = ui.chat, ui.task_item


@pytest.mark.requirement("US1-2")
def test_the_protected_page_redirects_to_a_usable_login_page(page: Page) -> None:
    response = page.goto("/")
    assert response is not None and response.ok
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_editable()
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    screenshot(page, "login.png")

    # Errors are shown, not swallowed: a wrong password against the real backend.
    page.get_by_label("Email").fill("nobody-here@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main").get_by_role("alert")).to_have_text("Wrong email or password.")


def test_registration_shows_field_and_server_errors(page: Page, account: Account) -> None:
    register_via_ui(page, account)
    expect(page.get_by_role("heading", name="Chat with your assistant")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    # The same email again: the backend's 409 is shown at the email field.
    register_via_ui(page, account)
    expect(page.get_by_text(re.compile("already exists"))).to_be_visible()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")

    # A password the backend refuses is caught with a message at the field.
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use at least 8 characters.")).to_be_visible()


@pytest.mark.requirement("US1-2", "US1-3")
def test_register_login_chat_tasks_and_logout(page: Page, backend, account: Account) -> None:
    # Register (which signs in), log out, and sign in again with the same account.
    register_via_ui(page, account)
    expect(page.get_by_role("heading", name="Chat with your assistant")).to_be_visible()
    expect(page.get_by_text(account.email)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in_via_ui(page, account)
    expect(page).not_to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("No tasks yet")).to_be_visible()

    # The token is in an httpOnly, SameSite=Lax cookie, never readable by page scripts.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {"todo_session"}, cookies.keys()
    assert cookies["todo_session"]["httpOnly"] is True
    assert cookies["todo_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("JSON.stringify(Object.assign({}, localStorage))") == "{}"

    # A chat turn reaches the backend, its tool adds the task, and the list refreshes.
    chat(page, "Add a task to buy milk")
    log = page.get_by_role("list", name="Conversation")
    expect(log.get_by_text("Add a task to buy milk")).to_be_visible()
    expect(log.locator('li[data-role="assistant"]')).to_have_count(1)
    milk = task_item(page, "buy milk")
    expect(milk).to_have_count(1)
    expect(milk).to_have_attribute("data-completed", "false")

    # The backend really stored it for this user.
    user_id, headers = backend_token(backend, account)
    stored = httpx.get(f"{backend.url}/api/{user_id}/tasks", headers=headers, timeout=10).json()
    assert [(t["title"], t["completed"]) for t in stored] == [("buy milk", False)]

    # "Mark it as complete" refers to the task of the previous turn.
    chat(page, "Mark it as complete")
    expect(log.locator('li[data-role="assistant"]')).to_have_count(2)
    expect(milk).to_have_attribute("data-completed", "true")
    expect(milk.get_by_role("checkbox")).to_be_checked()
    stored = httpx.get(f"{backend.url}/api/{user_id}/tasks", headers=headers, timeout=10).json()
    assert [(t["title"], t["completed"]) for t in stored] == [("buy milk", True)]

    # A reload keeps the conversation (stored by the backend) and the list.
    page.reload()
    expect(log.locator('li[data-role="assistant"]')).to_have_count(2)
    expect(log.get_by_text("Mark it as complete")).to_be_visible()
    expect(milk).to_have_attribute("data-completed", "true")

    # A second task, completed by id from the list's own control (keyboard: Space on the checkbox).
    chat(page, "Add a task to call the plumber")
    plumber = task_item(page, "call the plumber")
    expect(plumber).to_have_count(1)
    plumber.get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    expect(plumber).to_have_attribute("data-completed", "true")
    plumber.get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    expect(plumber).to_have_attribute("data-completed", "false")
    screenshot(page, "chat.png")

    # Log out: the cookie is gone and the protected page sends us to the login page.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert page.context.cookies() == []
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert httpx.get(page.url.replace("/login", "/api/tasks"), timeout=10).status_code == 401


def test_usable_at_phone_width(browser, frontend, account: Account) -> None:
    context = browser.new_context(
        base_url=frontend.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        page = context.new_page()
        register_via_ui(page, account)
        expect(page.get_by_label("Message")).to_be_visible()
        chat(page, "Add a task to water the plants")
        expect(task_item(page, "water the plants")).to_have_count(1)
        task_item(page, "water the plants").scroll_into_view_if_needed()
        expect(task_item(page, "water the plants")).to_be_in_viewport()
        # Nothing is wider than the screen: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "chat-phone.png")
    finally:
        context.close()


def test_backend_outage_is_said_in_plain_words_and_health_stays_up(browser, standalone_server) -> None:
    # A frontend whose backend does not exist: nothing listens on that port.
    dead = f"http://127.0.0.1:{free_port()}"
    server = start_frontend(dead)
    try:
        assert httpx.get(server.url + "/api/healthz", timeout=10).status_code == 200
        proxied = httpx.post(
            server.url + "/api/auth/login", json={"email": "a@b.cd", "password": "x"}, timeout=30
        )
        assert proxied.status_code == 503
        assert proxied.json()["error"] == "backend_unavailable"
        assert "Traceback" not in proxied.text and " at " not in proxied.text

        context = browser.new_context(base_url=server.url)
        try:
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill("ada@example.com")
            page.get_by_label("Password").fill("whatever-123")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("main").get_by_role("alert")).to_contain_text("cannot be reached")
        finally:
            context.close()
        assert server.returncode is None, server.tail()
    finally:
        server.stop()
