"""The MCP server (official SDK client, streamable HTTP): authenticated, same tools, same data."""

from __future__ import annotations

import asyncio

import httpx
import httpx2
from backend_support import ApiUser
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from harness.testkit.server_process import ServerProcess

TOOLS = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}


async def session_calls(url: str, token: str) -> tuple[set[str], dict, list, object, object]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        listed = await client.list_tools()
        added = await client.call_tool("add_task", {"title": "from MCP", "description": "via the SDK"})
        tasks = await client.call_tool("list_tasks", {"status": "pending"})
        missing = await client.call_tool("complete_task", {"task_id": 2_000_000_000})
        foreign = await client.call_tool("list_tasks", {"user_id": "someone-else"})
        return {t.name for t in listed.tools}, added.structured_content, tasks.structured_content, missing, foreign


def test_mcp_lists_the_task_tools_and_calls_them_as_the_token_user(api: ServerProcess, client: httpx.Client,
                                                                   user: ApiUser) -> None:
    names, added, tasks, missing, foreign = asyncio.run(session_calls(f"{api.url}/mcp", user.token))
    assert names == TOOLS
    assert added == {"task_id": added["task_id"], "status": "created", "title": "from MCP"}
    listed = tasks["result"] if isinstance(tasks, dict) and "result" in tasks else tasks
    assert [(t["id"], t["title"], t["completed"]) for t in listed] == [(added["task_id"], "from MCP", False)]
    assert missing.is_error and "Task 2000000000 not found" in missing.content[0].text
    assert foreign.is_error and "does not match" in foreign.content[0].text
    over_rest = client.get(f"/api/{user.id}/tasks", headers=user.headers).json()
    assert [(t["title"], t["description"]) for t in over_rest] == [("from MCP", "via the SDK")]


def test_mcp_refuses_requests_without_a_valid_token(api: ServerProcess) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{api.url}/mcp", json=ping, headers=headers).status_code == 401
    bad = httpx.post(f"{api.url}/mcp", json=ping, headers={**headers, "Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"


async def complete_out_of_range(url: str, token: str) -> object:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        return await client.call_tool("complete_task", {"task_id": 2**31})


def test_mcp_task_id_beyond_the_database_integer_is_a_tool_error(api: ServerProcess, user: ApiUser) -> None:
    result = asyncio.run(complete_out_of_range(f"{api.url}/mcp", user.token))
    assert result.is_error and "2147483647" in result.content[0].text, result
    assert '"status": 500' not in api.logs()
