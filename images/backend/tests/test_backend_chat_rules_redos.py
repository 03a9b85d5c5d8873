"""The rules agent parses any message the API accepts in milliseconds (no regular-expression DoS).

Security review, issue 16: "mark" followed by 400 spaces and "\\nz\\nz" took about a second in the
agent's patterns, and each doubling of the spaces about eight times more, while holding the GIL (so
/healthz stalled and liveness restarted the pod). These properties generate the shapes that hurt
backtracking patterns (keywords followed by long runs of whitespace or punctuation, repeated
keywords, mixtures) up to the API's maximum message length and time the parser on each.
"""

from __future__ import annotations

import time

import httpx
import pytest
from backend_support import ApiUser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from todo_api.chat.rules import MAX_MESSAGE_CHARS, parse
from todo_api.schemas import ChatRequest

# "A few milliseconds": the parser's worst case measured here is about 1 ms at 4,000 characters
# (bench/bench_rules_parse.py); the backtracking patterns took seconds at 800. The budget leaves room
# for a busy 2-core machine while still failing anything super-linear by orders of magnitude.
BUDGET_SECONDS = 0.010

KEYWORDS = [
    "mark", "set", "tick", "check", "off", "change", "update", "rename", "edit", "modify", "to", "into", "as",
    "add", "create", "make", "new", "put", "a", "task", "todo", "to-do", "item", "reminder", "called", "that says",
    "complete", "completed", "done", "finish", "is", "now", "delete", "remove", "get rid of", "please", "can you",
    "i", "need", "have", "remember", "remind me", "don't let me forget", "show", "list", "what's", "what is",
    "tell me", "my", "the", "it", "number", "no.", "#", "with description", "details:", "help", "hi", "thanks",
    "pending", "not yet", "still need to do", "what have i", "1", "2147483648",
]
RUN_UNITS = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\u00a0", ".", "!", "?", ";", ":", "-", "'", '"', "#", "0",
             "9", "x", "z", " off", " to", " as ", " is ", "task ", "show ", "please "]

keyword = st.sampled_from(KEYWORDS)
run = st.builds(lambda unit, count: unit * count, st.sampled_from(RUN_UNITS), st.integers(1, MAX_MESSAGE_CHARS))
part = st.one_of(keyword, keyword.map(lambda k: k + " "), run)
message = st.lists(part, min_size=1, max_size=12).map(lambda parts: "".join(parts)[:MAX_MESSAGE_CHARS])


def parse_seconds(text: str) -> float:
    """The best of three timings: the parser's own cost, not a moment when the machine was busy."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - started)
    return best


def test_the_agent_reads_at_most_what_the_api_accepts() -> None:
    assert MAX_MESSAGE_CHARS == ChatRequest.model_fields["message"].metadata[0].max_length


@pytest.mark.timeout(600)
@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=message)
@example(text="mark" + " " * 400 + "\nz\nz")  # the review's example
@example(text=("mark" + " " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS - 4] + "\nz\nz")
@example(text=("change" + " " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS - 2] + "\nz")
@example(text=("add task" + " " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS - 4] + "\nz\nz")
@example(text=("show " * MAX_MESSAGE_CHARS)[:MAX_MESSAGE_CHARS])
@example(text=("please " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS - 4] + "mark")
def test_no_message_up_to_the_maximum_length_takes_more_than_a_few_ms(text: str) -> None:
    seconds = parse_seconds(text)
    assert seconds < BUDGET_SECONDS, f"parsing a {len(text)}-character message took {seconds * 1000:.1f} ms"


def test_a_longer_message_is_cut_at_the_maximum_length_not_parsed_whole() -> None:
    # A caller that skips the API's schema still gets a bounded parse.
    assert parse_seconds("mark" + " " * 100_000 + "\nz\nz") < BUDGET_SECONDS
    assert len(parse("add a task to " + "x" * 10_000).text) <= MAX_MESSAGE_CHARS


def test_whitespace_runs_do_not_change_the_meaning(client: httpx.Client, user: ApiUser) -> None:
    assert parse("Mark \n task   3\tas  complete").ref == "task 3"
    assert parse("add  a\ttask to\n\nbuy   milk").title == "buy milk"
    answer = client.post(f"/api/{user.id}/chat", json={"message": "Add a   task\n to   water\tthe plants"},
                         headers=user.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["tool_calls"][0]["arguments"] == {"title": "water the plants"}


def test_an_adversarial_message_is_answered_at_once_over_http(client: httpx.Client, user: ApiUser) -> None:
    text = ("mark" + " " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS - 4] + "\nz\nz"
    started = time.perf_counter()
    answer = client.post(f"/api/{user.id}/chat", json={"message": text}, headers=user.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert time.perf_counter() - started < 2.0
    assert client.get("/healthz").status_code == 200
