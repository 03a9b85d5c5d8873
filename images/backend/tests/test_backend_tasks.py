"""Task CRUD, validation with clear 422s, and isolation between users on every endpoint."""

from __future__ import annotations

import httpx
import pytest
from backend_support import ApiUser


def create(client: httpx.Client, user: ApiUser, title: str, **fields: object) -> dict:
    response = client.post(f"/api/{user.id}/tasks", json={"title": title, **fields}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_task_crud_round_trip(client: httpx.Client, user: ApiUser) -> None:
    base = f"/api/{user.id}/tasks"
    task = create(client, user, "  Buy groceries ", description="milk, eggs")
    assert task["title"] == "Buy groceries" and task["description"] == "milk, eggs" and task["completed"] is False
    assert set(task) == {"id", "title", "description", "completed", "created_at", "updated_at"}
    assert client.get(f"{base}/{task['id']}", headers=user.headers).json() == task

    updated = client.put(f"{base}/{task['id']}", json={"title": "Buy food"}, headers=user.headers)
    assert updated.status_code == 200
    assert updated.json()["title"] == "Buy food" and updated.json()["description"] == "milk, eggs"
    assert updated.json()["updated_at"] > task["updated_at"]

    toggled = client.patch(f"{base}/{task['id']}/complete", headers=user.headers)
    assert toggled.json()["completed"] is True
    toggled = client.patch(f"{base}/{task['id']}/complete", headers=user.headers)
    assert toggled.json()["completed"] is False
    explicit = client.patch(f"{base}/{task['id']}/complete", json={"completed": True}, headers=user.headers)
    assert explicit.json()["completed"] is True

    assert client.delete(f"{base}/{task['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{base}/{task['id']}", headers=user.headers).status_code == 404
    assert client.delete(f"{base}/{task['id']}", headers=user.headers).status_code == 404


def test_list_filters_by_status(client: httpx.Client, user: ApiUser) -> None:
    base = f"/api/{user.id}/tasks"
    first, second = create(client, user, "one"), create(client, user, "two")
    client.patch(f"{base}/{second['id']}/complete", headers=user.headers)

    def ids(status: str | None) -> list[int]:
        params = {"status": status} if status else {}
        response = client.get(base, params=params, headers=user.headers)
        assert response.status_code == 200
        return [t["id"] for t in response.json()]

    assert ids(None) == ids("all") == [first["id"], second["id"]]
    assert ids("pending") == [first["id"]]
    assert ids("completed") == [second["id"]]
    bad = client.get(base, params={"status": "later"}, headers=user.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "status"]
    assert "'all', 'pending' or 'completed'" in bad.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"title": ""}, ["body", "title"], "at least 1 character"),
        ({"title": "   "}, ["body", "title"], "at least 1 character"),
        ({"title": "x" * 201}, ["body", "title"], "at most 200 characters"),
        ({"description": "no title"}, ["body", "title"], "Field required"),
        ({"title": "ok", "description": "d" * 1001}, ["body", "description"], "at most 1000 characters"),
        ({"title": "ok", "priority": "high"}, ["body", "priority"], "Extra inputs are not permitted"),
        ({"title": 5}, ["body", "title"], "valid string"),
    ],
)
def test_invalid_task_is_422_with_a_clear_message(client: httpx.Client, user: ApiUser, body: dict,
                                                  loc: list[str], message: str) -> None:
    response = client.post(f"/api/{user.id}/tasks", json=body, headers=user.headers)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and message in detail["msg"], detail


def test_invalid_update_is_422(client: httpx.Client, user: ApiUser) -> None:
    task = create(client, user, "keep")
    path = f"/api/{user.id}/tasks/{task['id']}"
    empty = client.put(path, json={}, headers=user.headers)
    assert empty.status_code == 422 and "at least one of title" in empty.json()["detail"][0]["msg"]
    null_title = client.put(path, json={"title": None}, headers=user.headers)
    assert null_title.status_code == 422 and "title must not be null" in null_title.json()["detail"][0]["msg"]
    assert client.get(f"/api/{user.id}/tasks/abc", headers=user.headers).status_code == 422
    assert client.get(f"/api/{user.id}/tasks/0", headers=user.headers).status_code == 422


def endpoints(owner: ApiUser, task_id: int, conversation_id: int) -> list[tuple[str, str, dict | None]]:
    base = f"/api/{owner.id}"
    return [
        ("GET", f"{base}/tasks", None),
        ("POST", f"{base}/tasks", {"title": "intruder"}),
        ("GET", f"{base}/tasks/{task_id}", None),
        ("PUT", f"{base}/tasks/{task_id}", {"title": "hijacked"}),
        ("DELETE", f"{base}/tasks/{task_id}", None),
        ("PATCH", f"{base}/tasks/{task_id}/complete", None),
        ("POST", f"{base}/chat", {"message": "Show me all my tasks"}),
        ("GET", f"{base}/conversations/{conversation_id}", None),
    ]


def test_users_are_isolated_on_every_endpoint(client: httpx.Client, user: ApiUser, other_user: ApiUser) -> None:
    """Another user's path, task or conversation is 404 - the same answer as for one that does not exist."""
    task = create(client, user, "private")
    chat = client.post(f"/api/{user.id}/chat", json={"message": "Add a task to hide this"}, headers=user.headers)
    conversation_id = chat.json()["conversation_id"]
    for method, path, body in endpoints(user, task["id"], conversation_id):
        response = client.request(method, path, json=body, headers=other_user.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"detail": "Not Found"}

    # Own path, someone else's ids: also 404.
    own = f"/api/{other_user.id}"
    for method, path, body in [
        ("GET", f"{own}/tasks/{task['id']}", None),
        ("PUT", f"{own}/tasks/{task['id']}", {"title": "hijacked"}),
        ("DELETE", f"{own}/tasks/{task['id']}", None),
        ("PATCH", f"{own}/tasks/{task['id']}/complete", None),
        ("GET", f"{own}/conversations/{conversation_id}", None),
        ("POST", f"{own}/chat", {"conversation_id": conversation_id, "message": "Show me all my tasks"}),
    ]:
        response = client.request(method, path, json=body, headers=other_user.headers)
        assert response.status_code == 404, (method, path, response.text)
    other_chat = client.post(f"{own}/chat", json={"message": f"Delete task {task['id']}"}, headers=other_user.headers)
    assert other_chat.status_code == 200 and "not found" in other_chat.json()["response"]
    assert [t["title"] for t in client.get(f"{own}/tasks", headers=other_user.headers).json()] == []

    # Nothing of the owner's changed.
    mine = client.get(f"/api/{user.id}/tasks", headers=user.headers).json()
    assert {t["title"] for t in mine} == {"private", "hide this"}
    assert all(t["completed"] is False for t in mine)
