"""What one account may spend (issue 27): a cap on stored tasks, pages of a bounded size, rates of task
creation and chat turns, all refused with plain 4xx answers and no 5xx; the API docs off by default."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from backend_support import backend, register_and_login
from todo_api.routers.tasks import MAX_PAGE

from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess

CAP, CREATES, TURNS = 6, 9, 3


@pytest.fixture(scope="module")
def small(postgres_server: LocalPostgres) -> Iterator[ServerProcess]:
    with backend(postgres_server.create_database().url, TASKS_PER_USER=str(CAP),
                 TASKS_CREATED_PER_MINUTE=str(CREATES), CHAT_TURNS_PER_MINUTE=str(TURNS)) as server:
        yield server


def test_tasks_up_to_the_cap_then_409_and_the_chat_agent_is_held_to_it_too(small: ServerProcess) -> None:
    user = register_and_login(small.url)
    with httpx.Client(base_url=small.url, headers=user.headers, timeout=30) as http:
        tasks = f"/api/{user.id}/tasks"
        made = [http.post(tasks, json={"title": f"task {i}"}).status_code for i in range(CAP)]
        assert made == [201] * CAP
        over = http.post(tasks, json={"title": "one too many"})
        assert over.status_code == 409, over.text
        assert over.json() == {"detail": f"task limit reached: an account holds at most {CAP} tasks; "
                                         "delete some to add more"}
        chat = http.post(f"/api/{user.id}/chat", json={"message": "add one more through the agent"})
        assert chat.status_code == 200 and "limit" in chat.json()["response"].lower(), chat.text
        assert len(http.get(tasks).json()) == CAP
        # Deleting one makes room again.
        first = http.get(tasks).json()[0]["id"]
        assert http.delete(f"{tasks}/{first}").status_code == 204
        assert http.post(tasks, json={"title": "room again"}).status_code == 201


def test_creating_tasks_faster_than_the_rate_is_429_with_retry_after(small: ServerProcess) -> None:
    user = register_and_login(small.url)
    with httpx.Client(base_url=small.url, headers=user.headers, timeout=30) as http:
        statuses = [http.post(f"/api/{user.id}/tasks", json={"title": f"t{i}"}).status_code
                    for i in range(CREATES + 1)]
        assert statuses[:CAP] == [201] * CAP and set(statuses[CAP:CREATES]) == {409}, statuses
        limited = http.post(f"/api/{user.id}/tasks", json={"title": "again"})
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["detail"].startswith("too many tasks created: try again in ")


def test_chat_turns_faster_than_the_rate_are_429(small: ServerProcess) -> None:
    user = register_and_login(small.url)
    with httpx.Client(base_url=small.url, headers=user.headers, timeout=30) as http:
        statuses = [http.post(f"/api/{user.id}/chat", json={"message": "hello"}).status_code for _ in range(TURNS + 1)]
    assert statuses == [200] * TURNS + [429]


def test_the_list_is_paged_with_a_bounded_page(small: ServerProcess) -> None:
    user = register_and_login(small.url)
    with httpx.Client(base_url=small.url, headers=user.headers, timeout=30) as http:
        tasks = f"/api/{user.id}/tasks"
        ids = [http.post(tasks, json={"title": f"p{i}"}).json()["id"] for i in range(5)]
        first = http.get(tasks, params={"limit": 2}).json()
        second = http.get(tasks, params={"limit": 2, "after": first[-1]["id"]}).json()
        last = http.get(tasks, params={"limit": 2, "after": second[-1]["id"]}).json()
        assert [t["id"] for t in first + second + last] == ids and len(last) == 1
        too_big = http.get(tasks, params={"limit": MAX_PAGE + 1})
        assert too_big.status_code == 422 and "limit" in str(too_big.json()["detail"])
        assert len(http.get(tasks).json()) == 5  # the default page holds them all


def test_api_docs_are_off_unless_enabled(small: ServerProcess) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(small.url + path, timeout=10).status_code == 404, path
