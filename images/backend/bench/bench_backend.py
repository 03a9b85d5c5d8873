"""Benchmark: requests/s and p50/p95 latency of the backend at 50 concurrent clients.

Starts its own PostgreSQL (LocalPostgres) and one ``todo-api`` process (one uvicorn worker) on
loopback, then drives two scenarios with httpx's async client, each bounded in count and time:

* list-tasks: ``GET /api/{user_id}/tasks`` (20 tasks in the list);
* chat turn: ``POST /api/{user_id}/chat`` in ``rules`` mode ("Show me all my tasks"; each client
  keeps its own conversation, so every turn loads and stores history).

Run: ``make bench-backend`` (or ``.venv/bin/python images/backend/bench/bench_backend.py``).
Exit status 1 when any request failed. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.core.net import free_port
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess

CLIENTS = 50
REQUESTS = 3000  # per scenario, at most
MAX_SECONDS = 30.0  # per scenario, at most
WARMUP = 100


@dataclass
class Result:
    name: str
    latencies: list[float]
    errors: int
    seconds: float
    reasons: Counter[str]

    def row(self) -> str:
        ordered = sorted(self.latencies)
        n = len(ordered)
        p50 = statistics.median(ordered) * 1000 if n else float("nan")
        p95 = ordered[min(n - 1, int(n * 0.95))] * 1000 if n else float("nan")
        rps = n / self.seconds if self.seconds else 0.0
        return f"{self.name:<12} {n:>8} {self.errors:>7} {rps:>10.1f} {p50:>9.1f} {p95:>9.1f}"


async def drive(name: str, base_url: str, request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
                clients: int, total: int, max_seconds: float) -> Result:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        # Warm-up: connections, caches and the database pool (not measured).
        await asyncio.gather(*(request(http, i % clients) for i in range(WARMUP)))
        latencies: list[float] = []
        errors = 0
        reasons: Counter[str] = Counter()
        issued = 0
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker(client_no: int) -> None:
            nonlocal issued, errors
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                t0 = time.perf_counter()
                try:
                    response = await request(http, client_no)
                    reason = None if response.status_code < 400 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = type(exc).__name__
                if reason is None:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
                    reasons[reason] += 1

        await asyncio.gather(*(worker(c) for c in range(clients)))
        return Result(name, latencies, errors, time.perf_counter() - started, reasons)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="per scenario, at most")
    parser.add_argument("--seconds", type=float, default=MAX_SECONDS, help="per scenario, at most")
    args = parser.parse_args()

    todo_api = str(Path(sys.executable).parent / "todo-api")
    with LocalPostgres() as postgres:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": postgres.create_database().url,
            "JWT_SECRET": secrets.token_hex(32),
            "PORT": str(port),
            "LOG_LEVEL": "warning",  # the figures are for serving, not for writing a log line per request
        }
        with ServerProcess("todo-api-bench", [todo_api], port=port, env=env, health_path="/readyz",
                           inherit_env=False) as server:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                email, password = f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(12)
                http.post("/api/auth/register", json={"email": email, "password": password}).raise_for_status()
                login = http.post("/api/auth/login", json={"email": email, "password": password}).json()
                user_id, headers = login["user_id"], {"Authorization": f"Bearer {login['access_token']}"}
                for i in range(20):
                    http.post(f"/api/{user_id}/tasks", json={"title": f"task {i}"}, headers=headers).raise_for_status()

            conversations: dict[int, int] = {}

            async def list_tasks(client: httpx.AsyncClient, _: int) -> httpx.Response:
                return await client.get(f"/api/{user_id}/tasks", headers=headers)

            async def chat_turn(client: httpx.AsyncClient, client_no: int) -> httpx.Response:
                body: dict[str, object] = {"message": "Show me all my tasks"}
                if client_no in conversations:
                    body["conversation_id"] = conversations[client_no]
                response = await client.post(f"/api/{user_id}/chat", json=body, headers=headers)
                if response.status_code == 200:
                    conversations[client_no] = response.json()["conversation_id"]
                return response

            results = [
                asyncio.run(drive("list-tasks", server.url, list_tasks, args.clients, args.requests, args.seconds)),
                asyncio.run(drive("chat-turn", server.url, chat_turn, args.clients, args.requests, args.seconds)),
            ]
    print(f"todo-api benchmark: {args.clients} concurrent clients, one uvicorn worker, loopback, "
          f"{os.cpu_count()} CPUs (shared with the load generator)")
    print(f"{'scenario':<12} {'requests':>8} {'errors':>7} {'req/s':>10} {'p50 ms':>9} {'p95 ms':>9}")
    for result in results:
        print(result.row())
    for result in results:
        if result.reasons:
            print(f"{result.name} errors: " + ", ".join(f"{k} x{v}" for k, v in result.reasons.items()))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
