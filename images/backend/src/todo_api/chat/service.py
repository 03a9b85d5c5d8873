"""One chat turn: load the history from the database, run the provider, store both messages.

The server keeps no conversation state in memory, so any replica can serve any turn.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.chat import Provider, Turn
from todo_api.models import Conversation, Message, utcnow
from todo_api.tools import TaskTools

HISTORY_LIMIT = 50


class ConversationNotFound(Exception):
    pass


def run_turn(
    session: Session, provider: Provider, user_id: str, conversation_id: int | None, message: str
) -> tuple[int, str, list[dict]]:
    if conversation_id is None:
        conversation = Conversation(user_id=user_id)
        session.add(conversation)
        session.flush()
        history: list[Turn] = []
    else:
        conversation = session.scalar(
            select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        )
        if conversation is None:
            raise ConversationNotFound(conversation_id)
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id.desc())
            .limit(HISTORY_LIMIT)
        ).all()
        history = [Turn(m.role, m.content, m.tool_calls) for m in reversed(rows)]
    tools = TaskTools(session, user_id)
    response = provider.reply(message, history, tools)
    session.add(Message(conversation_id=conversation.id, user_id=user_id, role="user", content=message))
    session.add(
        Message(
            conversation_id=conversation.id,
            user_id=user_id,
            role="assistant",
            content=response,
            tool_calls=tools.calls or None,
        )
    )
    conversation.updated_at = utcnow()
    session.commit()
    return conversation.id, response, tools.calls
