"""A person using the Todo AI Chatbot through the browser's origin (the frontend's /api).

Registers once, logs in (the frontend keeps the token in an httpOnly cookie, which
Locust's session keeps too), then lists, creates, completes and deletes tasks and
chats in `rules` mode, with 1–3 s of thinking between actions, weighted like real use:
people look at their list far more often than they delete.

A FastHttpUser (geventhttpclient, with a cookie jar like a browser's) rather than an HttpUser
(requests): it costs the load generator a fraction of the CPU per request, and on a laptop the
generator shares the cores with the application it measures.

Every answer is judged, not just its status: each request is made with ``catch_response`` and is
marked failed unless it answered the expected status with the expected JSON (a created task with its
id and title, a chat answer with its ``response``…). A 200 with an HTML error page, a body of the
wrong shape or a missing field is a failed request, and so is any exception while judging it (the
judging runs inside the ``with`` block and turns the exception into ``response.failure``: Locust
itself would re-raise it without reporting the request at all). An exception anywhere else in a
task, or in ``on_start``, is counted too: Locust only logs those (``user_error``), so the listener
at the end of this file reports each one as a failed request named ``task error``. The load gate's
``zero_failures`` therefore sees every wrong answer (``verification/unit/test_load_user_judges_answers.py``
proves it against a real HTTP server that answers wrongly).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, between, events, task

# The frontend's own routes (images/frontend/README.md); the browser never calls the backend directly.
REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
TASKS = "/api/tasks"
CHAT = "/api/chat"

CHORES = ("buy milk", "call the plumber", "book the dentist", "water the plants", "pay the bills",
          "renew the passport", "write the report", "clean the garage")

# The name of the failed "request" an exception outside any request is reported as.
TASK_ERROR = "task error"


class WrongAnswer(Exception):
    """The application answered, but not what a browser would accept."""


# --- what a right answer looks like (the frontend's API: images/frontend/src/lib/api-routes.ts) -------
def _object(body: Any, *fields: str) -> dict:
    if not isinstance(body, dict):
        raise WrongAnswer(f"expected a JSON object, got {type(body).__name__}")
    missing = [name for name in fields if name not in body]
    if missing:
        raise WrongAnswer(f"the answer lacks {', '.join(missing)}")
    return body


def _task(body: Any) -> dict:
    task_ = _object(body, "id", "title", "completed")
    if not isinstance(task_["id"], int) or not isinstance(task_["title"], str) or not isinstance(task_["completed"], bool):
        raise WrongAnswer(f"not a task: {task_!r}"[:160])
    return task_


def _task_list(body: Any) -> list[dict]:
    if not isinstance(body, list):
        raise WrongAnswer(f"expected a JSON list of tasks, got {type(body).__name__}")
    return [_task(item) for item in body]


class ChatbotUser(FastHttpUser):
    wait_time = between(1, 3)

    def _call(self, method: str, path: str, name: str, expect: tuple[int, ...],
              judge: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
        """One request, marked failed unless it answered one of ``expect`` and, with ``judge``, a JSON body
        ``judge`` accepts (it raises :class:`WrongAnswer` otherwise). Returns ``judge``'s value, else None
        (also after a failure: the caller goes on as a browser would, with nothing)."""
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            try:
                if response.status_code not in expect:
                    raise WrongAnswer(f"status {response.status_code}, expected {'/'.join(map(str, expect))}")
                value = None
                if judge is not None:
                    content_type = (response.headers or {}).get("content-type", "")
                    if not content_type.startswith("application/json"):
                        raise WrongAnswer(f"content-type {content_type or 'none'!r}, expected application/json")
                    value = judge(json.loads(response.text or ""))
            except Exception as exc:  # noqa: BLE001 - any exception while judging is a wrong answer
                response.failure(f"{name}: {type(exc).__name__}: {exc}; answered {response.status_code} "
                                 f"{(response.text or '')[:120]!r}")
                return None
            response.success()
            return value

    def on_start(self) -> None:
        self.email = f"load-{uuid.uuid4().hex[:12]}@example.test"
        password = uuid.uuid4().hex
        self.conversation_id: int | None = None
        registered = self._call("POST", REGISTER, "register", (201,), lambda body: _object(body, "id", "email"),
                                json={"email": self.email, "password": password, "name": "Load"})
        if registered is None:
            return  # every later request then fails as a signed-out browser's would, and is counted
        self._call("POST", LOGIN, "login", (200,), lambda body: _object(body, "user_id", "email"),
                   json={"email": self.email, "password": password})

    # -- tasks ----------------------------------------------------------------------
    def _tasks(self, status: str = "all") -> list[dict]:
        return self._call("GET", TASKS, "list tasks", (200,), _task_list, params={"status": status}) or []

    @task(6)
    def list_tasks(self) -> None:
        self._tasks(random.choice(("all", "pending", "completed")))

    @task(3)
    def create_task(self) -> None:
        title = random.choice(CHORES)

        def created(body: Any) -> dict:
            made = _task(body)
            if made["title"] != title or made["completed"] is not False:
                raise WrongAnswer(f"created {made!r}, expected an open task titled {title!r}"[:160])
            return made

        self._call("POST", TASKS, "create task", (201,), created, json={"title": title})

    @task(2)
    def complete_task(self) -> None:
        pending = self._tasks("pending")
        if not pending:
            return
        task_id = random.choice(pending)["id"]

        def completed(body: Any) -> dict:
            done = _task(body)
            if done["id"] != task_id or done["completed"] is not True:
                raise WrongAnswer(f"answered {done!r}, expected task {task_id} completed"[:160])
            return done

        self._call("PATCH", f"{TASKS}/{task_id}/complete", "complete task", (200,), completed,
                   json={"completed": True})

    @task(1)
    def delete_task(self) -> None:
        done = self._tasks("completed")
        if not done:
            return
        task_id = random.choice(done)["id"]
        self._call("DELETE", f"{TASKS}/{task_id}", "delete task", (204,))

    # -- chat (rules mode: no paid LLM under load) ------------------------------------------
    @task(3)
    def chat(self) -> None:
        message = random.choice((
            f"Add a task to {random.choice(CHORES)}",
            "Show me all my tasks",
            "What's pending?",
            "What have I completed?",
        ))

        def answered(body: Any) -> dict:
            reply = _object(body, "conversation_id", "response", "tool_calls")
            if not isinstance(reply["response"], str) or not reply["response"].strip():
                raise WrongAnswer("the chat answer's response is empty")
            if not isinstance(reply["conversation_id"], int) or not isinstance(reply["tool_calls"], list):
                raise WrongAnswer(f"not a chat answer: {reply!r}"[:160])
            return reply

        reply = self._call("POST", CHAT, "chat turn", (200,), answered,
                           json={"message": message, "conversation_id": self.conversation_id})
        if reply is not None:
            self.conversation_id = reply["conversation_id"]


@events.user_error.add_listener
def _count_task_errors(user_instance: Any, exception: BaseException, tb: Any, **_kwargs: Any) -> None:
    """An exception raised in a task or in ``on_start`` outside any request (Locust logs it and goes on,
    counting nothing): reported as one failed request, so the gate's ``zero_failures`` sees it."""
    user = getattr(user_instance, "user", user_instance)  # a TaskSet's user, or the User itself
    user.environment.events.request.fire(
        request_type="TASK", name=TASK_ERROR, response_time=0, response_length=0, response=None,
        context={}, exception=exception, start_time=time.time(), url="")
