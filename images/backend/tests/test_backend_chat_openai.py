"""The ``openai`` provider against a local server speaking the chat-completions wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from backend_support import FakeOpenAI, backend, register_and_login

from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess

API_KEY = "sk-test-key-for-the-fake-model"


@pytest.fixture
def openai_api(postgres_server: LocalPostgres, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    with backend(postgres_server.create_database().url, name="todo-api-openai", CHAT_PROVIDER="openai",
                 OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=fake_openai.url, OPENAI_ALLOW_HTTP="true", OPENAI_MODEL="fake-model") as server:
        yield server


def test_tool_call_round_trip(openai_api: ServerProcess, fake_openai: FakeOpenAI) -> None:
    user = register_and_login(openai_api.url)
    with httpx.Client(base_url=openai_api.url, timeout=30) as http:
        answer = http.post(f"/api/{user.id}/chat", json={"message": "add buy bread"}, headers=user.headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        result = body["tool_calls"][0]["result"]
        assert body["tool_calls"] == [{"name": "add_task", "arguments": {"title": "buy bread"}, "result": result}]
        assert result == {"task_id": result["task_id"], "status": "created", "title": "buy bread"}
        assert body["response"] == f"Done: {json.dumps(result)}"
        tasks = http.get(f"/api/{user.id}/tasks", headers=user.headers).json()
        assert [t["title"] for t in tasks] == ["buy bread"]

        # The second turn carries the stored history to the model.
        second = http.post(f"/api/{user.id}/chat",
                           json={"conversation_id": body["conversation_id"], "message": "hello"}, headers=user.headers)
        assert second.json()["response"] == "You said: hello" and second.json()["tool_calls"] == []

    first, followup, last = fake_openai.requests
    assert fake_openai.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert first["model"] == "fake-model"
    assert {t["function"]["name"] for t in first["tools"]} == {
        "add_task", "list_tasks", "complete_task", "delete_task", "update_task"}
    add_schema = next(t for t in first["tools"] if t["function"]["name"] == "add_task")["function"]["parameters"]
    assert add_schema["required"] == ["title"] and "user_id" not in add_schema["properties"]
    assert followup["messages"][-1]["role"] == "tool"
    assert followup["messages"][-1]["tool_call_id"] == followup["messages"][-2]["tool_calls"][0]["id"]
    assert json.loads(followup["messages"][-1]["content"]) == result
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user"]
    assert last["messages"][1]["content"] == "add buy bread"
    assert API_KEY not in openai_api.logs()


def test_model_endpoint_failure_is_502_and_stores_nothing(openai_api: ServerProcess) -> None:
    user = register_and_login(openai_api.url)
    with httpx.Client(base_url=openai_api.url, timeout=30) as http:
        failed = http.post(f"/api/{user.id}/chat", json={"message": "fail"}, headers=user.headers)
        assert failed.status_code == 502
        assert failed.json() == {"detail": "chat provider failed: the model endpoint answered HTTP 500"}
        assert http.get("/readyz").status_code == 200
