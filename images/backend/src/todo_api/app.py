"""The ASGI application: FastAPI routes, the MCP endpoint, request logs, start-up migration."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api import __version__
from todo_api.chat import Provider
from todo_api.chat.openai import OpenAIProvider
from todo_api.chat.rules import RulesProvider
from todo_api.db import make_engine, make_sessionmaker
from todo_api.mcp_server import MCP_PATH, TodoMCP
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


class RequestLog:
    """Pure ASGI middleware: one JSON line per HTTP request (path only - never the query or a header)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client")
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client[0] if client else None,
                    "request_id": uuid.uuid4().hex[:12],
                },
            )


class McpDispatch:
    """Sends /mcp to the MCP server, everything else to FastAPI."""

    def __init__(self, api: ASGIApp, mcp: TodoMCP) -> None:
        self.api = api
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] == MCP_PATH or scope["path"].startswith(MCP_PATH + "/")):
            await self.mcp.asgi(scope, receive, send)
        else:
            await self.api(scope, receive, send)


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
    readiness = Readiness(engine)
    mcp = TodoMCP(factory, settings.jwt_secret.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        readiness.start()
        async with mcp.session_manager.run():
            yield
        readiness.stop()
        engine.dispose()

    api = FastAPI(
        title="Todo AI Chatbot API",
        version=__version__,
        description="Tasks, accounts and a task-managing chat agent. MCP (streamable HTTP) is served at /mcp.",
        lifespan=lifespan,
    )
    api.state.settings = settings
    api.state.engine = engine
    api.state.sessionmaker = factory
    api.state.readiness = readiness
    api.state.provider = make_provider(settings)
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
    return RequestLog(McpDispatch(api, mcp))
