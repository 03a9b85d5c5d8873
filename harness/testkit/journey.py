"""What a user does over HTTP, for the runtime and cluster tiers' tests (steady traffic: ``traffic``).

The frontend serves the UI and forwards ``/api/*`` to the backend (its ``BACKEND_URL``),
so everything here goes to the frontend's published address unless told otherwise.
Paths are the backend's routers (``images/backend/src/todo_api/routers``).
"""

from __future__ import annotations

import secrets
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
