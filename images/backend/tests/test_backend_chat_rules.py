"""The default ``rules`` provider: every published phrasing, multi-turn, history in the database."""

from __future__ import annotations

import httpx
import pytest
from backend_support import ApiUser, backend

from harness.testkit.server_process import ServerProcess


class Conversation:
    def __init__(self, client: httpx.Client, user: ApiUser) -> None:
        self.client, self.user, self.id = client, user, None

    def say(self, message: str) -> dict:
        body = {"message": message} if self.id is None else {"conversation_id": self.id, "message": message}
        response = self.client.post(f"/api/{self.user.id}/chat", json=body, headers=self.user.headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"conversation_id", "response", "tool_calls"}
        assert all(set(call) == {"name", "arguments", "result"} for call in answer["tool_calls"])
        self.id = self.id or answer["conversation_id"]
        assert answer["conversation_id"] == self.id
        return answer

    def tasks(self) -> dict[str, bool]:
        listed = self.client.get(f"/api/{self.user.id}/tasks", headers=self.user.headers).json()
        return {t["title"]: t["completed"] for t in listed}


def names(answer: dict) -> list[str]:
    return [call["name"] for call in answer["tool_calls"]]


def test_every_published_phrasing_in_one_conversation(client: httpx.Client, user: ApiUser) -> None:
    chat = Conversation(client, user)

    added = chat.say("Add a task to buy groceries")
    assert names(added) == ["add_task"]
    assert added["tool_calls"][0]["arguments"] == {"title": "buy groceries"}
    groceries = added["tool_calls"][0]["result"]
    assert groceries == {"task_id": groceries["task_id"], "status": "created", "title": "buy groceries"}
    assert "buy groceries" in added["response"]

    bills = chat.say("I need to remember to pay bills")
    assert names(bills) == ["add_task"] and bills["tool_calls"][0]["result"]["title"] == "pay bills"
    meeting = chat.say("Add a task to prepare the team meeting")["tool_calls"][0]["result"]

    everything = chat.say("Show me all my tasks")
    assert names(everything) == ["list_tasks"] and everything["tool_calls"][0]["arguments"] == {"status": "all"}
    assert [t["title"] for t in everything["tool_calls"][0]["result"]] == [
        "buy groceries", "pay bills", "prepare the team meeting"]
    assert "pay bills" in everything["response"]

    done = chat.say(f"Mark task {groceries['task_id']} as complete")
    assert done["tool_calls"][0]["result"] == {"task_id": groceries["task_id"], "status": "completed",
                                               "title": "buy groceries"}
    assert chat.tasks()["buy groceries"] is True

    pending = chat.say("What's pending?")
    assert pending["tool_calls"][0]["arguments"] == {"status": "pending"}
    assert [t["title"] for t in pending["tool_calls"][0]["result"]] == ["pay bills", "prepare the team meeting"]

    completed = chat.say("What have I completed?")
    assert completed["tool_calls"][0]["arguments"] == {"status": "completed"}
    assert [t["title"] for t in completed["tool_calls"][0]["result"]] == ["buy groceries"]
    assert "buy groceries" in completed["response"]

    deleted = chat.say("Delete the meeting task")
    assert deleted["tool_calls"][0]["result"] == {"task_id": meeting["task_id"], "status": "deleted",
                                                  "title": "prepare the team meeting"}

    changed = chat.say(f"Change task {groceries['task_id']} to 'Call mom tonight'")
    assert changed["tool_calls"][0]["name"] == "update_task"
    assert changed["tool_calls"][0]["result"]["title"] == "Call mom tonight"
    assert chat.tasks() == {"Call mom tonight": True, "pay bills": False}


def test_mark_it_as_complete_refers_to_the_previous_turns_task(client: httpx.Client, user: ApiUser) -> None:
    chat = Conversation(client, user)
    added = chat.say("Add a task to buy milk")["tool_calls"][0]["result"]
    done = chat.say("Mark it as complete")
    assert done["tool_calls"][0]["result"] == {"task_id": added["task_id"], "status": "completed", "title": "buy milk"}
    assert chat.tasks() == {"buy milk": True}


def test_ambiguous_or_unknown_requests_get_helpful_answers_and_change_nothing(client: httpx.Client,
                                                                           user: ApiUser) -> None:
    chat = Conversation(client, user)
    chat.say("Add a task to call the bank")
    chat.say("Add a task to call the plumber")
    chat.say("Show me all my tasks")
    which = chat.say("Mark it as complete")
    assert which["tool_calls"] == [] and "Which task" in which["response"]
    several = chat.say("Delete the call task")
    assert several["tool_calls"] == [] and "Several tasks match" in several["response"]
    missing = chat.say("Delete the dentist task")
    assert missing["tool_calls"] == [] and "couldn't find" in missing["response"]
    nonsense = chat.say("flibbertigibbet")
    assert nonsense["tool_calls"] == [] and "Add a task to buy groceries" in nonsense["response"]
    absent = chat.say("Mark task 999999 as complete")
    assert absent["tool_calls"][0]["result"] == {"error": "Task 999999 not found"}
    assert chat.tasks() == {"call the bank": False, "call the plumber": False}


def test_history_is_stored_and_any_process_continues_the_conversation(api: ServerProcess, client: httpx.Client,
                                                                    user: ApiUser) -> None:
    """The server is stateless: a second process on the same database serves the next turn."""
    chat = Conversation(client, user)
    added = chat.say("Add a task to water the plants")["tool_calls"][0]["result"]
    with backend(api.env["DATABASE_URL"], name="second-replica") as replica, \
            httpx.Client(base_url=replica.url, timeout=30) as other:
        chat.client = other
        done = chat.say("Mark it as complete")
    assert done["tool_calls"][0]["result"]["task_id"] == added["task_id"]
    stored = client.get(f"/api/{user.id}/conversations/{chat.id}", headers=user.headers).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    assert stored["messages"][0]["content"] == "Add a task to water the plants"
    assert "water the plants" in stored["messages"][1]["content"]
    assert stored["messages"][1]["tool_calls"][0]["result"] == added
    assert stored["messages"][2]["content"] == "Mark it as complete"
    assert stored["messages"][3]["tool_calls"][0]["name"] == "complete_task"
    assert len(stored["messages"]) == 4


def test_unknown_conversation_is_404(client: httpx.Client, user: ApiUser) -> None:
    response = client.post(f"/api/{user.id}/chat", json={"conversation_id": 2_000_000_000, "message": "hi"},
                           headers=user.headers)
    assert response.status_code == 404 and response.json() == {"detail": "conversation not found"}
    blank = client.post(f"/api/{user.id}/chat", json={"message": "   "}, headers=user.headers)
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "message"]


@pytest.mark.parametrize(
    ("message", "tool", "arguments"),
    [
        ("Please add a task to call the dentist.", "add_task", {"title": "call the dentist"}),
        ("Remind me to renew the passport", "add_task", {"title": "renew the passport"}),
        ("add task: water plants with description twice a week", "add_task",
         {"title": "water plants", "description": "twice a week"}),
        ("List my tasks", "list_tasks", {"status": "all"}),
        ("What do I still need to do?", "list_tasks", {"status": "pending"}),
        ("Show completed tasks", "list_tasks", {"status": "completed"}),
        ("Mark task {id} as done", "complete_task", {"task_id": "{id}"}),
        ("Complete task #{id}", "complete_task", {"task_id": "{id}"}),
        ("Remove task {id}", "delete_task", {"task_id": "{id}"}),
        ("Rename task {id} to \"Read a book\"", "update_task", {"task_id": "{id}", "title": "Read a book"}),
        ("Mark the seed task as complete", "complete_task", {"task_id": "{id}"}),
        ("Delete it", "delete_task", {"task_id": "{id}"}),
    ],
)
def test_other_phrasings(client: httpx.Client, user: ApiUser, message: str, tool: str, arguments: dict) -> None:
    chat = Conversation(client, user)
    seed = chat.say("Add a task to seed the lawn")["tool_calls"][0]["result"]["task_id"]
    answer = chat.say(message.replace("{id}", str(seed)))
    expected = {k: (seed if v == "{id}" else v) for k, v in arguments.items()}
    assert [(c["name"], c["arguments"]) for c in answer["tool_calls"]] == [(tool, expected)], answer
    assert "error" not in str(answer["tool_calls"][0]["result"])


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999", "9" * 3000, "0"])
def test_a_task_number_beyond_the_database_integer_is_a_clear_answer_not_a_500(
        client: httpx.Client, user: ApiUser, number: str) -> None:
    """Security review, issue 16: "Mark task 2147483648 as complete" answered 500."""
    chat = Conversation(client, user)
    for message in (f"Mark task {number} as complete", f"Delete task {number}", f"Change task {number} to 'x'"):
        answer = chat.say(message)
        assert answer["tool_calls"] == [], answer
        assert answer["response"].startswith(f"There is no task {number[:20]}"), answer["response"]
    assert chat.say("Mark task 2147483647 as complete")["tool_calls"][0]["result"] == {
        "error": "Task 2147483647 not found"}
