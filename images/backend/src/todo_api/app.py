"""The ASGI application: FastAPI routes, the MCP endpoint, request logs, start-up migration."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api import __version__, lifecycle
from todo_api.chat import Provider
from todo_api.chat.openai import OpenAIProvider
from todo_api.chat.rules import RulesProvider
from todo_api.db import make_engine, make_probe_engine, make_sessionmaker
from todo_api.mcp_server import MCP_PATH, TodoMCP
from todo_api import tools
from todo_api.ratelimit import AuthLimits, UserLimits
from todo_api.readiness import Readiness
from todo_api.routers import auth, chat, health, tasks
from todo_api.settings import Settings

log = logging.getLogger("todo_api")
access_log = logging.getLogger("todo_api.access")


def make_provider(settings: Settings) -> Provider:
    if settings.chat_provider == "openai":
        assert settings.openai_api_key is not None  # Settings.check_consistency guarantees it
        return OpenAIProvider(
            settings.openai_api_key.get_secret_value(), settings.openai_base_url, settings.openai_model
        )
    return RulesProvider()


# The largest request body accepted, on every route (REST and MCP). The largest legitimate one is a
# chat message: 4,000 characters, at most ~24 KB as JSON even if every character is escaped. Without
# a limit a single request could make the process buffer a body larger than its memory limit.
MAX_BODY_BYTES = 64 * 1024


def _request_id() -> str:
    # A correlation id for a log line, not a secret: no system call (uuid4 reads os.urandom).
    return f"{random.getrandbits(48):012x}"


class RequestPath:
    """The one pure ASGI middleware in front of the application. Per HTTP request it

    * logs one JSON line (path only - never the query or a header);
    * while the process drains for shutdown (``lifecycle.DRAINING``), makes every answer carry
      ``Connection: close``, so the server (uvicorn honours the header) and the client close each
      keep-alive connection right after a response, never while a request is on its way;
    * answers 413 to a body above ``max_bytes`` without reading all of it: a declared
      Content-Length above the limit is refused before anything is read; a chunked body (which
      need not declare its size) is read here, up to the limit, and replayed to the application, and the first chunk
      beyond the limit ends the request with 413. Buffering is bounded by the limit, and doing it
      here keeps the refusal out of FastAPI's error handling (a failure while a handler reads the
      body would become a 500). A body framed by a Content-Length within the limit is passed
      through unread: the server's HTTP parser never delivers more than the declared length;
    * sends /mcp to the MCP server, everything else to FastAPI.

    One middleware, not four each wrapping ``send`` and ``receive``: the stack of wrappers was a
    visible share of a request's CPU (issue 15).
    """

    def __init__(self, api: ASGIApp, mcp: TodoMCP, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.api = api
        self.mcp = mcp
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan (and any websocket) go to FastAPI
            await self.api(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if lifecycle.DRAINING.is_set():
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            declared = chunked = None
            for name, value in scope["headers"]:
                if name == b"content-length":
                    declared = value
                elif name == b"transfer-encoding":
                    chunked = value
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
                await self._refuse(scope, send_wrapper)
                return
            if chunked is not None:  # framed by chunks, whatever a Content-Length says
                replayed = await self._read_limited(receive)
                if replayed is None:
                    await self._refuse(scope, send_wrapper)
                    return

                async def replaying_receive() -> Message:
                    return replayed.pop(0) if replayed else await receive()

                receive = replaying_receive
            path = scope["path"]
            app = self.mcp.asgi if path == MCP_PATH or path.startswith(MCP_PATH + "/") else self.api
            await app(scope, receive, send_wrapper)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "client": client[0] if client else None,
                        "request_id": _request_id(),
                    },
                )

    async def _read_limited(self, receive: Receive) -> list[Message] | None:
        """The body's messages to replay, or None when it grew beyond the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                return [message]
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body too large: at most {self.max_bytes} bytes"},
            status_code=413,
            headers={"connection": "close"},  # the rest of the body is not read
        )
        await response(scope, _nothing, send)


async def _nothing() -> Message:  # pragma: no cover - JSONResponse never reads the request
    return {"type": "http.disconnect"}


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape, without echoing the input back (it may hold a password)."""
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")).removeprefix("Value error, "), "type": str(e.get("type", "value_error"))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def create_app(settings: Settings) -> ASGIApp:
    engine = make_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    factory = make_sessionmaker(engine)
    probe_engine = make_probe_engine(settings.database_url.get_secret_value())
    readiness = Readiness(engine, probe_engine, settings.migration_lock_timeout_seconds)
    mcp = TodoMCP(engine, settings.jwt_secret.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        readiness.start()
        async with mcp.session_manager.run():
            yield
        readiness.stop()
        engine.dispose()
        probe_engine.dispose()

    # The API's description (/docs, /redoc, /openapi.json) maps every route for anyone who asks:
    # served only with API_DOCS=true (development), not in a deployment.
    docs = settings.api_docs
    api = FastAPI(
        title="Todo AI Chatbot API",
        version=__version__,
        description="Tasks, accounts and a task-managing chat agent. MCP (streamable HTTP) is served at /mcp.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    api.state.settings = settings
    api.state.engine = engine
    api.state.sessionmaker = factory
    api.state.readiness = readiness
    api.state.provider = make_provider(settings)
    api.state.auth_limits = AuthLimits()
    api.state.user_limits = UserLimits(settings.tasks_created_per_minute, settings.chat_turns_per_minute)
    tools.configure(settings.tasks_per_user)
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    if settings.cors_origin_list:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for router in (health.router, auth.router, tasks.router, chat.router):
        api.include_router(router)
    return RequestPath(api, mcp)
