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

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from todo_api.chat import Provider, Turn
from todo_api.models import Conversation, Message, User, utcnow
from todo_api.tools import TaskTools

HISTORY_LIMIT = 50


class ConversationNotFound(Exception):
    pass


class UserNotFound(Exception):
    """The token's user no longer exists."""


def load_history(factory: Callable[[], Session], user_id: str, conversation_id: int | None,
                 limit: int = HISTORY_LIMIT) -> list[Turn]:
    """The conversation's last ``limit`` messages, oldest first; ConversationNotFound if not the user's.

    Also where a turn learns that its user exists (UserNotFound otherwise), before any tool runs:
    a conversation of the user's implies it (conversations.user_id references users), and a new
    conversation asks. One statement either way (issue 15: round trips are most of the CPU), so
    ``factory`` may hand out autocommit sessions. A stored conversation always has messages (both
    are written in one transaction), so "no message of it" means "not the user's conversation".
    """
    with factory() as session:
        if conversation_id is None:
            if session.scalar(select(User.id).where(User.id == user_id)) is None:
                raise UserNotFound(user_id)
            return []
        rows = session.execute(
            select(Message.role, Message.content, Message.tool_calls)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.conversation_id == conversation_id, Conversation.user_id == user_id)
            .order_by(Message.id.desc())
            .limit(max(1, limit))
        ).all()
        if not rows:
            raise ConversationNotFound(conversation_id)
        return [Turn(role, content, calls) for role, content, calls in reversed(rows)]


def run_turn(
    factory: Callable[[], Session],
    provider: Provider,
    user_id: str,
    conversation_id: int | None,
    message: str,
    deadline: float | None = None,
    autocommit_factory: Callable[[], Session] | None = None,
) -> tuple[int, str, list[dict]]:
    """``autocommit_factory``: sessions (db.make_autocommit_sessionmaker) for the steps that are
    one statement each: the history, the single-statement tools, storing a turn of an existing
    conversation. Without it every step has a transaction of ``factory``'s."""
    single = autocommit_factory or factory
    limit = getattr(provider, "history_messages", HISTORY_LIMIT)
    history = load_history(single, user_id, conversation_id, limit)
    tools = TaskTools(None, user_id, factory=factory, autocommit_factory=single)
    response = provider.reply(message, history, tools, deadline)  # no session is open here
    messages = [("user", message, None), ("assistant", response, tools.calls or None)]
    if conversation_id is None:
        with factory() as session:
            # Created only now, with its messages in the same transaction: a turn that fails leaves
            # no empty conversation behind (load_history relies on it).
            conversation = Conversation(user_id=user_id)
            session.add(conversation)
            session.flush()
            _add_messages(session, conversation.id, user_id, messages)
            session.commit()
            return conversation.id, response, tools.calls
    with single() as session:
        # Two statements, each atomic on its own: the UPDATE proves the conversation is the user's,
        # then one INSERT stores both messages (both or neither). A failure in between leaves only
        # a newer updated_at.
        touched = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
            .values(updated_at=utcnow())
        )
        if touched.rowcount == 0:  # pragma: no cover - conversations are never deleted today
            raise ConversationNotFound(conversation_id)
        _add_messages(session, conversation_id, user_id, messages)
        session.commit()
        return conversation_id, response, tools.calls


def _add_messages(session: Session, conversation_id: int, user_id: str,
                  messages: list[tuple[str, str, list[dict] | None]]) -> None:
    """One INSERT of all the rows (Core: no ORM unit of work for rows nothing reads back)."""
    session.execute(insert(Message), [
        {"conversation_id": conversation_id, "user_id": user_id, "role": role, "content": content,
         "tool_calls": calls, "created_at": utcnow()}
        for role, content, calls in messages
    ])
