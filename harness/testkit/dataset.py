"""Users, tasks and conversations written through the frontend, then read back: what an upgrade or a
rollback must leave as it was.

:func:`seed` signs up a few users; each adds tasks and holds a conversation whose tool adds one
more. :func:`check` signs each one in again (a new session through whichever frontend answers now)
and compares what they read with what was written: every task (id, title, completed), every message
of their conversation (role, content), in order; and a user asking for another user's conversation
gets 404 (owners only). Problems come back as lines, so a test can name all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from harness.testkit import journey


@dataclass
class SeededUser:
    user: journey.User
    tasks: dict[int, tuple[str, bool]] = field(default_factory=dict)  # id -> (title, completed)
    conversation_id: int = 0
    messages: list[tuple[str, str]] = field(default_factory=list)  # (role, content), oldest first


def _tasks(user: journey.User) -> dict[int, tuple[str, bool]]:
    return {t["id"]: (t["title"], bool(t.get("completed"))) for t in journey.tasks(user)}


def _conversation(user: journey.User, conversation_id: int) -> tuple[int, list[tuple[str, str]]]:
    with httpx.Client(base_url=user.base_url, timeout=30, headers=user.headers) as client:
        response = client.get(f"/api/conversations/{conversation_id}")
    if response.status_code != 200:
        return response.status_code, []
    return 200, [(m["role"], m["content"]) for m in response.json()["messages"]]


def seed(base_url: str, users: int = 2, tasks_each: int = 2, prefix: str = "seed") -> list[SeededUser]:
    """``users`` users through the frontend at ``base_url``, each with ``tasks_each`` tasks (the
    first one completed) and a two-turn conversation that adds one more task."""
    seeded = []
    for n in range(users):
        user = journey.register_and_login(base_url, prefix=f"{prefix}{n}")
        with httpx.Client(base_url=base_url, timeout=30, headers=user.headers) as client:
            for t in range(tasks_each):
                made = client.post("/api/tasks", json={"title": f"{prefix} user {n} task {t}"})
                assert made.status_code == 201, f"add task via {base_url}: {made.status_code} {made.text[:200]}"
                if t == 0:
                    done = client.put(f"/api/tasks/{made.json()['id']}", json={"completed": True})
                    assert done.status_code == 200, f"complete task: {done.status_code} {done.text[:200]}"
        first = journey.chat(user, f"add a task: {prefix} user {n} from the chat")
        with httpx.Client(base_url=base_url, timeout=60, headers=user.headers) as client:
            second = client.post("/api/chat", json={"message": "list my tasks", "conversation_id": first["conversation_id"]})
            assert second.status_code == 200, f"second chat turn: {second.status_code} {second.text[:200]}"
        entry = SeededUser(user, _tasks(user), int(first["conversation_id"]))
        status, entry.messages = _conversation(user, entry.conversation_id)
        assert status == 200 and len(entry.messages) == 4, f"conversation {entry.conversation_id}: {status} {entry.messages}"
        assert len(entry.tasks) == tasks_each + 1, f"the chat's tool did not add a task: {entry.tasks}"
        seeded.append(entry)
    return seeded


def check(base_url: str, seeded: list[SeededUser]) -> list[str]:
    """What differs from what was written, one line each (empty: every user, task and message is
    there and readable by its owner only). Each user signs in again through ``base_url``."""
    problems = []
    for entry in seeded:
        user = entry.user
        user.base_url = base_url
        try:
            journey.login(user)
        except AssertionError as exc:
            problems.append(f"{user.email} cannot sign in: {exc}")
            continue
        tasks = _tasks(user)
        if tasks != entry.tasks:
            problems.append(f"{user.email}'s tasks: wrote {entry.tasks}, read {tasks}")
        status, messages = _conversation(user, entry.conversation_id)
        if status != 200 or messages != entry.messages:
            problems.append(f"{user.email}'s conversation {entry.conversation_id}: HTTP {status}, "
                            f"wrote {len(entry.messages)} messages, read {messages}")
    for entry, other in zip(seeded, seeded[1:] + seeded[:1]):
        if other is entry:
            continue
        status, _ = _conversation(entry.user, other.conversation_id)
        if status != 404:
            problems.append(f"{entry.user.email} reading {other.user.email}'s conversation got HTTP {status}, not 404")
    return problems
