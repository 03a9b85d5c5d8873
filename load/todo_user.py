"""A person using the Todo AI Chatbot through the browser's origin (the frontend's /api).

Registers once, logs in (the frontend keeps the token in an httpOnly cookie, which
Locust's session keeps too), then lists, creates, completes and deletes tasks and
chats in `rules` mode, with 1–3 s of thinking between actions, weighted like real use:
people look at their list far more often than they delete.

A FastHttpUser (geventhttpclient, with a cookie jar like a browser's) rather than an HttpUser
(requests): it costs the load generator a fraction of the CPU per request, and on a laptop the
generator shares the cores with the application it measures.
"""

from __future__ import annotations

import random
import uuid

from locust import FastHttpUser, between, task

# The frontend's own routes (images/frontend/README.md); the browser never calls the backend directly.
REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
TASKS = "/api/tasks"
CHAT = "/api/chat"

CHORES = ("buy milk", "call the plumber", "book the dentist", "water the plants", "pay the bills",
          "renew the passport", "write the report", "clean the garage")


class ChatbotUser(FastHttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.email = f"load-{uuid.uuid4().hex[:12]}@example.test"
        password = uuid.uuid4().hex
        self.conversation_id: int | str | None = None
        with self.client.post(REGISTER, json={"email": self.email, "password": password, "name": "Load"},
                              name="register", catch_response=True) as response:
            if response.status_code not in (200, 201):
                response.failure(f"register answered {response.status_code}: {response.text[:120]}")
                return
        with self.client.post(LOGIN, json={"email": self.email, "password": password}, name="login",
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"login answered {response.status_code}: {response.text[:120]}")

    # -- tasks ----------------------------------------------------------------------
    def _tasks(self, status: str = "all") -> list[dict]:
        with self.client.get(TASKS, params={"status": status}, name="list tasks", catch_response=True) as response:
            if response.status_code != 200 or not isinstance(response.json(), list):
                response.failure(f"list answered {response.status_code}: {response.text[:120]}")
                return []
            return response.json()

    @task(6)
    def list_tasks(self) -> None:
        self._tasks(random.choice(("all", "pending", "completed")))

    @task(3)
    def create_task(self) -> None:
        title = random.choice(CHORES)
        with self.client.post(TASKS, json={"title": title}, name="create task", catch_response=True) as response:
            if response.status_code != 201 or response.json().get("title") != title:
                response.failure(f"create answered {response.status_code}: {response.text[:120]}")

    @task(2)
    def complete_task(self) -> None:
        pending = self._tasks("pending")
        if not pending:
            return
        task_id = random.choice(pending)["id"]
        with self.client.patch(f"{TASKS}/{task_id}/complete", name="complete task",
                               catch_response=True) as response:
            if response.status_code != 200 or response.json().get("completed") is not True:
                response.failure(f"complete answered {response.status_code}: {response.text[:120]}")

    @task(1)
    def delete_task(self) -> None:
        done = self._tasks("completed")
        if not done:
            return
        task_id = random.choice(done)["id"]
        with self.client.delete(f"{TASKS}/{task_id}", name="delete task", catch_response=True) as response:
            if response.status_code not in (200, 204):
                response.failure(f"delete answered {response.status_code}: {response.text[:120]}")

    # -- chat (rules mode: no paid LLM under load) ------------------------------------------
    @task(3)
    def chat(self) -> None:
        message = random.choice((
            f"Add a task to {random.choice(CHORES)}",
            "Show me all my tasks",
            "What's pending?",
            "What have I completed?",
        ))
        payload = {"message": message, "conversation_id": self.conversation_id}
        with self.client.post(CHAT, json=payload, name="chat turn", catch_response=True) as response:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            if response.status_code != 200 or not body.get("response"):
                response.failure(f"chat answered {response.status_code}: {response.text[:120]}")
                return
            self.conversation_id = body.get("conversation_id", self.conversation_id)
