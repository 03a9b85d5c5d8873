"""One chat turn: load the history from the database, run the provider, store both messages.

The server keeps no conversation state in memory, so any replica can serve any turn.

No database connection is held while the provider works (a model may take a minute over several
rounds): the context is read in one short session, each tool call runs in a short session of its
own (TaskTools with a factory), and the two messages are written in a last one. Holding one session
across the turn kept a pooled connection "idle in transaction" for the whole minute, and a few
concurrent chats starved every other request of the pool.
"""

from __future__ import annotations

from functools import partial

from psycopg import Connection
from psycopg.types.json import Jsonb
from sqlalchemy import DateTime, Engine, Integer, String, bindparam, insert, select, update

from todo_api.chat import Provider, Turn
from todo_api.db import Statement, pooled_connection
from todo_api.models import Conversation, Message, User, utcnow
from todo_api.tools import TaskTools

HISTORY_LIMIT = 50


class ConversationNotFound(Exception):
    pass


class UserNotFound(Exception):
    """The token's user no longer exists."""


# Compiled once (db.Statement; issue 15: SQLAlchemy's per-execution work cost more than the round trips).
_user, _conversation, _now = bindparam("p_user", type_=String), bindparam("p_conversation", type_=Integer), \
    bindparam("p_now", type_=DateTime(timezone=True))
_USER_EXISTS = Statement(select(User.id).where(User.id == _user))
_HISTORY = Statement(
    select(Message.role, Message.content, Message.tool_calls)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .where(Message.conversation_id == _conversation, Conversation.user_id == _user)
    .order_by(Message.id.desc())
    .limit(bindparam("p_limit", type_=Integer))
)
_NEW_CONVERSATION = Statement(insert(Conversation).values(user_id=_user, created_at=_now, updated_at=_now)
                              .returning(Conversation.id))
_TOUCH_CONVERSATION = Statement(update(Conversation).where(Conversation.id == _conversation,
                                                           Conversation.user_id == _user).values(updated_at=_now))
# A turn's two messages (the user's, the assistant's) in one multi-row INSERT: both or neither,
# without a transaction around two statements.
_ADD_TURN = Statement(insert(Message).values([
    {"conversation_id": _conversation, "user_id": _user, "role": bindparam(f"p_role{i}", type_=String),
     "content": bindparam(f"p_content{i}", type_=String), "tool_calls": bindparam(f"p_tool_calls{i}"),
     "created_at": bindparam(f"p_now{i}", type_=DateTime(timezone=True))}
    for i in range(2)
]))


def load_history(connection: Connection, user_id: str, conversation_id: int | None,
                 limit: int = HISTORY_LIMIT) -> list[Turn]:
    """The conversation's last ``limit`` messages, oldest first; ConversationNotFound if not the user's.

    Also where a turn learns that its user exists (UserNotFound otherwise), before any tool runs:
    a conversation of the user's implies it (conversations.user_id references users), and a new
    conversation asks. One statement either way (issue 15: round trips are most of the CPU). A
    stored conversation always has messages (both are written in one transaction, or in one
    INSERT), so "no message of it" means "not the user's conversation".
    """
    if conversation_id is None:
        if _USER_EXISTS.run(connection, p_user=user_id).fetchone() is None:
            raise UserNotFound(user_id)
        return []
    rows = _HISTORY.run(connection, p_conversation=conversation_id, p_user=user_id, p_limit=max(1, limit)).fetchall()
    if not rows:
        raise ConversationNotFound(conversation_id)
    return [Turn(role, content, calls) for role, content, calls in reversed(rows)]


def run_turn(
    engine: Engine,
    provider: Provider,
    user_id: str,
    conversation_id: int | None,
    message: str,
    deadline: float | None = None,
) -> tuple[int, str, list[dict]]:
    """One turn; every step on a pooled connection of its own (db.pooled_connection), in autocommit."""
    limit = getattr(provider, "history_messages", HISTORY_LIMIT)
    connect = partial(pooled_connection, engine)
    with connect() as connection:
        history = load_history(connection, user_id, conversation_id, limit)
    tools = TaskTools(connect, user_id)
    response = provider.reply(message, history, tools, deadline)  # no connection is held here
    messages = [("user", message, None), ("assistant", response, tools.calls or None)]
    with connect() as connection:
        if conversation_id is None:
            # Created only now, with its messages in the same transaction: a turn that fails leaves
            # no empty conversation behind (load_history relies on it).
            with connection.transaction():
                row = _NEW_CONVERSATION.run(connection, p_user=user_id, p_now=utcnow()).fetchone()
                assert row is not None  # INSERT … RETURNING returns its row
                _add_messages(connection, row[0], user_id, messages)
            return row[0], response, tools.calls
        # Two statements, each atomic on its own: the UPDATE proves the conversation is the user's,
        # then one INSERT of both rows stores both messages (both or neither). A failure in between
        # leaves only a newer updated_at.
        touched = _TOUCH_CONVERSATION.run(connection, p_conversation=conversation_id, p_user=user_id, p_now=utcnow())
        if touched.rowcount == 0:  # pragma: no cover - conversations are never deleted today
            raise ConversationNotFound(conversation_id)
        _add_messages(connection, conversation_id, user_id, messages)
        return conversation_id, response, tools.calls


def _add_messages(connection: Connection, conversation_id: int, user_id: str,
                  messages: list[tuple[str, str, list[dict] | None]]) -> None:
    params: dict[str, object] = {"p_conversation": conversation_id, "p_user": user_id}
    for i, (role, content, calls) in enumerate(messages):
        params.update({f"p_role{i}": role, f"p_content{i}": content, f"p_now{i}": utcnow(),
                       f"p_tool_calls{i}": Jsonb(calls) if calls is not None else None})
    _ADD_TURN.run(connection, **params)
