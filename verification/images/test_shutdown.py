"""How the backend container stops: what a rolling update asks of it, seen from its clients.

Kubernetes sends SIGTERM while the pod may still receive requests (the endpoints update races the
signal, and the frontend's proxy holds pooled keep-alive connections). The backend must then, for a
few seconds, keep answering on the connections it has (each answer closing its connection), and
let a request already in progress finish instead of cutting it. Both are seen here on one container
with two raw client connections, so a stop that drops either shows up as a missing answer; the
rollout tests on the runtime and cluster tiers see the same from the frontend's side, where the
timing of a real rollout can hide it.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness import contract

# A valid-looking sign-up the validator refuses (422) without touching the database: the answer
# needs nothing but a whole body, so the test controls when the request can finish.
BODY = json.dumps({"email": 1, "password": 2}).encode()
# When the in-progress request's last byte is sent after SIGTERM: past the backend's drain
# (todo_api.__main__.DRAIN_SECONDS, 5 s), within its graceful-shutdown allowance (18 s after it).
LATE_S = 8.0


def _raw_request_head(host: str, port: int) -> bytes:
    return (f"POST /api/auth/register HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\nConnection: keep-alive\r\n\r\n").encode()


def _read_status(sock: socket.socket, timeout: float) -> str:
    """The status line of the answer on ``sock``, or what happened instead."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return f"connection closed without an answer (got {data!r})"
            data += chunk
    except (TimeoutError, socket.timeout):
        return f"no answer within {timeout:.0f} s (got {data!r})"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


@pytest.mark.requirement("SC-006", "EC-2")
def test_a_stopping_backend_answers_on_its_open_connections_and_finishes_a_request_in_progress(
        start_container: Any, backend_env: dict[str, str]) -> None:
    running = start_container("backend", backend_env)
    running.wait_healthy(contract.BACKEND_LIVENESS_PATH)
    url = urlsplit(running.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80

    pooled = http.client.HTTPConnection(host, port, timeout=10)  # the proxy's idle keep-alive connection
    pooled.request("GET", contract.BACKEND_LIVENESS_PATH)
    first = pooled.getresponse()
    first.read()
    assert first.status == 200 and (first.getheader("connection") or "").lower() != "close"

    in_progress = socket.create_connection((host, port), timeout=10)  # a request whose body is on its way
    try:
        in_progress.sendall(_raw_request_head(host, port) + BODY[: len(BODY) // 2])
        time.sleep(0.5)
        signalled = time.monotonic()
        running.container.kill(signal="SIGTERM")

        time.sleep(1.0)  # the signal is handled; the drain is on
        try:
            pooled.request("GET", contract.BACKEND_LIVENESS_PATH)
            during = pooled.getresponse()
            during.read()
            reused = f"{during.status}, Connection: {during.getheader('connection')}"
        except (OSError, http.client.HTTPException) as exc:
            reused = f"{type(exc).__name__}: {exc}"
        assert reused == "200, Connection: close", (
            "a request on an open keep-alive connection 1 s after SIGTERM must still be answered, and the "
            f"answer must close the connection (the drain); got {reused}")

        time.sleep(max(0.0, LATE_S - (time.monotonic() - signalled)))
        try:
            in_progress.sendall(BODY[len(BODY) // 2:])
            status = _read_status(in_progress, timeout=10)
        except OSError as exc:
            status = f"{type(exc).__name__}: {exc}"
        assert status.startswith("HTTP/1.1 422"), (
            f"a request in progress when SIGTERM came, completed {LATE_S:.0f} s later, must be answered "
            f"(graceful shutdown); got {status}")
    finally:
        in_progress.close()
        pooled.close()
    running.container.wait(timeout=30)
    running.container.reload()
    assert running.container.attrs["State"]["ExitCode"] == 0, running.describe()
