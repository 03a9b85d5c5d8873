"""Helpers for the backend's tests: start the real ``todo-api``, make users, stand in for the model.

The only test double is the language model: :class:`FakeOpenAI` is a local HTTP server that
speaks the OpenAI chat-completions wire format.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.core.net import free_port
from harness.testkit.server_process import ServerProcess

BIN = Path(sys.executable).parent
TODO_API = [str(BIN / "todo-api")]
PYTHON_M = [sys.executable, "-m", "todo_api"]
# Random per run: the backend refuses weak secrets and every secret committed to this repository.
JWT_SECRET = secrets.token_hex(32)


def base_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """Only what the backend needs: nothing inherited can leak a DATABASE_URL or a key into a test."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "PORT": str(port),
    }
    env.update(extra)
    return env


def backend(database_url: str, *, argv: list[str] | None = None, health_path: str = "/readyz",
            name: str = "todo-api", **extra: str) -> ServerProcess:
    """A not-yet-started backend process on a free loopback port."""
    port = free_port()
    return ServerProcess(name, argv or TODO_API, port=port, env=base_env(database_url, port, **extra),
                         health_path=health_path, inherit_env=False, start_timeout=60)


@dataclass
class ApiUser:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register_and_login(base_url: str) -> ApiUser:
    email = f"user-{secrets.token_hex(5)}@example.com"
    password = secrets.token_urlsafe(12)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        created = http.post("/api/auth/register", json={"email": email, "password": password, "name": "Test"})
        assert created.status_code == 201, created.text
        login = http.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
    body = login.json()
    assert body["user_id"] == created.json()["id"]
    return ApiUser(body["user_id"], email, password, body["access_token"])


# --- the language model's stand-in -----------------------------------------------------------
@dataclass
class FakeOpenAI:
    """A local chat-completions server with scripted behaviour.

    The last user message decides: ``add <title>`` → an ``add_task`` tool call; ``list`` → a
    ``list_tasks`` call; ``fail`` → HTTP 500; anything else → plain text. After a tool result
    it answers ``Done: <result JSON>``. ``delay`` seconds are slept before every answer.
    """

    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        last = body["messages"][-1]
        if last["role"] == "tool":
            message: dict[str, Any] = {"role": "assistant", "content": f"Done: {last['content']}"}
        else:
            text = str(last["content"]).strip()
            if text.lower() == "fail":
                return 500, {"error": {"message": "scripted failure"}}
            if text.lower().startswith("add "):
                call = ("add_task", {"title": text[4:]})
            elif text.lower() == "list":
                call = ("list_tasks", {"status": "all"})
            else:
                call = None
            if call:
                message = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": f"call_{len(self.requests)}", "type": "function",
                    "function": {"name": call[0], "arguments": json.dumps(call[1])}}]}
            else:
                message = {"role": "assistant", "content": f"You said: {text}"}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return 200, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


