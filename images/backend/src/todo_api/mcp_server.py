"""The MCP server (official ``mcp`` SDK, streamable HTTP at /mcp), serving the same task tools.

Every request needs ``Authorization: Bearer <access_token>`` (the token from /api/auth/login);
the tools act on that token's user. It runs stateless with JSON responses, so any replica
answers any request.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from todo_api.db import pooled_connection
from todo_api.deps import in_thread
from todo_api.security import InvalidToken, token_subject
from todo_api.tools import TaskTools, ToolError

MCP_PATH = "/mcp"
UserId = Annotated[str | None, Field(description="Optional; must equal the access token's user")]


def _bearer(headers: Any) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class TodoMCP:
    """The MCP server and its ASGI app, bound to the database and the JWT secret."""

    def __init__(self, engine: Engine, jwt_secret: str) -> None:
        self.engine = engine
        self.jwt_secret = jwt_secret
        self.server = MCPServer(
            name="todo",
            instructions="Manage the authenticated user's todo list.",
            log_level="WARNING",
        )
        self._register_tools()
        # Behind a Kubernetes Service the Host header is the Service's name; authentication, not the
        # Host header, protects this endpoint (DNS-rebinding checks are for unauthenticated local servers).
        self.starlette = self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            json_response=True,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @property
    def session_manager(self) -> Any:
        return self.server.session_manager

    # -- authentication -----------------------------------------------------------------------------
    def user_id(self, headers: Any) -> str | None:
        token = _bearer(headers)
        if token is None:
            return None
        try:
            return token_subject(self.jwt_secret, token)
        except InvalidToken:
            return None

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuses a request without a valid token before the MCP SDK sees it."""
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if self.user_id(headers) is None:
                body = json.dumps({"detail": "missing or invalid access token"}).encode()
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.starlette(scope, receive, send)

    # -- tools ---------------------------------------------------------------------------------------
    async def _run(self, ctx: Context, user_id: str | None, name: str, arguments: dict[str, Any]) -> Any:
        subject = self.user_id(ctx.headers)
        if subject is None:
            raise MCPToolError("missing or invalid access token")
        if user_id is not None and user_id != subject:
            raise MCPToolError("user_id does not match the access token")
        arguments = {k: v for k, v in arguments.items() if v is not None}

        def work() -> Any:
            return TaskTools(partial(pooled_connection, self.engine), subject).run(name, arguments)

        try:
            return await in_thread(work)
        except ToolError as exc:
            raise MCPToolError(str(exc)) from None

    def _register_tools(self) -> None:
        server = self.server

        @server.tool(description="Create a new task. Returns {task_id, status: 'created', title}.")
        async def add_task(
            title: Annotated[str, Field(description="Short title of the task")],
            ctx: Context,
            description: Annotated[str | None, Field(description="Optional details")] = None,
            user_id: UserId = None,
        ) -> dict[str, Any]:
            return await self._run(ctx, user_id, "add_task", {"title": title, "description": description})

        @server.tool(description="List tasks. Returns [{id, title, description, completed}].")
        async def list_tasks(
            ctx: Context,
            status: Literal["all", "pending", "completed"] = "all",
            user_id: UserId = None,
        ) -> list[dict[str, Any]]:
            return await self._run(ctx, user_id, "list_tasks", {"status": status})

        @server.tool(description="Mark a task as complete. Returns {task_id, status: 'completed', title}.")
        async def complete_task(task_id: int, ctx: Context, user_id: UserId = None) -> dict[str, Any]:
            return await self._run(ctx, user_id, "complete_task", {"task_id": task_id})

        @server.tool(description="Delete a task. Returns {task_id, status: 'deleted', title}.")
        async def delete_task(task_id: int, ctx: Context, user_id: UserId = None) -> dict[str, Any]:
            return await self._run(ctx, user_id, "delete_task", {"task_id": task_id})

        @server.tool(description="Change a task's title or description. Returns {task_id, status: 'updated', title}.")
        async def update_task(
            task_id: int,
            ctx: Context,
            title: str | None = None,
            description: str | None = None,
            user_id: UserId = None,
        ) -> dict[str, Any]:
            return await self._run(
                ctx, user_id, "update_task", {"task_id": task_id, "title": title, "description": description}
            )
