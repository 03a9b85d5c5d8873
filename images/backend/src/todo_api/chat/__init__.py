"""The chat agent: providers that turn a user's message into task-tool calls and a reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from todo_api.tools import TaskTools


@dataclass(frozen=True)
class Turn:
    """One stored message of the conversation (history is loaded from the database every turn)."""

    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None = field(default=None)


class ChatProviderError(Exception):
    """The provider could not produce a reply (for example the model endpoint failed)."""


class ChatDeadlineExceeded(Exception):
    """The turn ran past CHAT_DEADLINE_SECONDS (its ``time.monotonic()`` deadline)."""


class Provider(Protocol):
    # How many of the latest stored messages the provider reads (run_turn loads no more).
    history_messages: int

    def reply(self, message: str, history: list[Turn], tools: TaskTools, deadline: float | None = None) -> str:
        """The reply; ``deadline`` (time.monotonic()) bounds all of it: past it, ChatDeadlineExceeded."""
        ...
