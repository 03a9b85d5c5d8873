"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint with tool calling."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from todo_api.chat import ChatDeadlineExceeded, ChatProviderError, Turn
from todo_api.tools import TOOLS, TaskTools, parameters_schema

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a helpful assistant that manages the user's todo list. Use the tools to add, list, "
    "complete, update and delete tasks; never invent task numbers - list the tasks first when you "
    "need one. After acting, confirm briefly and in a friendly way what you did."
)
MAX_TOOL_ROUNDS = 6
HISTORY_MESSAGES = 30
# The most characters of history sent with a turn (about 6,000 tokens): the newest messages that fit.
# Each round of a turn sends them again, so this bounds what one turn can cost (issue 27).
HISTORY_CHARS = 24_000
REQUEST_TIMEOUT_SECONDS = 60.0


def tool_definitions() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": spec.name, "description": spec.description, "parameters": parameters_schema(spec)},
        }
        for spec in TOOLS.values()
    ]


def bounded_history(history: list[Turn]) -> list[dict[str, Any]]:
    """The newest turns of ``history`` that fit in HISTORY_MESSAGES and HISTORY_CHARS, oldest first."""
    kept: list[dict[str, Any]] = []
    budget = HISTORY_CHARS
    for turn in reversed(history[-HISTORY_MESSAGES:]):
        content = turn.content
        if turn.role == "assistant" and turn.tool_calls:
            done = "; ".join(f"{c['name']}({json.dumps(c['arguments'])}) -> {json.dumps(c['result'])}"
                             for c in turn.tool_calls)
            content = f"{content}\n[tools used: {done}]"
        if len(content) > budget:
            break
        budget -= len(content)
        kept.append({"role": turn.role, "content": content})
    return kept[::-1]


class OpenAIProvider:
    history_messages = HISTORY_MESSAGES

    def __init__(self, api_key: str, base_url: str, model: str, client: httpx.Client | None = None) -> None:
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.client = client or httpx.Client(
            timeout=REQUEST_TIMEOUT_SECONDS, headers={"Authorization": f"Bearer {api_key}"}
        )

    def reply(self, message: str, history: list[Turn], tools: TaskTools, deadline: float | None = None) -> str:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        messages += bounded_history(history)
        messages.append({"role": "user", "content": message})
        definitions = tool_definitions()
        for _ in range(MAX_TOOL_ROUNDS):
            choice = self._complete(messages, definitions, deadline)
            calls = choice.get("tool_calls") or []
            if not calls:
                return (choice.get("content") or "").strip() or "Done."
            messages.append({"role": "assistant", "content": choice.get("content"), "tool_calls": calls})
            for call in calls:
                function = call.get("function") or {}
                name = str(function.get("name", ""))
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                    if not isinstance(arguments, dict):
                        raise ValueError("arguments are not a JSON object")
                except ValueError as exc:
                    arguments = {}
                    result: Any = {"error": f"could not parse the arguments: {exc}"}
                    tools.calls.append({"name": name, "arguments": arguments, "result": result})
                else:
                    result = tools.call(name, arguments)
                messages.append(
                    {"role": "tool", "tool_call_id": call.get("id", ""), "content": json.dumps(result, default=str)}
                )
        return "I stopped after several tool calls without finishing; please rephrase your request."

    def _complete(
        self, messages: list[dict[str, Any]], definitions: list[dict[str, Any]], deadline: float | None = None
    ) -> dict[str, Any]:
        body = {"model": self.model, "messages": messages, "tools": definitions, "tool_choice": "auto"}
        # Each round gets what is left of the turn's deadline, at most REQUEST_TIMEOUT_SECONDS.
        timeout = REQUEST_TIMEOUT_SECONDS
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChatDeadlineExceeded()
            timeout = min(timeout, left)
        try:
            response = self.client.post(self.url, json=body, timeout=timeout)
        except httpx.TimeoutException:
            if deadline is not None and time.monotonic() >= deadline - 0.05:
                raise ChatDeadlineExceeded() from None
            raise ChatProviderError("the model endpoint is unreachable (timed out)") from None
        except httpx.HTTPError as exc:
            raise ChatProviderError(f"the model endpoint is unreachable ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise ChatProviderError(f"the model endpoint answered HTTP {response.status_code}")
        try:
            return response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatProviderError("the model endpoint sent a malformed answer") from None
