"""Benchmark: CPU milliseconds per request of the backend, per endpoint, and a sign-up burst.

Starts its own PostgreSQL (LocalPostgres) and one ``todo-api`` process (the image's entry point,
LOG_LEVEL=info as the chart sets it) on loopback, then:

1. **CPU per request** — for each hot endpoint (list tasks, create task, complete task, chat turn
   in ``rules`` mode, login; /healthz as the floor: server, framework and log line) it sends a fixed number of requests from 20 concurrent clients with
   valid sessions and divides the server process's CPU time (utime + stime of every thread, from
   /proc/<pid>/stat) by the requests served. CPU time, not latency: the machine is shared. The
   ``mix`` row is load/todo_user.py's signed-in mix (list 6 : create 3 : complete 2 : delete 1 :
   chat 3, a complete and a delete each preceded by their list) without the pauses: the figure to
   compare with the cluster's CPU per request.
2. **Sign-up burst** — one backend replica's share of load/todo_user.py's ramp: ``--burst-users``
   people (default 50, half of 100 users over 2 replicas) arrive evenly over 10 s; each registers,
   logs in, then behaves like the Locust user (list 6 : create 3 : complete 2 : delete 1 : chat 3,
   1–3 s apart) until the run ends. The server runs under the chart's CPU limit (``--cpu-limit``,
   0.4 CPU, through a cgroup-v1 ``cpu`` group when the bench runs as root; otherwise unlimited and
   the output says so). Prints register/login/signed-in p50/p95 and CPU ms per signed-in request.

``--endpoint 'chat turn' --only endpoints`` measures one endpoint (for ``py-spy record``; see the
README). Run: ``make bench-backend-cpu`` (or ``.venv/bin/python images/backend/bench/bench_cpu.py``).
Exit status 1 when any request failed. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.core.net import free_port
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess

CLIENTS = 20
USERS = 30  # signed-in people spread over the clients
TASKS_EACH = 5
REQUESTS = 600  # per endpoint
CHORES = ("buy milk", "call the plumber", "book the dentist", "water the plants", "pay the bills")
CHAT_MESSAGES = ("Add a task to {chore}", "Show me all my tasks", "What's pending?", "What have I completed?")
CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def cpu_limit(pid: int, cpus: float | None) -> Iterator[str]:
    """Put ``pid`` (and the threads it starts later) in a cgroup-v1 cpu group limited to ``cpus``."""
    if not cpus:
        yield "unlimited"
        return
    if os.geteuid() != 0 or not (CGROUP_ROOT / "cpu.cfs_quota_us").exists():
        yield f"unlimited (a {cpus} CPU limit needs root and cgroup v1's cpu controller)"
        return
    group = CGROUP_ROOT / f"todo-bench-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * 100_000)))
        for task in Path(f"/proc/{pid}/task").iterdir():
            (group / "tasks").write_text(task.name)
        yield f"{cpus} CPU (cgroup cpu.cfs_quota_us)"
    finally:
        for task in (group / "tasks").read_text().split():  # back to the root group, then remove ours
            try:
                (CGROUP_ROOT / "tasks").write_text(task)
            except OSError:  # the thread has exited
                pass
        group.rmdir()


@dataclass
class User:
    user_id: str
    headers: dict[str, str]
    credentials: dict[str, str] = field(default_factory=dict)
    conversation_id: int | None = None


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, name: str, started: float, response: httpx.Response | None, ok: set[int]) -> None:
        if response is not None and response.status_code in ok:
            self.latencies[name].append(time.perf_counter() - started)
        else:
            self.errors[f"{name} {response.status_code if response is not None else 'failed'}"] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else float("nan")


async def sign_up(http: httpx.AsyncClient, stats: Stats) -> User | None:
    email, password = f"bench-{secrets.token_hex(6)}@example.test", secrets.token_hex(16)
    started = time.perf_counter()
    try:
        response = await http.post("/api/auth/register", json={"email": email, "password": password, "name": "B"})
    except httpx.HTTPError:
        response = None
    stats.record("register", started, response, {201})
    started = time.perf_counter()
    try:
        response = await http.post("/api/auth/login", json={"email": email, "password": password})
    except httpx.HTTPError:
        response = None
    stats.record("login", started, response, {200})
    if response is None or response.status_code != 200:
        return None
    body = response.json()
    return User(body["user_id"], {"Authorization": f"Bearer {body['access_token']}"})


# --- one signed-in action each, as load/todo_user.py weighs them --------------------------------
async def list_tasks(http: httpx.AsyncClient, user: User, status: str | None = None) -> httpx.Response:
    status = status or random.choice(("all", "pending", "completed"))
    return await http.get(f"/api/{user.user_id}/tasks", params={"status": status}, headers=user.headers)


async def create_task(http: httpx.AsyncClient, user: User) -> httpx.Response:
    return await http.post(f"/api/{user.user_id}/tasks", json={"title": random.choice(CHORES)}, headers=user.headers)


async def complete_task(http: httpx.AsyncClient, user: User) -> httpx.Response:
    pending = (await list_tasks(http, user, "pending")).json()
    if not pending:
        return await create_task(http, user)
    task_id = random.choice(pending)["id"]
    return await http.patch(f"/api/{user.user_id}/tasks/{task_id}/complete", headers=user.headers)


async def delete_task(http: httpx.AsyncClient, user: User) -> httpx.Response:
    done = (await list_tasks(http, user, "completed")).json()
    if not done:
        return await list_tasks(http, user)
    return await http.delete(f"/api/{user.user_id}/tasks/{random.choice(done)['id']}", headers=user.headers)


async def chat_turn(http: httpx.AsyncClient, user: User) -> httpx.Response:
    message = random.choice(CHAT_MESSAGES).format(chore=random.choice(CHORES))
    body = {"message": message, "conversation_id": user.conversation_id}
    response = await http.post(f"/api/{user.user_id}/chat", json=body, headers=user.headers)
    if response.status_code == 200:
        user.conversation_id = response.json()["conversation_id"]
    return response


Action = Callable[[httpx.AsyncClient, User], Awaitable[httpx.Response]]
MIX: list[tuple[str, Action, int]] = [
    ("list tasks", list_tasks, 6), ("create task", create_task, 3), ("complete task", complete_task, 2),
    ("delete task", delete_task, 1), ("chat turn", chat_turn, 3),
]


async def mixed(http: httpx.AsyncClient, user: User) -> httpx.Response:
    """One action of the Locust mix, drawn by its weight."""
    _, action, _ = random.choices(MIX, [weight for *_, weight in MIX])[0]
    return await action(http, user)


async def drive(http: httpx.AsyncClient, action: Action, users: list[User], count: int, clients: int) -> int:
    """``count`` actions from ``clients`` concurrent workers; the number that failed."""
    queue = iter(range(count))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for i in queue:
            response = await action(http, users[i % len(users)])
            failures += response.status_code >= 400

    await asyncio.gather(*(worker() for _ in range(clients)))
    return failures


async def per_endpoint(url: str, pid: int, users: list[User], requests: int, clients: int,
                       only: str | None = None) -> list[tuple[str, float, int]]:
    """CPU ms per request of each hot endpoint, each measured on its own."""
    rows = []
    sent = 0

    async def counted(response: httpx.Response) -> None:  # an action of the mix may send two requests
        nonlocal sent
        sent += 1

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=clients),
                                 event_hooks={"response": [counted]}) as http:
        # A few tasks each, as a person in the load test has; each complete below needs a pending task of
        # its own, and the creates provide them (measured after the list, so the list stays short).
        for user in users:
            await asyncio.gather(*(create_task(http, user) for _ in range(TASKS_EACH)))

        async def login_again(client: httpx.AsyncClient, user: User) -> httpx.Response:
            return await client.post("/api/auth/login", json=user.credentials)

        def complete_one(client: httpx.AsyncClient, user: User) -> Awaitable[httpx.Response]:
            task_id = pending[user.user_id].pop()
            return client.patch(f"/api/{user.user_id}/tasks/{task_id}/complete", headers=user.headers)

        pending: dict[str, list[int]] = {}
        scenarios: list[tuple[str, Callable[[httpx.AsyncClient, User], Awaitable[httpx.Response]], int]] = [
            ("healthz", lambda c, u: c.get("/healthz"), requests),  # the floor: server, framework, log line
            ("list tasks", lambda c, u: list_tasks(c, u, "all"), requests),
            ("create task", create_task, requests),
            ("complete task", complete_one, requests),
            ("chat turn", chat_turn, requests),
            ("mix", mixed, requests),
            ("login", login_again, max(20, requests // 20)),
        ]
        for name, action, count in scenarios:
            if only and name != only:
                continue
            if name == "complete task":
                pending = {u.user_id: [t["id"] for t in (await list_tasks(http, u, "pending")).json()] for u in users}
            await asyncio.gather(*(action(http, users[i % len(users)]) for i in range(clients)))  # warm-up
            before, sent = cpu_seconds(pid), 0
            failures = await drive(http, action, users, count, clients)
            rows.append((name, (cpu_seconds(pid) - before) * 1000 / sent, failures))
    return rows


async def burst(url: str, pid: int, people: int, spawn_seconds: float, run_seconds: float) -> tuple[Stats, float, int]:
    """One replica's share of the Locust ramp: people arrive, sign up, then use the app."""
    stats = Stats()
    served = 0
    deadline = time.perf_counter() + run_seconds
    limits = httpx.Limits(max_connections=people * 2, max_keepalive_connections=people * 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        cpu_before = cpu_seconds(pid)

        async def person(delay: float) -> None:
            nonlocal served
            await asyncio.sleep(delay)
            user = await sign_up(http, stats)
            served += 2
            if user is None:
                return
            names, actions, weights = zip(*MIX, strict=True)
            while time.perf_counter() + 1 < deadline:
                await asyncio.sleep(random.uniform(1, 3))
                index = random.choices(range(len(actions)), weights)[0]
                started = time.perf_counter()
                try:
                    response: httpx.Response | None = await actions[index](http, user)
                except httpx.HTTPError:
                    response = None
                stats.record(names[index], started, response, {200, 201, 204})
                served += 1 + (names[index] in ("complete task", "delete task"))

        await asyncio.gather(*(person(i * spawn_seconds / people) for i in range(people)))
        cpu = cpu_seconds(pid) - cpu_before
    return stats, cpu, served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="per endpoint")
    parser.add_argument("--burst-users", type=int, default=50, help="people signing up (one replica's share)")
    parser.add_argument("--burst-seconds", type=float, default=30.0, help="length of the burst run (spawn: 10 s)")
    parser.add_argument("--cpu-limit", type=float, default=0.4, help="CPUs for the burst (0: unlimited)")
    parser.add_argument("--only", choices=("endpoints", "burst"), help="run one part only")
    parser.add_argument("--endpoint", help="measure this endpoint only (e.g. 'list tasks'), for profiling")
    parser.add_argument("--pause", action="store_true", help="wait for Enter before each part (to attach py-spy)")
    args = parser.parse_args()

    todo_api = str(Path(sys.executable).parent / "todo-api")
    with LocalPostgres() as postgres:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": postgres.create_database().url,
            "JWT_SECRET": secrets.token_hex(32),
            "PORT": str(port),
            "LOG_LEVEL": "info",  # as the chart sets it: the request log is part of the cost
            "DB_POOL_SIZE": "5",  # the chart's poolSize / maxOverflow
            "DB_MAX_OVERFLOW": "5",
        }
        with ServerProcess("todo-api-bench", [todo_api], port=port, env=env, health_path="/readyz",
                           inherit_env=False) as server:
            assert server.process is not None
            pid = server.process.pid
            print(f"todo-api pid {pid}, {os.cpu_count()} CPUs shared with the load generator", flush=True)
            failed = False
            if args.only in (None, "endpoints"):
                users = []
                with httpx.Client(base_url=server.url, timeout=30) as http:
                    for _ in range(USERS):
                        email, password = f"bench-{secrets.token_hex(6)}@example.test", secrets.token_hex(16)
                        http.post("/api/auth/register", json={"email": email, "password": password}).raise_for_status()
                        login = http.post("/api/auth/login", json={"email": email, "password": password}).json()
                        users.append(User(login["user_id"], {"Authorization": f"Bearer {login['access_token']}"},
                                          {"email": email, "password": password}))
                if args.pause:
                    input("endpoints: press Enter to start")
                rows = asyncio.run(per_endpoint(server.url, pid, users, args.requests, args.clients, args.endpoint))
                print(f"\nCPU per request, one process, {args.clients} concurrent clients, {args.requests} requests each")
                print(f"{'endpoint':<14} {'CPU ms/req':>10} {'errors':>7}")
                for name, ms, failures in rows:
                    print(f"{name:<14} {ms:>10.2f} {failures:>7}")
                    failed |= failures > 0
            if args.only in (None, "burst"):
                if args.pause:
                    input("burst: press Enter to start")
                with cpu_limit(pid, args.cpu_limit) as limit:
                    stats, cpu, served = asyncio.run(burst(server.url, pid, args.burst_users, 10.0, args.burst_seconds))
                print(f"\nSign-up burst: {args.burst_users} people over 10 s, then the Locust mix until "
                      f"{args.burst_seconds:g} s; server CPU: {limit}")
                print(f"{'request':<14} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}")
                for name in ("register", "login", *(m[0] for m in MIX)):
                    values = stats.latencies.get(name, [])
                    print(f"{name:<14} {len(values):>6} {percentile(values, 0.5):>8.0f} {percentile(values, 0.95):>8.0f}")
                print(f"server CPU {cpu:.2f} s for {served} requests: {cpu * 1000 / max(served, 1):.2f} ms/request "
                      "(hashing included)")
                if stats.errors:
                    print("errors: " + ", ".join(f"{k} x{v}" for k, v in stats.errors.items()))
                    failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
