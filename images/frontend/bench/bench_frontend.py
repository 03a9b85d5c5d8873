"""Benchmark: the frontend's CPU milliseconds per proxied API request under the load scenario.

Starts its own PostgreSQL (LocalPostgres), one ``todo-api`` (the real backend, loopback) and the
production build of the frontend (``node .next/standalone/dist/server/main.js``, what the image runs,
with the environment the image and the chart set: NODE_ENV=production, LOG_LEVEL=info, SESSION_COOKIE_SECURE=auto, HSTS_MAX_AGE=0),
then drives the frontend with Locust running ``load/todo_user.py`` (signed-in users who list, add,
complete and delete tasks and chat), headless.

The figure is process CPU time (utime + stime from /proc/<pid>/stat, so it counts everything the
server does: HTTP parsing, routing, the proxy's fetch to the backend, GC) divided by the requests
Locust completed in the same window. CPU time, not latency: the machine is shared, wall-clock
figures are noise.

Run after ``npm run build`` (make bench-frontend does both):
    .venv/bin/python images/frontend/bench/bench_frontend.py [--users 50 --seconds 60]
    [--cpu-prof DIR]  # also write V8 CPU profiles there; summarise with bench/cpuprofile_top.mjs
Exit status 1 when any request failed. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from harness.core.net import free_port
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess

FRONTEND = Path(__file__).resolve().parents[1]
REPO = FRONTEND.parents[1]
SERVER_JS = FRONTEND / ".next" / "standalone" / "dist" / "server" / "main.js"
LOCUSTFILE = REPO / "load" / "todo_user.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_USERS = 5
WARMUP_SECONDS = 10


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process, its reaped children included (cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" closing comm: state is fields[0], so utime, stime, cutime, cstime are fields[11..14].
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + cutime) / CLK_TCK, (stime + cstime) / CLK_TCK


def run_locust(host: str, users: int, seconds: int, workdir: Path) -> tuple[int, int, dict[str, int]]:
    """Locust headless against host; returns (requests, failures, requests per name)."""
    prefix = workdir / f"locust-{users}u"
    argv = [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless",
            "-u", str(users), "-r", "10", "-t", f"{seconds}s", "--stop-timeout", "10",
            "--host", host, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    # cwd: a directory without a locust.conf, so only these flags apply.
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=seconds + 120)
    stats = prefix.with_name(prefix.name + "_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no statistics (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    per_name: dict[str, int] = {}
    total = failures = 0
    with stats.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                total, failures = int(row["Request Count"]), int(row["Failure Count"])
            else:
                per_name[row["Name"]] = int(row["Request Count"])
    return total, failures, per_name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--cpu-prof", type=Path, metavar="DIR", help="write V8 CPU profiles of the frontend to DIR")
    parser.add_argument("--server", type=Path, default=SERVER_JS,
                        help="the server entry to run (default: this worktree's build, dist/server/main.js); a copy "
                             "of another build's .next/standalone (its dist/server/main.js, or server.js before the "
                             "lean API server) compares before and after")
    args = parser.parse_args()
    server_js = args.server.resolve()
    if not server_js.is_file():
        print(f"{server_js} is missing: run `npm run build` in {FRONTEND} first", file=sys.stderr)
        return 2

    todo_api = str(Path(sys.executable).parent / "todo-api")
    workdir = Path(tempfile.mkdtemp(prefix="bench-frontend-"))
    with LocalPostgres() as postgres:
        backend_port, frontend_port = free_port(), free_port()
        backend_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": postgres.create_database().url,
            "JWT_SECRET": secrets.token_hex(32),
            "PORT": str(backend_port),
            "LOG_LEVEL": "warning",
        }
        # What the image (Dockerfile ENV) and the chart's ConfigMap set (chart defaults).
        frontend_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NODE_ENV": "production",
            "NEXT_TELEMETRY_DISABLED": "1",
            "HOSTNAME": "0.0.0.0",
            "PORT": str(frontend_port),
            "HOME": str(workdir),
            "BACKEND_URL": f"http://127.0.0.1:{backend_port}",
            "LOG_LEVEL": "info",
            "SESSION_COOKIE_SECURE": "auto",
            "HSTS_MAX_AGE": "0",
        }
        node = ["node"]
        if args.cpu_prof:
            args.cpu_prof.mkdir(parents=True, exist_ok=True)
            node += ["--cpu-prof", f"--cpu-prof-dir={args.cpu_prof.resolve()}"]
        with ServerProcess("todo-api-bench", [todo_api], port=backend_port, env=backend_env,
                           health_path="/readyz", inherit_env=False) as _backend, \
             ServerProcess("frontend-bench", [*node, str(server_js)], port=frontend_port, env=frontend_env,
                           health_path="/api/healthz", cwd=server_js.parent, inherit_env=False) as frontend:
            assert frontend.process is not None
            pid = frontend.process.pid
            # Warm-up (not measured): every route's module loaded, V8's optimiser past its first passes.
            run_locust(frontend.url, WARMUP_USERS, WARMUP_SECONDS, workdir)
            httpx.get(frontend.url + "/api/healthz", timeout=5).raise_for_status()
            user0, system0 = cpu_seconds(pid)
            requests, failures, per_name = run_locust(frontend.url, args.users, args.seconds, workdir)
            user1, system1 = cpu_seconds(pid)
            user, system = user1 - user0, system1 - system0
            used = user + system
            rss_kib = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("VmRSS:"))
    print(f"frontend benchmark: load/todo_user.py, {args.users} users for {args.seconds} s, one `node {server_js}`, "
          f"real todo-api + PostgreSQL on loopback, {os.cpu_count()} CPUs (shared with the load generator)")
    print("requests by name: " + ", ".join(f"{k} {v}" for k, v in sorted(per_name.items())))
    per = 1000 / max(requests, 1)
    print(f"requests {requests}  failures {failures}  frontend CPU {used:.2f} s (user {user:.2f}, system {system:.2f})"
          f"  RSS {rss_kib // 1024} MiB")
    print(f"frontend CPU per request: {used * per:.2f} ms (user {user * per:.2f}, system {system * per:.2f})")
    if failures:
        print(f"{failures} requests failed; frontend log: {frontend.log_path}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
