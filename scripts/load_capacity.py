"""Stepped load: the user count at which the stack stops meeting the gate (make bench-load).

Runs the scenario of ``load/`` at 100, 150, 225 … users (×``--factor``), each arriving 10 a second
as in ``load/locust.conf`` and then held for ``--step-seconds``,
against the stack ``make up`` started, and prints one line of figures per step. It stops at the
first step where a request failed or the signed-in p95 reached the threshold (1 s), and names
the last step that passed: the capacity of the chart's default resources on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from harness.core.paths import REPO_ROOT

REPO = REPO_ROOT


def ui_url() -> str:
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


def cpu_per_request(summary: dict) -> str:
    """CPU milliseconds one request cost each service and both (budget_gate's cpu_ms_per_request)."""
    per = summary.get("cpu_ms_per_request") or {}
    if not per:
        return "unmeasured"
    service = {name.rsplit("-", 1)[-1]: value for name, value in per.items() if name != "total"}
    return f"{service.get('backend', 0):.1f}+{service.get('frontend', 0):.1f}={per['total']:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--max", type=int, default=800)
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--step-seconds", type=int, default=60)
    args = parser.parse_args()
    host = ui_url()
    passed_at = None
    users = args.start
    print(f"{'users':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'p95 in':>7} {'fail':>6} "
          f"{'peak MiB':>9} {'peak CPU':>9} {'CPU ms/req (backend+frontend=total)':>36}  verdict")
    while users <= args.max:
        s = step(users, args.step_seconds, REPO / "reports" / "load" / "capacity" / str(users), host)
        ok = s["failures"] == 0 and s["criteria"]["p95_below_threshold"]
        print(f"{s['users']:>6} {s['rps']:>7} {s['p50_ms']:>6.0f} {s['p95_ms']:>6.0f} {s['p99_ms']:>6.0f} "
              f"{s['signed_in_p95_ms']:>7.0f} {s['failures']:>6} {(s['peak_memory_bytes'] or 0) / 2**20:>9.0f} "
              f"{s['peak_cpu_cores'] or 0:>9.2f} {cpu_per_request(s):>36}  {'ok' if ok else 'over'}", flush=True)
        if not ok:
            break
        passed_at = users
        users = int(users * args.factor)
    print(f"capacity: {passed_at or f'below {args.start}'} users met the gate "
          f"(no failure, signed-in p95 < 1 s; {args.step_seconds} s at full load a step; 'p95 in' = signed-in requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
