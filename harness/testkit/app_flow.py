"""What a user does through the frontend in the cluster tier: the login page, then one chat turn.

The HTTP journey itself is the runtime tier's (``harness.testkit.journey``), so both tiers
drive the applications the same way; the frontend forwards ``/api/*`` to the backend, so a
chat turn sent to the frontend's address proves frontend → backend → database (US1-3).
"""

from __future__ import annotations

import re

import httpx

from harness.testkit import journey

LOGIN_TEXT = re.compile(r"log ?in|sign ?in", re.IGNORECASE)


def login_page(base_url: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=15, follow_redirects=True) as client:
        response = client.get("/login")
        if response.status_code == 404:
            response = client.get("/")
        return response


def chat_turn(base_url: str, message: str = "add a task: buy milk") -> dict:
    """Register, log in and send one chat message through ``base_url``; returns the chat answer."""
    user = journey.register_and_login(base_url, prefix="cluster")
    return journey.chat(user, message)


def backend_reached(base_url: str) -> tuple[bool, str]:
    """Whether a request to the frontend at ``base_url`` reaches the backend through its Service.

    An empty sign-up form: the frontend forwards it as it is, and only the backend answers 422
    with a ``detail`` list (its validation; no database, no password hashing, nothing stored).
    Anything else (503 backend_unavailable, a proxy's 404, a reset) means not yet.
    Returns (reached, what was seen).
    """
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            response = client.post("/api/auth/register", json={})
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    try:
        body = response.json()
    except ValueError:
        body = None
    seen = f"{response.status_code} {response.text[:200]}"
    return response.status_code == 422 and isinstance(body, dict) and isinstance(body.get("detail"), list), seen
