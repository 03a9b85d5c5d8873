"""Stepped load: the user count at which the application stops meeting the gate (make bench-load).

Runs the scenario of ``load/`` at 100, 150, 225 … users (×``--factor``), each arriving 10 a second
as in ``load/locust.conf`` and then held for ``--step-seconds``, against the stack ``make up``
started or, with ``--host`` (``make bench-load CLUSTER=…``), the chart on a cluster, and prints one
line of figures per step: users, req/s, p95 of all requests and of the signed-in ones, failed
requests, CPU milliseconds per request of each service (the most robust figure on a busy machine),
and the share of CPU periods throttled by the limits. It stops at the first step where a request
failed or the signed-in p95 reached the threshold (1 s): that user count is the capacity of the
chart's default resources on this machine, and the step before it the last that met the gate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from harness.core.paths import REPO_ROOT

REPO = REPO_ROOT


def ui_url(host: str | None) -> str:
    if host:
        return host
    result = subprocess.run([sys.executable, "-m", "harness.stack", "url"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit("load_capacity: the stack is not up: run 'make up' first")
    return result.stdout.strip()


SPAWN_RATE = 10  # users a second, as load/locust.conf: the same arrival rate at every step


def step(users: int, hold_seconds: int, out: Path, host: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    seconds = users // SPAWN_RATE + hold_seconds
    argv = [sys.executable, "-m", "locust", "--config", "load/locust.conf", "--host", host,
            "--users", str(users), "--spawn-rate", str(SPAWN_RATE), "--run-time", f"{seconds}s",
            "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--results-dir", str(out)]
    subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=seconds + 180, check=False)
    return json.loads((out / "summary.json").read_text())


def by_service(per_group: dict) -> dict:
    """Deployment names (``todo-todo-chatbot-backend``) → the service (``backend``)."""
    return {name.rsplit("-", 1)[-1]: value for name, value in per_group.items() if name != "total"}


def cpu_per_request(summary: dict, key: str = "cpu_ms_per_request") -> str:
    """CPU milliseconds one request cost each service and both (budget_gate's cpu_ms_per_request, or
    with ``key`` its ``cpu_ms_per_request_signed_in``: once every user had signed up)."""
    per = summary.get(key) or {}
    if not per:
        return "unmeasured"
    service = by_service(per)
    return f"{service.get('backend', 0):.1f}+{service.get('frontend', 0):.1f}={per['total']:.1f}"


def throttled(summary: dict) -> str:
    """The share of CFS periods in which each service hit its CPU limit (backend/frontend)."""
    service = by_service(summary.get("throttling") or {})
    if not service:
        return "unmeasured"
    return "/".join(f"{service[name]['throttled_share']:.0%}" if name in service else "-"
                    for name in ("backend", "frontend"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--max", type=int, default=800)
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--step-seconds", type=int, default=60)
    parser.add_argument("--host", help="the frontend's URL (default: the stack 'make up' started)")
    args = parser.parse_args()
    host = ui_url(args.host)
    passed_at = crossed_at = None
    users = args.start
    print(f"{'users':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'p95 in':>7} {'fail':>6} "
          f"{'peak MiB':>9} {'peak CPU':>9} {'CPU ms/req b+f=total':>20} {'signed in':>15} {'throttled b/f':>14}  verdict")
    while users <= args.max:
        s = step(users, args.step_seconds, REPO / "reports" / "load" / "capacity" / str(users), host)
        ok = s["failures"] == 0 and s["criteria"]["p95_below_threshold"]
        print(f"{s['users']:>6} {s['rps']:>7} {s['p50_ms']:>6.0f} {s['p95_ms']:>6.0f} {s['p99_ms']:>6.0f} "
              f"{s['signed_in_p95_ms']:>7.0f} {s['failures']:>6} {(s['peak_memory_bytes'] or 0) / 2**20:>9.0f} "
              f"{s['peak_cpu_cores'] or 0:>9.2f} {cpu_per_request(s):>20} "
              f"{cpu_per_request(s, 'cpu_ms_per_request_signed_in'):>15} {throttled(s):>14}  "
              f"{'ok' if ok else 'over'}", flush=True)
        if not ok:
            crossed_at = users
            break
        passed_at = users
        users = int(users * args.factor)
    crossed = (f"signed-in p95 reached 1 s or a request failed at {crossed_at} users" if crossed_at
               else f"not reached up to {args.max} users")
    print(f"capacity: {crossed}; the last step that met the gate: {passed_at or f'none from {args.start}'} users "
          f"({args.step_seconds} s at full load a step; 'p95 in' = signed-in requests; "
          f"CPU ms/req = CPU time of each service per request served, over the whole step and, 'signed in', "
          f"from the moment every user had signed up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
