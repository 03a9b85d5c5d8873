"""Request size limit: a body above 64 KiB is refused with 413 JSON before it is read whole."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
from backend_support import ApiUser
from todo_api.app import MAX_BODY_BYTES

from harness.testkit.server_process import ServerProcess

TOO_LARGE = {"detail": f"request body too large: at most {MAX_BODY_BYTES} bytes"}


def test_the_limit_is_64_kib() -> None:
    assert MAX_BODY_BYTES == 64 * 1024


def test_a_declared_body_above_the_limit_is_413_json(client: httpx.Client, user: ApiUser) -> None:
    big = json.dumps({"email": "a@example.com", "password": "x" * MAX_BODY_BYTES})
    for path, headers in (("/api/auth/register", {}), ("/api/auth/login", {}),
                          (f"/api/{user.id}/chat", user.headers), (f"/api/{user.id}/tasks", user.headers),
                          ("/mcp", user.headers)):
        response = client.post(path, content=big, headers={**headers, "content-type": "application/json"})
        assert response.status_code == 413, (path, response.status_code, response.text[:200])
        assert response.json() == TOO_LARGE


def test_a_chunked_body_without_a_length_is_cut_at_the_limit(api: ServerProcess, user: ApiUser) -> None:
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"title": "'
        for _ in range(64):  # 4 MiB if the server read it all
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    with httpx.Client(base_url=api.url, timeout=30) as http:
        try:
            response = http.post(f"/api/{user.id}/tasks", content=endless(),
                                 headers={**user.headers, "content-type": "application/json"})
        except httpx.RemoteProtocolError:  # the server may close before the client stops sending
            response = None
        if response is not None:
            assert response.status_code == 413 and response.json() == TOO_LARGE
        assert http.get("/healthz").status_code == 200
        tasks = http.get(f"/api/{user.id}/tasks", headers=user.headers).json()
    assert tasks == []


def test_a_body_just_under_the_limit_still_reaches_the_handler(client: httpx.Client, user: ApiUser) -> None:
    message = "é" * 4000  # the longest chat message, 8 KB as UTF-8 and 24 KB escaped
    body = json.dumps({"message": message})
    assert len(body) < MAX_BODY_BYTES
    response = client.post(f"/api/{user.id}/chat", content=body,
                           headers={**user.headers, "content-type": "application/json"})
    assert response.status_code == 200, response.text
    padded = json.dumps({"title": "fits"}) + " " * (MAX_BODY_BYTES - 20)
    response = client.post(f"/api/{user.id}/tasks", content=padded,
                           headers={**user.headers, "content-type": "application/json"})
    assert response.status_code == 201, response.text
