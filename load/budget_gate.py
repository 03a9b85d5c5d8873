"""The pass/fail gate of a load run, and its figures (SC-004, SC-010).

Event hooks only, no users: while the test runs it samples the application's CPU and memory (never
the load generator's) and the user count, RPS and p95 over time; when Locust quits it writes
``summary.json`` and a PNG chart to ``--results-dir`` and sets the exit code. The same file gates
CI and serves the web UI.

Where the application runs decides the sampler, and only that: the Docker stack's containers
(``_resources.py``, Docker's stats API) or, with ``--kube-namespace``, the chart's pods on a cluster
(``_kubelet.py``, the kubelet's summary and cAdvisor endpoints through the API server). Both have
one shape; the judging below is the same for both.

Criteria: zero failed requests; p95 below ``--p95-threshold-ms`` for everything a signed-in user
does, and below ``--signup-p95-threshold-ms`` for the once-per-user register and log in (password
hashing is slow on purpose, and 100 users arriving in 10 s all hash at once, so it gets its own
threshold); no restart and no OOM kill during the run (SC-004); and the budget of SC-010 (2 GiB,
2 cores in total). On Docker the budget is judged on the measured peaks. On a cluster whose pods
all have CPU and memory limits, usage is capped by those limits by construction, so the gate checks
that the limits add up to no more than the budget and says so, rather than claiming a measured
budget check; what the run then proves is that the limits serve the users: no OOM kill, no restart,
and no CPU throttling turned into latency (the p95 criteria, with throttling reported beside them).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cpu import RequestClock  # noqa: E402  (locust loads this file by path)
from _kubelet import KubeletSampler  # noqa: E402
from _resources import ResourceSampler  # noqa: E402

from harness.contract import (  # noqa: E402  the budget and gate of SC-004/SC-010, the tests' figures too
    BUDGET_CPU_CORES,
    BUDGET_MEMORY_BYTES,
    LOAD_P95_MS,
    LOAD_SIGNUP_P95_MS,
)

_state: dict = {}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--p95-threshold-ms", type=float, default=LOAD_P95_MS, env_var="LOAD_P95_THRESHOLD_MS",
                        help="fail the run when the p95 response time is at or above this")
    parser.add_argument("--signup-p95-threshold-ms", type=float, default=LOAD_SIGNUP_P95_MS,
                        env_var="LOAD_SIGNUP_P95_THRESHOLD_MS",
                        help="fail the run when the p95 of register and log in is at or above this")
    parser.add_argument("--stack-label", default="todo-chatbot.runtime/role=container",
                        env_var="LOAD_STACK_LABEL",
                        help="Docker label(s) of the application containers to sample: key=value[,key=value…] "
                             "(default: every app container of the runtime stack; PostgreSQL is external and "
                             "not counted)")
    parser.add_argument("--results-dir", default="reports/load", env_var="LOAD_RESULTS_DIR",
                        help="where summary.json and the chart go")
    # The chart on a cluster (set by `make load CLUSTER=…` and the load tier on a cluster):
    parser.add_argument("--kube-namespace", default="", env_var="LOAD_KUBE_NAMESPACE",
                        help="sample the pods of this namespace through the kubelet instead of Docker containers")
    parser.add_argument("--kube-selector", default="", env_var="LOAD_KUBE_SELECTOR",
                        help="label selector of the application's pods in --kube-namespace")
    parser.add_argument("--kubeconfig", default="", env_var="LOAD_KUBECONFIG", help="kubeconfig of the cluster")
    parser.add_argument("--kube-context", default="", env_var="LOAD_KUBE_CONTEXT", help="context in --kubeconfig")


def make_sampler(options) -> ResourceSampler | KubeletSampler:
    if options.kube_namespace:
        return KubeletSampler(options.kube_namespace, options.kube_selector, options.kubeconfig, options.kube_context)
    return ResourceSampler(label=options.stack_label)


@events.test_start.add_listener
def _start(environment: Environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    _state["environment"] = environment
    try:
        sampler = make_sampler(environment.parsed_options)
        sampler.start()
    except Exception as exc:  # noqa: BLE001 - a run without a Docker engine still reports latency
        print(f"budget_gate: cannot sample the application ({type(exc).__name__}: {exc}); "
              "memory and CPU will be reported as unmeasured", file=sys.stderr)
        sampler = None
    clock = RequestClock()
    clock.tick(time.time(), 0)
    _state.update(sampler=sampler, started=time.monotonic(), timeline=[], clock=clock)
    _state["recorder"] = gevent.spawn(_record_timeline, environment)
    _state["ticker"] = gevent.spawn(_tick_requests, environment, clock)


def _record_timeline(environment: Environment) -> None:
    while True:
        total = environment.stats.total
        _state["timeline"].append({
            "t": round(time.monotonic() - _state["started"], 1),
            "users": environment.runner.user_count if environment.runner else 0,
            "rps": round(total.current_rps, 1),
            "p95_ms": total.get_current_response_time_percentile(0.95) or 0,
        })
        gevent.sleep(2)


def _tick_requests(environment: Environment, clock: RequestClock) -> None:
    """The request count every half second, for CPU per request (_cpu.py matches each CPU reading to
    the count at the moment it was read)."""
    while True:
        clock.tick(time.time(), environment.stats.total.num_requests)
        gevent.sleep(0.5)


# How long after the last user arrived the signed-in window may wait for the last sign-ups to end.
SIGN_UP_WAIT_S = 30


@events.spawning_complete.add_listener
def _on_all_arrived(user_count: int, **_kwargs) -> None:
    if _state.get("sampler") is not None and "signed_in_marker" not in _state:
        environment = _state.get("environment")
        if environment is not None:
            _state["signed_in_marker"] = gevent.spawn(_mark_signed_in, environment, user_count)


def _mark_signed_in(environment: Environment, users: int) -> None:
    """Read the CPU counters once every user has registered and logged in (both answered, or
    SIGN_UP_WAIT_S after the last arrival, whichever is first): the start of the signed-in window."""
    deadline = time.monotonic() + SIGN_UP_WAIT_S
    while time.monotonic() < deadline and _merged(environment, "sign-up", SIGN_UP.__contains__).num_requests < 2 * users:
        gevent.sleep(0.5)
    try:
        _state["sampler"].mark("signed_in")
    except Exception as exc:  # noqa: BLE001 - the whole-run figure stands; this one is then unmeasured
        print(f"budget_gate: cannot read the CPU counters when every user had signed up ({exc})", file=sys.stderr)


@events.test_stop.add_listener
def _stop(environment: Environment, **_kwargs) -> None:
    for greenlet in ("recorder", "ticker", "signed_in_marker"):
        if greenlet in _state:
            _state[greenlet].kill()
    if "clock" in _state:
        _state["clock"].tick(time.time(), environment.stats.total.num_requests)
    sampler: ResourceSampler | KubeletSampler | None = _state.get("sampler")
    if sampler is not None:
        sampler.stop()
        _state["restarts"], _state["oom_kills"] = sampler.restarts_and_ooms()


@events.quitting.add_listener
def _gate(environment: Environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner) or "started" not in _state:
        return
    options = environment.parsed_options
    summary = summarise(environment, options.p95_threshold_ms, options.signup_p95_threshold_ms)
    out = Path(options.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _draw(out / "timeline.png")
    failed = [name for name, ok in summary["criteria"].items() if not ok]
    verdict = "PASS" if summary["passed"] else f"FAIL ({', '.join(failed)})"
    print(f"load gate: {verdict}; summary: {out / 'summary.json'}, chart: {out / 'timeline.png'}", file=sys.stderr)
    print("load figures: " + figures_line(summary), file=sys.stderr)
    environment.process_exit_code = 0 if summary["passed"] else 1


def figures_line(summary: dict) -> str:
    memory = summary["peak_memory_bytes"]
    cpu = summary["peak_cpu_cores"]
    throttling = summary.get("throttling") or {}
    return (f"[{summary.get('sampled_from', 'docker')}] "
            f"{summary['users']} users, {summary['duration_s']} s, {summary['requests']} requests "
            f"({summary['rps']} req/s), {summary['failures']} failed; p50/p95/p99 {summary['p50_ms']:.0f}/"
            f"{summary['p95_ms']:.0f}/{summary['p99_ms']:.0f} ms; p95 signed-in {summary['signed_in_p95_ms']:.0f} ms "
            f"(threshold {summary['p95_threshold_ms']:.0f}), sign-up {summary['signup_p95_ms']:.0f} ms "
            f"(threshold {summary['signup_p95_threshold_ms']:.0f}); "
            f"restarts {summary['restarts']}, OOM kills {summary['oom_kills']}; peak memory "
            f"{'unmeasured' if memory is None else f'{memory / 2**20:.0f} MiB'} of "
            f"{summary['budget']['memory_bytes'] / 2**20:.0f}; peak CPU "
            f"{'unmeasured' if cpu is None else f'{cpu:.2f}'} of {summary['budget']['cpu_cores']:.0f} cores "
            f"({len(summary['containers'])} containers); CPU per request "
            + _per_service(summary.get("cpu_ms_per_request"))
            + ", once every user had signed up " + _per_service(summary.get("cpu_ms_per_request_signed_in"))
            + "; CPU throttled " + (", ".join(f"{name} {t['throttled_periods']}/{t['periods']} periods "
                                              f"({t['throttled_share']:.1%}, {t['throttled_s']} s)"
                                              for name, t in throttling.items()) or "unmeasured")
            + f"; budget: {summary.get('budget_check', 'measured peaks')}")


def _per_service(per_request: dict | None) -> str:
    return ", ".join(f"{name} {ms} ms" for name, ms in (per_request or {}).items()) or "unmeasured"


# Request names (load/todo_user.py) that each user sends once, on arrival.
SIGN_UP = frozenset({"register", "login"})


def _merged(environment: Environment, name: str, keep) -> StatsEntry:
    merged = StatsEntry(environment.stats, name, "")
    for (entry_name, _method), entry in environment.stats.entries.items():
        if keep(entry_name):
            merged.extend(entry)
    return merged


def summarise(environment: Environment, p95_threshold_ms: float, signup_p95_threshold_ms: float) -> dict:
    total = environment.stats.total
    use = _merged(environment, "signed-in use", lambda name: name not in SIGN_UP)
    signup = _merged(environment, "sign-up", lambda name: name in SIGN_UP)
    sampler: ResourceSampler | KubeletSampler | None = _state.get("sampler")
    duration = time.monotonic() - _state["started"]
    peak_memory = sampler.peak_memory_bytes if sampler else None
    peak_cpu = sampler.peak_cpu_cores if sampler else None
    restarts = _state.get("restarts")
    ooms = _state.get("oom_kills")
    cpu_seconds = sampler.cpu_seconds_by_group() if sampler else {}
    clock: RequestClock | None = _state.get("clock")
    criteria = {
        "zero_failures": total.num_failures == 0 and total.num_requests > 0,
        "p95_below_threshold": use.num_requests > 0 and use.get_response_time_percentile(0.95) < p95_threshold_ms,
        "signup_p95_below_threshold": (signup.num_requests > 0
                                       and signup.get_response_time_percentile(0.95) < signup_p95_threshold_ms),
        "no_restarts": restarts == 0,
        "no_oom_kills": ooms == 0,
    }
    limits = sampler.limits_total() if sampler else None
    criteria.update(budget_criteria(peak_memory, peak_cpu, limits))
    return {
        "users": max((p["users"] for p in _state.get("timeline", [])), default=0),
        "duration_s": round(duration, 1),
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.num_requests / duration, 1) if duration else 0.0,
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "p95_threshold_ms": p95_threshold_ms,
        "signed_in_p95_ms": use.get_response_time_percentile(0.95),
        "signup_p95_ms": signup.get_response_time_percentile(0.95),
        "signup_p95_threshold_ms": signup_p95_threshold_ms,
        "restarts": restarts,
        "oom_kills": ooms,
        "peak_memory_bytes": peak_memory,
        "peak_cpu_cores": peak_cpu,
        "containers": sampler.containers if sampler else [],
        "budget": {"memory_bytes": BUDGET_MEMORY_BYTES, "cpu_cores": BUDGET_CPU_CORES},
        "sampled_from": sampler.source if sampler else None,
        "limits": limits,
        "budget_check": budget_check(limits),
        "peak_memory_by_pod": sampler.peak_memory_by_pod() if sampler else {},
        "throttling": sampler.throttling_by_group() if sampler else {},
        "criteria": criteria,
        "passed": all(criteria.values()),
        # CPU per request served: each user request passes the frontend and, for the API, the
        # backend, so the sum is what one request costs the application (issue 15's figure): over
        # the whole run (sign-ups included), and over the signed-in use only (_cpu.py).
        "cpu_seconds": cpu_seconds,
        "cpu_ms_per_request": sampler.cpu_ms_per_request(clock) if sampler and clock else {},
        "cpu_ms_per_request_signed_in": (sampler.cpu_ms_per_request(clock, since="signed_in")
                                         if sampler and clock else {}),
        "per_request": {
            name: {"requests": s.num_requests, "failures": s.num_failures,
                   "p95_ms": s.get_response_time_percentile(0.95)}
            for (name, _method), s in environment.stats.entries.items()
        },
    }


def budget_criteria(peak_memory: int | None, peak_cpu: float | None, limits: dict | None) -> dict[str, bool]:
    """SC-010's criteria: the limits' sum when every container has limits (usage cannot exceed
    them), else the measured peaks."""
    if limits is not None:
        return {"limits_within_budget": limits["memory_bytes"] <= BUDGET_MEMORY_BYTES
                and limits["cpu_cores"] <= BUDGET_CPU_CORES}
    return {"memory_within_budget": peak_memory is not None and 0 < peak_memory < BUDGET_MEMORY_BYTES,
            "cpu_within_budget": peak_cpu is not None and peak_cpu < BUDGET_CPU_CORES}


def budget_check(limits: dict | None) -> str:
    if limits is None:
        return "measured peaks against the budget"
    return (f"capped by limits by construction: the pods' limits add up to {limits['cpu_cores']:g} cores and "
            f"{limits['memory_bytes'] / 2**20:.0f} MiB (budget {BUDGET_CPU_CORES:g} cores, "
            f"{BUDGET_MEMORY_BYTES / 2**20:.0f} MiB); the peaks are reported, not judged")


def _draw(path: Path) -> None:
    """Users, RPS, p95, memory and CPU over time, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = _state.get("timeline", [])
    sampler: ResourceSampler | KubeletSampler | None = _state.get("sampler")
    fig, axes = plt.subplots(5, 1, figsize=(9, 11), sharex=True)
    series = [
        ("users", [p["t"] for p in timeline], [p["users"] for p in timeline], None),
        ("requests/s", [p["t"] for p in timeline], [p["rps"] for p in timeline], None),
        ("p95 (ms)", [p["t"] for p in timeline], [p["p95_ms"] for p in timeline], None),
        ("memory (MiB)", [s.t for s in sampler.samples] if sampler else [],
         [s.memory_bytes / 2**20 for s in sampler.samples] if sampler else [], BUDGET_MEMORY_BYTES / 2**20),
        ("CPU (cores)", [s.t for s in sampler.samples] if sampler else [],
         [s.cpu_cores for s in sampler.samples] if sampler else [], BUDGET_CPU_CORES),
    ]
    for ax, (label, xs, ys, budget) in zip(axes, series, strict=True):
        ax.plot(xs, ys)
        if budget is not None:
            ax.axhline(budget, color="red", linestyle="--", label="budget")
            ax.legend(loc="upper right")
            ax.set_ylim(bottom=0)  # the distance to the budget, not a zoom on the noise
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    fig.suptitle("Load run: 100 concurrent users against the resource budget")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
