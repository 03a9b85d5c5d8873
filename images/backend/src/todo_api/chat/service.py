"""One chat turn: load the history from the database, run the provider, store both messages.

The server keeps no conversation state in memory, so any replica can serve any turn.

No database connection is held while the provider works (a model may take a minute over several
rounds): the context is read in one short session, each tool call runs in a short session of its
own (TaskTools with a factory), and the two messages are written in a last one. Holding one session
across the turn kept a pooled connection "idle in transaction" for the whole minute, and a few
concurrent chats starved every other request of the pool.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.chat import Provider, Turn
from todo_api.models import Conversation, Message, utcnow
from todo_api.tools import TaskTools

HISTORY_LIMIT = 50


class ConversationNotFound(Exception):
    pass


def load_history(factory: Callable[[], Session], user_id: str, conversation_id: int) -> list[Turn]:
    """The conversation's last HISTORY_LIMIT messages, oldest first; ConversationNotFound if not the user's."""
    with factory() as session:
        found = session.scalar(
            select(Conversation.id).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        )
        if found is None:
            raise ConversationNotFound(conversation_id)
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(HISTORY_LIMIT)
        ).all()
        return [Turn(m.role, m.content, m.tool_calls) for m in reversed(rows)]


def run_turn(
    factory: Callable[[], Session],
    provider: Provider,
    user_id: str,
    conversation_id: int | None,
    message: str,
    deadline: float | None = None,
) -> tuple[int, str, list[dict]]:
    history = [] if conversation_id is None else load_history(factory, user_id, conversation_id)
    tools = TaskTools(None, user_id, factory=factory)
    response = provider.reply(message, history, tools, deadline)  # no session is open here
    with factory() as session:
        if conversation_id is None:
            # Created only now: a turn that fails leaves no empty conversation behind.
            conversation = Conversation(user_id=user_id)
            session.add(conversation)
            session.flush()
        else:
            conversation = session.scalar(
                select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
            )
            if conversation is None:  # pragma: no cover - conversations are never deleted today
                raise ConversationNotFound(conversation_id)
        for role, content, calls in (("user", message, None), ("assistant", response, tools.calls or None)):
            session.add(Message(conversation_id=conversation.id, user_id=user_id, role=role, content=content,
                                tool_calls=calls))
        conversation.updated_at = utcnow()
        session.commit()
        return conversation.id, response, tools.calls
