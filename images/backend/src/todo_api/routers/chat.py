"""The chat endpoint and stored conversations: /api/{user_id}/chat, /api/{user_id}/conversations."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.chat import ChatDeadlineExceeded, ChatProviderError
from todo_api.chat.service import ConversationNotFound, UserNotFound, run_turn
from todo_api.deps import NOT_FOUND, OwnerDep, in_session, in_thread
from todo_api.models import Conversation, Message
from todo_api.routers.tasks import AUTH_RESPONSES
from todo_api.schemas import ChatRequest, ChatResponse, ConversationOut, MessageOut, Problem

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/{user_id}", tags=["chat"], responses=AUTH_RESPONSES)


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Send a message; the agent manages tasks and answers",
    responses={
        502: {"model": Problem, "description": "The model endpoint failed (openai provider)"},
        504: {"model": Problem, "description": "The turn took longer than CHAT_DEADLINE_SECONDS"},
        429: {"model": Problem, "description": "Too many chat turns this minute; Retry-After says when to retry"},
    },
)
async def chat(body: ChatRequest, user_id: OwnerDep, request: Request) -> ChatResponse:
    # A turn may cost model calls (openai provider): one account gets CHAT_TURNS_PER_MINUTE of them.
    wait = request.app.state.user_limits.chat_turns.acquire(user_id)
    if wait:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"too many chat messages: try again in {wait} seconds",
                            headers={"Retry-After": str(wait)})
    # The whole turn is one hop to the thread pool (deps.py says why). run_turn checks out short
    # connections itself and holds none while the model works; its first one checks the user exists.
    settings = request.app.state.settings
    deadline = time.monotonic() + settings.chat_deadline_seconds
    try:
        conversation_id, response, calls = await in_thread(
            run_turn, request.app.state.engine, request.app.state.provider, user_id, body.conversation_id,
            body.message, deadline,
        )
    except UserNotFound:
        raise NOT_FOUND from None
    except ConversationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "conversation not found") from None
    except ChatDeadlineExceeded:
        # Tool calls already made stay done (each committed on its own); the turn is not stored.
        log.warning("chat deadline exceeded", extra={"deadline_s": settings.chat_deadline_seconds})
        raise HTTPException(
            status.HTTP_504_GATEWAY_TIMEOUT,
            f"the chat took longer than CHAT_DEADLINE_SECONDS ({settings.chat_deadline_seconds:g} s): "
            "the model did not finish in time; please try again",
        ) from None
    except ChatProviderError as exc:
        log.warning("chat provider failed", extra={"reason": str(exc)})
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"chat provider failed: {exc}") from None
    return ChatResponse.model_validate({"conversation_id": conversation_id, "response": response, "tool_calls": calls})


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="A stored conversation with its messages, oldest first",
)
async def get_conversation(
    conversation_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user_id: OwnerDep, request: Request
) -> ConversationOut:
    def work(session: Session) -> ConversationOut:
        conversation = session.scalar(
            select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        )
        if conversation is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "conversation not found")
        messages = session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        ).all()
        return ConversationOut(
            id=conversation.id,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            messages=[MessageOut.model_validate(m) for m in messages],
        )

    return await in_session(request, user_id, work)
