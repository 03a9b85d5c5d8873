"""The pass/fail gate of a load run, and its figures (SC-004, SC-010).

Event hooks only, no users: while the test runs it samples the application's CPU and memory (never
the load generator's) and the user count, RPS and p95 over time; when Locust quits it writes
``summary.json`` and a PNG chart to ``--results-dir`` and sets the exit code. The same file gates
CI and serves the web UI.

Where the application runs decides the sampler, and only that: the Docker stack's containers
(``_resources.py``, Docker's stats API) or, with ``--kube-namespace``, the chart's pods on a cluster
(``_kubelet.py``, the kubelet's summary and cAdvisor endpoints through the API server). Both have
one shape; the judging (``_verdict.py``) is the same for both.

A run answers one of two questions, because a limit caps usage (a run under the chart's limits
cannot show the budget: its peaks are below the limits' sum by construction):

* by default, SC-004 at the chart's default limits: at least 100 users, zero failed requests, p95
  below ``--p95-threshold-ms`` for everything a signed-in user does and below
  ``--signup-p95-threshold-ms`` for the once-per-user register and log in (password hashing is slow on
  purpose, and 100 users arriving in 10 s all hash at once), no restart and no OOM kill during the
  run, and the containers' live limits are the chart's defaults. The peaks are reported in
  ``budget`` but not judged (``within`` is None);
* with ``--budget-run``, SC-010 with the limits lifted (``_verdict.LIFTED_SET_VALUES``): no container
  capped below the budget (read from the live pods/containers), the load served (100 users, no
  failure, no restart or OOM kill), and the summed real peak of memory and of CPU strictly below the
  budget of ``harness.contract`` (2 GiB, 2 cores).

``make load`` and the load tier run both and merge them into one summary (``_verdict.merge``).
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
from _resources import ResourceSampler, limits_sum  # noqa: E402
from _target import target_problem  # noqa: E402
from _verdict import (  # noqa: E402
    budget_figures,
    budget_run_criteria,
    figures_line,
    requirements,
    sc004_criteria,
    verdict,
)

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
    parser.add_argument("--stack-label", default="", env_var="LOAD_STACK_LABEL",
                        help="Docker label(s) of the application containers to sample: key=value[,key=value…] "
                             "(default: the app containers of this checkout's `make up` stack; PostgreSQL is "
                             "external and not counted)")
    parser.add_argument("--results-dir", default="reports/load", env_var="LOAD_RESULTS_DIR",
                        help="where summary.json and the chart go")
    parser.add_argument("--budget-run", action="store_true", default=False,
                        help="judge SC-010 (the application's limits lifted: summed real peak strictly below "
                             "the budget) instead of SC-004 (the chart's default limits)")
    # The chart on a cluster (set by `make load CLUSTER=…` and the load tier on a cluster):
    parser.add_argument("--kube-namespace", default="", env_var="LOAD_KUBE_NAMESPACE",
                        help="sample the pods of this namespace through the kubelet instead of Docker containers")
    parser.add_argument("--kube-selector", default="", env_var="LOAD_KUBE_SELECTOR",
                        help="label selector of the application's pods in --kube-namespace")
    parser.add_argument("--kubeconfig", default="", env_var="LOAD_KUBECONFIG", help="kubeconfig of the cluster")
    parser.add_argument("--kube-context", default="", env_var="LOAD_KUBE_CONTEXT", help="context in --kubeconfig")


@events.init.add_listener
def _check_target(environment: Environment, **_kwargs) -> None:
    """Before any user starts: a run with nothing to load stops here with one line saying how to get
    a target (exit 2); the web UI only warns, since its form lets the person set the host."""
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    if (problem := target_problem(environment.host)) is None:
        return
    if options.headless or options.autostart:
        print(f"load: {problem}", file=sys.stderr)
        sys.exit(2)
    print(f"load: {problem} (or set the host in the web UI's form)", file=sys.stderr)


def make_sampler(options) -> ResourceSampler | KubeletSampler:
    if options.kube_namespace:
        return KubeletSampler(options.kube_namespace, options.kube_selector, options.kubeconfig, options.kube_context)
    if options.stack_label:
        return ResourceSampler(label=options.stack_label)
    from harness.stack import make_up_label  # the stack a bare `locust -f load/` loads, not another's

    return ResourceSampler(label=make_up_label())


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


# A headless run (make load: 3 minutes, --only-summary) says how it goes this often, one line.
PROGRESS_EVERY_S = 30


def _record_timeline(environment: Environment) -> None:
    options = environment.parsed_options
    headless = bool(options and options.headless)
    run_time = getattr(options, "run_time", None) if options else None
    said = 0.0
    while True:
        total = environment.stats.total
        point = {
            "t": round(time.monotonic() - _state["started"], 1),
            "users": environment.runner.user_count if environment.runner else 0,
            "rps": round(total.current_rps, 1),
            "p95_ms": total.get_current_response_time_percentile(0.95) or 0,
        }
        _state["timeline"].append(point)
        if headless and point["t"] - said >= PROGRESS_EVERY_S:
            said = point["t"]
            print(f"load: {point['t']:.0f} s" + (f" of {run_time} s" if run_time else "")
                  + f", {point['users']} users, {point['rps']} req/s, p95 {point['p95_ms']:.0f} ms, "
                  f"{total.num_failures} failed of {total.num_requests}", file=sys.stderr, flush=True)
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
    summary = summarise(environment, options.p95_threshold_ms, options.signup_p95_threshold_ms, options.budget_run)
    out = Path(options.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _draw(out / "timeline.png", summary["run"])
    print(f"load gate: {verdict(summary)}; summary: {out / 'summary.json'}, chart: {out / 'timeline.png'}",
          file=sys.stderr)
    print("load figures: " + figures_line(summary), file=sys.stderr)
    environment.process_exit_code = 0 if summary["passed"] else 1


# Request names (load/todo_user.py) that each user sends once, on arrival.
SIGN_UP = frozenset({"register", "login"})


def _merged(environment: Environment, name: str, keep) -> StatsEntry:
    merged = StatsEntry(environment.stats, name, "")
    for (entry_name, _method), entry in environment.stats.entries.items():
        if keep(entry_name):
            merged.extend(entry)
    return merged


def summarise(environment: Environment, p95_threshold_ms: float, signup_p95_threshold_ms: float,
              budget_run: bool = False) -> dict:
    total = environment.stats.total
    use = _merged(environment, "signed-in use", lambda name: name not in SIGN_UP)
    signup = _merged(environment, "sign-up", lambda name: name in SIGN_UP)
    sampler: ResourceSampler | KubeletSampler | None = _state.get("sampler")
    duration = time.monotonic() - _state["started"]
    peak_memory = sampler.peak_memory_bytes if sampler else None
    peak_cpu = sampler.peak_cpu_cores if sampler else None
    cpu_seconds = sampler.cpu_seconds_by_group() if sampler else {}
    clock: RequestClock | None = _state.get("clock")
    try:
        container_limits = sampler.container_limits() if sampler else {}
    except Exception as exc:  # noqa: BLE001 - unread limits are judged as neither default nor lifted
        print(f"budget_gate: cannot read the containers' limits ({exc})", file=sys.stderr)
        container_limits = {}
    summary = {
        "run": "budget (limits lifted, SC-010)" if budget_run else "SC-004 (the chart's limits)",
        "users": max((p["users"] for p in _state.get("timeline", [])), default=0),
        "duration_s": round(duration, 1),
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.num_requests / duration, 1) if duration else 0.0,
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "p95_threshold_ms": p95_threshold_ms,
        "signed_in_requests": use.num_requests,
        "signed_in_p95_ms": use.get_response_time_percentile(0.95),
        "signup_requests": signup.num_requests,
        "signup_p95_ms": signup.get_response_time_percentile(0.95),
        "signup_p95_threshold_ms": signup_p95_threshold_ms,
        "restarts": _state.get("restarts"),
        "oom_kills": _state.get("oom_kills"),
        "peak_memory_bytes": peak_memory,
        "peak_cpu_cores": peak_cpu,
        "containers": sampler.containers if sampler else [],
        "sampled_from": sampler.source if sampler else None,
        "container_limits": container_limits,
        "limits": limits_sum(container_limits),
        "peak_memory_by_pod": sampler.peak_memory_by_pod() if sampler else {},
        "throttling": sampler.throttling_by_group() if sampler else {},
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
        "errors": [{"name": e.name, "error": str(e.error)[:300], "occurrences": e.occurrences}
                   for e in list(environment.stats.errors.values())[:20]],
    }
    budget = budget_figures(peak_memory, peak_cpu, container_limits, len(sampler.samples) if sampler else 0)
    criteria = budget_run_criteria(summary, budget) if budget_run else sc004_criteria(summary, container_limits)
    summary.update(budget=budget, budget_check=budget["measured"], criteria=criteria,
                   requirements=requirements(criteria), passed=all(criteria.values()))
    return summary


def _draw(path: Path, run: str) -> None:
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
    fig.suptitle(f"Load run, {run}: users, requests and the application's usage against the budget")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
