"""What a load run proves, and the one ``summary.json`` the sign-off reads (SC-004, SC-010).

Two runs, two questions, because a limit caps usage: a container limited to 500m can never be seen
using more, so a run under the chart's limits says nothing about the budget (its peaks are below the
limits' sum by construction), and a run without the limits says nothing about whether the chart's
own limits serve 100 users. So:

* **the SC-004 run**, at the chart's default limits (``load/locust.conf``: 100 users, 3 minutes in
  ``make load``, 60 s in the load tier): at least 100 users, zero failed requests, the p95 criteria,
  no restart and no OOM kill, and the limits really were the chart's defaults;
* **the budget run** (``--budget-run``), the same scenario with the limits lifted (``LIFTED_SET_VALUES``:
  every container may use the whole budget, 2 cores and 2 GiB; the requests stay as they are): the
  summed real peak of every application container, sampled during the run, must be *strictly less*
  than the budget (SC-010: "less than 2GB RAM and 2 CPU cores total"), with no container capped below
  the budget (read from the live pods or containers, not assumed), 100 users reached, no request
  failed and no restart or OOM kill (a peak measured while the load was not served is no peak).

:func:`merge` folds the two summaries into one: the SC-004 run's figures at the top, both sets of
criteria in ``criteria``, the budget run's measurement in ``budget``, and which criteria decide
which requirement in ``requirements``. Pure functions (no Locust, which patches the standard
library): ``load/budget_gate.py`` and ``harness/deploy/load_target.py`` call them, and
``verification/unit`` tests them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.contract import BUDGET_CPU_CORES, BUDGET_MEMORY_BYTES, LOAD_USERS
from harness.core.paths import CHART_DIR
from harness.kube.quantities import parse_cpu, parse_memory

COMPONENTS = ("backend", "frontend")

# The chart values of the budget run: no container capped below the whole budget. Only the limits:
# the requests (what the scheduler reserves) stay the chart's.
LIFTED_SET_VALUES: dict[str, str] = {
    f"{component}.resources.limits.{resource}": value
    for component in COMPONENTS
    for resource, value in (("cpu", f"{BUDGET_CPU_CORES:g}"), ("memory", f"{BUDGET_MEMORY_BYTES // 2**20}Mi"))
}

# The criteria of each requirement, by name, in the order they are reported.
SC004_CRITERIA = ("users_reached", "zero_failures", "p95_below_threshold", "signup_p95_below_threshold",
                  "no_restarts", "no_oom_kills", "limits_are_chart_defaults")
SC010_CRITERIA = ("budget_limits_lifted", "budget_run_users_reached", "budget_run_zero_failures",
                  "budget_run_no_restarts_or_oom_kills", "memory_below_budget", "cpu_below_budget")
REQUIREMENTS = {"SC-004": SC004_CRITERIA, "SC-010": SC010_CRITERIA}


# --- limits ------------------------------------------------------------------------------------------
def component_of(group: str) -> str:
    """A Deployment's name (``todo-todo-chatbot-backend``) → its component (``backend``)."""
    return group.rsplit("-", 1)[-1]


def chart_default_limits(chart_dir: Path = CHART_DIR) -> dict[str, dict[str, float | int]]:
    """Each component's CPU (cores) and memory (bytes) limit in the chart's values.yaml."""
    values = yaml.safe_load((chart_dir / "values.yaml").read_text())
    return {c: {"cpu_cores": parse_cpu(values[c]["resources"]["limits"]["cpu"]),
                "memory_bytes": parse_memory(values[c]["resources"]["limits"]["memory"])} for c in COMPONENTS}


def limits_lifted(container_limits: dict[str, dict]) -> bool:
    """True when there is a container and none is capped below the budget in CPU or memory (no limit, or
    a limit at least the whole budget): then nothing but the application itself bounds the summed usage."""
    return bool(container_limits) and all(
        (lim.get("cpu_cores") is None or lim["cpu_cores"] >= BUDGET_CPU_CORES)
        and (lim.get("memory_bytes") is None or lim["memory_bytes"] >= BUDGET_MEMORY_BYTES)
        for lim in container_limits.values())


def limits_are(container_limits: dict[str, dict], expected: dict[str, dict]) -> bool:
    """True when every container has exactly its component's limits in ``expected`` (and there is one)."""
    return bool(container_limits) and all(
        lim.get("component") in expected
        and lim.get("cpu_cores") is not None and abs(lim["cpu_cores"] - expected[lim["component"]]["cpu_cores"]) < 1e-6
        and lim.get("memory_bytes") == expected[lim["component"]]["memory_bytes"]
        for lim in container_limits.values())


def _describe_limits(container_limits: dict[str, dict]) -> str:
    def one(lim: dict) -> str:
        cpu = "no CPU limit" if lim.get("cpu_cores") is None else f"{lim['cpu_cores']:g} cores"
        memory = "no memory limit" if lim.get("memory_bytes") is None else f"{lim['memory_bytes'] / 2**20:.0f} MiB"
        return f"{cpu} / {memory}"

    by_component: dict[str, set[str]] = {}
    for lim in container_limits.values():
        by_component.setdefault(lim.get("component", "?"), set()).add(one(lim))
    return ", ".join(f"{c} {' | '.join(sorted(v))}" for c, v in sorted(by_component.items())) or "no container"


# --- the budget ------------------------------------------------------------------------------------------
def budget_figures(peak_memory: int | None, peak_cpu: float | None, container_limits: dict[str, dict],
                   samples: int) -> dict[str, Any]:
    """The ``budget`` object of a summary: what was measured and, when it can say anything, whether it
    was strictly within the budget (``within`` is None when the containers were capped below the
    budget, or nothing was sampled: then the peaks prove nothing about SC-010)."""
    lifted = limits_lifted(container_limits)
    measured = samples > 0 and bool(peak_memory) and peak_cpu is not None
    within = (peak_memory < BUDGET_MEMORY_BYTES and peak_cpu < BUDGET_CPU_CORES) if lifted and measured else None
    if not measured:
        how = "not measured: no sample of the application's containers was taken"
    elif lifted:
        how = (f"measured with the limits lifted ({_describe_limits(container_limits)}): the summed real peak of "
               f"{len(container_limits)} containers, {peak_memory / 2**20:.0f} MiB and {peak_cpu:.2f} cores, is "
               f"{'strictly below' if within else 'NOT below'} the budget of {BUDGET_MEMORY_BYTES / 2**20:.0f} MiB "
               f"and {BUDGET_CPU_CORES:g} cores")
    else:
        how = (f"not judged in this run: its containers were capped by limits ({_describe_limits(container_limits)}), "
               f"so their peaks ({peak_memory / 2**20:.0f} MiB, {peak_cpu:.2f} cores) cannot show the budget; the "
               f"budget run with the limits lifted measures it")
    return {"limits_lifted": lifted, "peak_memory_bytes": peak_memory if measured else None,
            "peak_cpu_cores": peak_cpu if measured else None, "memory_budget_bytes": BUDGET_MEMORY_BYTES,
            "cpu_budget_cores": BUDGET_CPU_CORES, "within": within, "samples": samples, "measured": how}


# --- criteria ------------------------------------------------------------------------------------------
def sc004_criteria(s: dict[str, Any], container_limits: dict[str, dict],
                   default_limits: dict[str, dict] | None = None) -> dict[str, bool]:
    """The SC-004 run's criteria from its figures (``s``: the summary's keys)."""
    return {
        "users_reached": (s.get("users") or 0) >= LOAD_USERS,
        "zero_failures": s.get("failures") == 0 and (s.get("requests") or 0) > 0,
        "p95_below_threshold": (s.get("signed_in_requests") or 0) > 0
        and s["signed_in_p95_ms"] < s["p95_threshold_ms"],
        "signup_p95_below_threshold": (s.get("signup_requests") or 0) > 0
        and s["signup_p95_ms"] < s["signup_p95_threshold_ms"],
        "no_restarts": s.get("restarts") == 0,
        "no_oom_kills": s.get("oom_kills") == 0,
        "limits_are_chart_defaults": limits_are(container_limits,
                                                default_limits if default_limits is not None
                                                else chart_default_limits()),
    }


def budget_run_criteria(s: dict[str, Any], budget: dict[str, Any]) -> dict[str, bool]:
    """The budget run's criteria (SC-010): lifted limits, the load served, and the peaks strictly below."""
    measured = budget.get("within") is not None
    return {
        "budget_limits_lifted": bool(budget.get("limits_lifted")),
        "budget_run_users_reached": (s.get("users") or 0) >= LOAD_USERS,
        "budget_run_zero_failures": s.get("failures") == 0 and (s.get("requests") or 0) > 0,
        "budget_run_no_restarts_or_oom_kills": s.get("restarts") == 0 and s.get("oom_kills") == 0,
        "memory_below_budget": measured and budget["peak_memory_bytes"] < budget["memory_budget_bytes"],
        "cpu_below_budget": measured and budget["peak_cpu_cores"] < budget["cpu_budget_cores"],
    }


def requirements(criteria: dict[str, bool]) -> dict[str, dict[str, Any]]:
    """For each requirement whose criteria were judged: its criteria by name and whether all held."""
    return {rid: {"criteria": list(names), "passed": all(criteria.get(n, False) for n in names)}
            for rid, names in REQUIREMENTS.items() if any(n in criteria for n in names)}


# --- one summary of both runs ----------------------------------------------------------------------------
RUN_FIGURES = ("users", "duration_s", "requests", "failures", "rps", "p95_ms", "signed_in_p95_ms", "signup_p95_ms",
               "restarts", "oom_kills", "containers", "container_limits", "peak_memory_by_pod", "cpu_ms_per_request",
               "cpu_ms_per_request_signed_in", "throttling", "sampled_from", "criteria")


def merge(sc004: dict[str, Any] | None, budget_run: dict[str, Any] | None) -> dict[str, Any]:
    """One summary from the SC-004 run's and the budget run's (either may be missing: a run that wrote no
    summary fails its criteria). The SC-004 run's figures stay at the top level, as a single run's do;
    ``budget`` is the budget run's measurement, with that run's own figures under ``budget.run``."""
    merged: dict[str, Any] = dict(sc004) if sc004 else {
        "users": 0, "requests": 0, "failures": None, "restarts": None, "oom_kills": None,
        "sampled_from": (budget_run or {}).get("sampled_from"), "error": "the SC-004 run wrote no summary"}
    criteria = {name: bool((sc004 or {}).get("criteria", {}).get(name, False)) for name in SC004_CRITERIA}
    criteria.update({name: bool((budget_run or {}).get("criteria", {}).get(name, False)) for name in SC010_CRITERIA})
    if budget_run:
        budget = {**budget_run["budget"], "run": {key: budget_run.get(key) for key in RUN_FIGURES}}
    else:
        budget = {**budget_figures(None, None, {}, 0), "measured": "not measured: the budget run (limits lifted) "
                  "did not run or wrote no summary"}
    merged.update(criteria=criteria, budget=budget, budget_check=budget["measured"],
                  requirements=requirements(criteria), passed=all(criteria.values()))
    return merged


# --- one line each, for people ------------------------------------------------------------------------
def verdict(summary: dict[str, Any]) -> str:
    """``PASS``, or ``FAIL (the criteria that failed)``, with each requirement's outcome."""
    failed = [name for name, ok in summary.get("criteria", {}).items() if not ok]
    per_requirement = ", ".join(f"{rid} {'PASS' if r['passed'] else 'FAIL'}"
                                for rid, r in (summary.get("requirements") or {}).items())
    if not summary.get("requests") and failed:  # an empty run: no latency, no budget was measured
        head = "FAIL (not one request was made, so nothing was measured: is the application up? `make up`, or --host)"
    else:
        head = "PASS" if summary.get("passed") else f"FAIL ({', '.join(failed) or 'no criterion judged'})"
    return f"{head} [{per_requirement}]" if per_requirement else head


def _per_service(per_request: dict | None) -> str:
    return ", ".join(f"{name} {ms} ms" for name, ms in (per_request or {}).items()) or "unmeasured"


def _mib(value: int | None) -> str:
    return "unmeasured" if value is None else f"{value / 2**20:.0f} MiB"


def figures_line(summary: dict[str, Any]) -> str:
    """A run's figures in one line (the SC-004 run's, then the budget's)."""
    cpu = summary.get("peak_cpu_cores")
    throttling = summary.get("throttling") or {}
    budget = summary.get("budget") or {}
    return (f"[{summary.get('sampled_from', 'docker')}] {summary.get('run', '')}: "
            f"{summary['users']} users, {summary['duration_s']} s, {summary['requests']} requests "
            f"({summary['rps']} req/s), {summary['failures']} failed; p50/p95/p99 {summary['p50_ms']:.0f}/"
            f"{summary['p95_ms']:.0f}/{summary['p99_ms']:.0f} ms; p95 signed-in {summary['signed_in_p95_ms']:.0f} ms "
            f"(threshold {summary['p95_threshold_ms']:.0f}), sign-up {summary['signup_p95_ms']:.0f} ms "
            f"(threshold {summary['signup_p95_threshold_ms']:.0f}); "
            f"restarts {summary['restarts']}, OOM kills {summary['oom_kills']}; peak memory "
            f"{_mib(summary.get('peak_memory_bytes'))}, peak CPU {'unmeasured' if cpu is None else f'{cpu:.2f} cores'} "
            f"({len(summary.get('containers') or [])} containers, limits "
            f"{_describe_limits(summary.get('container_limits') or {})}); CPU per request "
            + _per_service(summary.get("cpu_ms_per_request"))
            + ", once every user had signed up " + _per_service(summary.get("cpu_ms_per_request_signed_in"))
            + "; CPU throttled " + (", ".join(f"{name} {t['throttled_periods']}/{t['periods']} periods "
                                              f"({t['throttled_share']:.1%}, {t['throttled_s']} s)"
                                              for name, t in throttling.items()) or "unmeasured")
            + f"; budget: {budget.get('measured', 'unmeasured')}")
