"""The built standalone server's own defences, over real HTTP (security review, issue 16):
security headers on every response, CSRF refusals, JSON-only bodies and the 64 KiB body limit."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from harness.testkit.server_process import ServerProcess

from .support import PASSWORD

pytestmark = pytest.mark.timeout(300)

MAX_BODY_BYTES = 64 * 1024


@pytest.fixture
def http(frontend: ServerProcess):
    with httpx.Client(base_url=frontend.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", ["/login", "/", "/api/healthz", "/api/tasks", "/api/auth/session"])
def test_every_response_carries_the_security_headers(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "base-uri 'self'" in csp and "form-action 'self'" in csp, csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("referrer-policy") == "strict-origin-when-cross-origin"


def test_pages_run_only_scripts_with_this_requests_nonce(http: httpx.Client) -> None:
    """Issue 27: script-src by a per-request nonce ('strict-dynamic'), not 'unsafe-inline'; every script
    Next renders carries the nonce, and the next request gets another."""

    def nonce_and_scripts() -> tuple[str, list[str]]:
        response = http.get("/login")
        policies = response.headers.get_list("content-security-policy")
        nonces = {n for policy in policies for n in re.findall(r"'nonce-([^']+)'", policy)}
        assert len(nonces) == 1, policies
        assert any("'strict-dynamic'" in p and "default-src 'self'" in p for p in policies), policies
        return nonces.pop(), re.findall(r"<script\b[^>]*>", response.text)

    nonce, scripts = nonce_and_scripts()
    assert scripts, "the login page has no script"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), [t for t in scripts if nonce not in t][:3]
    assert nonce_and_scripts()[0] != nonce


def _register(http: httpx.Client, **kwargs) -> httpx.Response:
    body = {"email": f"sec-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD}
    return http.post("/api/auth/register", json=body, **kwargs)


def test_cross_site_posts_are_403(http: httpx.Client, frontend: ServerProcess) -> None:
    evil = _register(http, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "cross_site_request"
    cross = _register(http, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    own = _register(http, headers={"Origin": frontend.url, "Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 201, own.text


def test_a_text_plain_form_cannot_log_anyone_in(http: httpx.Client) -> None:
    """The review's attack: a cross-site text/plain form that signs the victim into the attacker's account."""
    response = http.post("/api/auth/login", content='{"email": "attacker@example.com", "password": "x"}',
                         headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"
    assert "set-cookie" not in response.headers


def test_a_body_above_64_kib_is_413(http: httpx.Client) -> None:
    big = '{"email": "a@example.com", "password": "' + "x" * MAX_BODY_BYTES + '"}'
    response = http.post("/api/auth/register", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "payload_too_large",
                               "message": f"The request is too large (at most {MAX_BODY_BYTES} bytes)."}
    assert http.get("/api/healthz").status_code == 200


def test_a_forged_session_cookie_never_reaches_the_backend(http: httpx.Client) -> None:
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(
        {"token": "x", "userId": "../auth/login", "email": ""}).encode()).decode().rstrip("=")
    response = http.get("/api/tasks", headers={"Cookie": f"todo_session={forged}"})
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"
