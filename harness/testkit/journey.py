"""What a user and a steady client do over HTTP, for the runtime tier's tests.

The frontend serves the UI and forwards ``/api/*`` to the backend (its ``BACKEND_URL``),
so everything here goes to the frontend's published address unless told otherwise.
Paths are the backend's routers (``images/backend/src/todo_api/routers``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class User:
    """A signed-in user of ``base_url``: the frontend (session cookie) or the backend (bearer token).

    The frontend is a backend-for-frontend: ``/api/auth/login`` puts the backend's JWT in an
    httpOnly cookie and ``/api/tasks`` and ``/api/chat`` forward with it. The backend itself
    serves ``/api/{user_id}/tasks`` and ``/api/{user_id}/chat`` with ``Authorization: Bearer``.
    """

    base_url: str
    email: str
    password: str
    via_frontend: bool
    token: str = ""
    user_id: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """What an authenticated request carries (a Cookie header for the frontend)."""
        if self.via_frontend:
            return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        return {"Authorization": f"Bearer {self.token}"}

    def path(self, resource: str) -> str:
        """``tasks`` or ``chat`` under the right prefix for the frontend or the backend."""
        return f"/api/{resource}" if self.via_frontend else f"/api/{self.user_id}/{resource}"

    @property
    def tasks_url(self) -> str:
        return self.base_url + self.path("tasks")


def register_and_login(base_url: str, prefix: str = "runtime", *, via_frontend: bool = True) -> User:
    user = User(base_url, f"{prefix}-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(12), via_frontend)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        register = client.post("/api/auth/register", json={"email": user.email, "password": user.password})
        assert register.status_code == 201, f"register via {base_url}: {register.status_code} {register.text[:300]}"
    login(user)
    return user


def login(user: User) -> User:
    """Sign ``user`` in again (a new token or session cookie); AssertionError when refused."""
    with httpx.Client(base_url=user.base_url, timeout=30) as client:
        response = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
        assert response.status_code == 200, f"login via {user.base_url}: {response.status_code} {response.text[:300]}"
        data = response.json()
        user.user_id = str(data["user_id"])
        if user.via_frontend:
            user.cookies = dict(response.cookies)
            assert user.cookies, f"the frontend set no session cookie: {response.headers}"
        else:
            user.token = data["access_token"]
    return user


def chat(user: User, message: str) -> dict:
    with httpx.Client(base_url=user.base_url, timeout=60, headers=user.headers) as client:
        response = client.post(user.path("chat"), json={"message": message})
        assert response.status_code == 200, f"chat via {user.base_url}: {response.status_code} {response.text[:300]}"
        return response.json()


def tasks(user: User) -> list[dict]:
    with httpx.Client(base_url=user.base_url, timeout=30, headers=user.headers) as client:
        response = client.get(user.path("tasks"))
        assert response.status_code == 200, f"tasks via {user.base_url}: {response.status_code} {response.text[:300]}"
        return response.json()


@dataclass
class SteadyClient:
    """``workers`` threads sending ``GET path`` in a loop until stopped (bounded by ``max_seconds``).

    Every request is recorded with its time and outcome, so a test can count failures in a
    window (``failures_between``). Only the given loopback address is contacted.
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    pause: float = 0.02
    max_seconds: float = 180.0
    timeout: float = 10.0
    results: list[tuple[float, float, bool, str]] = field(default_factory=list)  # (start, end, ok, detail)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> SteadyClient:
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.workers):
            thread = threading.Thread(target=self._run, args=(deadline,), daemon=True, name=f"steady-{i}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _run(self, deadline: float) -> None:
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                start = time.monotonic()
                try:
                    response = client.get(self.url)
                    ok, detail = response.status_code == 200, f"{response.status_code}"
                    if not ok:
                        detail += f" {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.results.append((start, time.monotonic(), ok, detail))
                self._stop.wait(self.pause)

    # -- figures ------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.results)

    def failures(self) -> list[tuple[float, float, bool, str]]:
        with self._lock:
            return [r for r in self.results if not r[2]]

    def failures_between(self, start: float, end: float) -> list[tuple[float, float, bool, str]]:
        return [r for r in self.failures() if r[0] >= start and r[0] < end]

    def successes_after(self, moment: float) -> int:
        with self._lock:
            return sum(1 for r in self.results if r[0] >= moment and r[2])

    def summary(self) -> str:
        failed = self.failures()
        sample = "; ".join(sorted({r[3] for r in failed})[:5])
        return f"{self.total} requests, {len(failed)} failed" + (f" ({sample})" if failed else "")
