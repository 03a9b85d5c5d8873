"""The load verdict (load/_verdict.py) cannot be green while anything failed: the budget is judged only
on a run whose containers were not capped below it, strictly ("less than 2GB RAM and 2 CPU cores"),
on the summed real peak; the SC-004 run is judged at the chart's own limits; a run that wrote no
summary fails its requirement; and the one merged summary passes only when both runs did."""

from __future__ import annotations

import sys

import pytest

from harness.contract import BUDGET_CPU_CORES, BUDGET_MEMORY_BYTES, LOAD_P95_MS, LOAD_SIGNUP_P95_MS
from harness.core.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "load"))  # load/ is Locust's folder; its modules import each other so
from _resources import docker_limits, limits_sum  # noqa: E402
from _verdict import (  # noqa: E402
    LIFTED_SET_VALUES,
    SC004_CRITERIA,
    SC010_CRITERIA,
    budget_figures,
    budget_run_criteria,
    chart_default_limits,
    figures_line,
    limits_lifted,
    merge,
    sc004_criteria,
    verdict,
)

GiB, MiB = 2**30, 2**20
DEFAULTS = {"backend": {"cpu_cores": 0.5, "memory_bytes": 384 * MiB},
            "frontend": {"cpu_cores": 0.2, "memory_bytes": 320 * MiB}}


def limits(cpu: float | None, memory: int | None, n: int = 2) -> dict[str, dict]:
    return {f"{c}-{i}/{c}": {"component": c, "cpu_cores": cpu, "memory_bytes": memory}
            for c in ("backend", "frontend") for i in range(n)}


def chart_limits() -> dict[str, dict]:
    return {f"{c}-{i}/{c}": {"component": c, **DEFAULTS[c]} for c in ("backend", "frontend") for i in range(2)}


def figures(**over) -> dict:
    s = {"users": 100, "requests": 5000, "failures": 0, "signed_in_requests": 4800, "signed_in_p95_ms": 300.0,
         "p95_threshold_ms": LOAD_P95_MS, "signup_requests": 200, "signup_p95_ms": 2000.0,
         "signup_p95_threshold_ms": LOAD_SIGNUP_P95_MS, "restarts": 0, "oom_kills": 0}
    s.update(over)
    return s


def run_summary(criteria: dict, budget: dict | None = None, **over) -> dict:
    return {**figures(**over), "criteria": criteria, "sampled_from": "kubelet", "duration_s": 60.0, "rps": 40.0,
            "p50_ms": 50.0, "p95_ms": 400.0, "p99_ms": 900.0, "peak_memory_bytes": 700 * MiB, "peak_cpu_cores": 1.2,
            "containers": [], "container_limits": {}, "budget": budget or budget_figures(900 * MiB, 1.4, limits(2.0, 2 * GiB), 30)}


@pytest.mark.guards("SC-010")
def test_the_budget_run_lifts_every_limit_to_the_whole_budget_and_keeps_the_requests():
    assert LIFTED_SET_VALUES == {"backend.resources.limits.cpu": "2", "backend.resources.limits.memory": "2048Mi",
                                 "frontend.resources.limits.cpu": "2", "frontend.resources.limits.memory": "2048Mi"}
    assert not any(".requests." in key for key in LIFTED_SET_VALUES)


@pytest.mark.guards("SC-010")
def test_limits_count_as_lifted_only_when_no_container_is_capped_below_the_budget():
    assert limits_lifted(limits(BUDGET_CPU_CORES, BUDGET_MEMORY_BYTES))
    assert limits_lifted(limits(None, None))  # no limit at all caps nothing either
    assert not limits_lifted(chart_limits())
    one_capped = {**limits(2.0, 2 * GiB), "backend-0/backend": {"component": "backend", "cpu_cores": 1.999,
                                                                 "memory_bytes": 2 * GiB}}
    assert not limits_lifted(one_capped)
    assert not limits_lifted(limits(2.0, 2 * GiB - 1))
    assert not limits_lifted({})  # nothing sampled is nothing measured


@pytest.mark.guards("SC-010")
def test_the_budget_is_judged_strictly_on_the_summed_peak_and_only_when_lifted():
    lifted = limits(2.0, 2 * GiB)
    assert budget_figures(900 * MiB, 1.4, lifted, 30)["within"] is True
    # "less than": a peak at the budget is not within it, in memory or in CPU
    assert budget_figures(BUDGET_MEMORY_BYTES, 1.4, lifted, 30)["within"] is False
    assert budget_figures(900 * MiB, BUDGET_CPU_CORES, lifted, 30)["within"] is False
    over = budget_figures(900 * MiB, 2.3, lifted, 30)
    assert over["within"] is False and "NOT below" in over["measured"]
    # Under the chart's limits the peaks are capped by construction: not judged at all.
    capped = budget_figures(900 * MiB, 1.4, chart_limits(), 30)
    assert capped["within"] is None and capped["limits_lifted"] is False
    assert capped["measured"].startswith("not judged in this run") and "backend 0.5 cores / 384 MiB" in capped["measured"]
    unsampled = budget_figures(0, 0.0, lifted, 0)
    assert unsampled["within"] is None and unsampled["peak_memory_bytes"] is None
    assert {"limits_lifted", "peak_memory_bytes", "peak_cpu_cores", "memory_budget_bytes", "cpu_budget_cores",
            "within"} <= capped.keys()
    assert (capped["memory_budget_bytes"], capped["cpu_budget_cores"]) == (BUDGET_MEMORY_BYTES, BUDGET_CPU_CORES)


@pytest.mark.guards("SC-010")
def test_the_budget_run_fails_when_a_limit_capped_it_or_the_load_was_not_served():
    good = budget_run_criteria(figures(), budget_figures(900 * MiB, 1.4, limits(2.0, 2 * GiB), 30))
    assert set(good) == set(SC010_CRITERIA) and all(good.values())
    capped = budget_run_criteria(figures(), budget_figures(900 * MiB, 1.4, chart_limits(), 30))
    assert not capped["budget_limits_lifted"] and not capped["memory_below_budget"] and not capped["cpu_below_budget"]
    over = budget_run_criteria(figures(), budget_figures(2100 * MiB, 1.4, limits(2.0, 2 * GiB), 30))
    assert not over["memory_below_budget"] and over["cpu_below_budget"]
    measured = budget_figures(900 * MiB, 1.4, limits(2.0, 2 * GiB), 30)
    for broken, criterion in ((figures(failures=3), "budget_run_zero_failures"),
                              (figures(users=60), "budget_run_users_reached"),
                              (figures(oom_kills=1), "budget_run_no_restarts_or_oom_kills"),
                              (figures(restarts=2), "budget_run_no_restarts_or_oom_kills")):
        assert budget_run_criteria(broken, measured)[criterion] is False, criterion


@pytest.mark.guards("SC-004")
def test_the_sc004_run_fails_on_any_failed_request_restart_oom_missing_user_or_other_limits():
    ok = sc004_criteria(figures(), chart_limits(), DEFAULTS)
    assert set(ok) == set(SC004_CRITERIA) and all(ok.values())
    for broken, criterion in ((figures(failures=1), "zero_failures"), (figures(users=99), "users_reached"),
                              (figures(restarts=1), "no_restarts"), (figures(oom_kills=1), "no_oom_kills"),
                              (figures(restarts=None), "no_restarts"),  # unmeasured is no pass
                              (figures(signed_in_p95_ms=LOAD_P95_MS), "p95_below_threshold"),
                              (figures(signup_p95_ms=LOAD_SIGNUP_P95_MS), "signup_p95_below_threshold"),
                              (figures(requests=0), "zero_failures")):
        assert sc004_criteria(broken, chart_limits(), DEFAULTS)[criterion] is False, criterion
    assert not sc004_criteria(figures(), limits(2.0, 2 * GiB), DEFAULTS)["limits_are_chart_defaults"]
    assert not sc004_criteria(figures(), {}, DEFAULTS)["limits_are_chart_defaults"]


@pytest.mark.guards("SC-004")
def test_the_chart_defaults_are_read_from_values_yaml():
    assert chart_default_limits() == DEFAULTS  # the figures test_chart_policy's budget arithmetic holds too


@pytest.mark.guards("SC-004", "SC-010")
def test_one_merged_summary_passes_only_when_both_runs_did():
    sc004 = run_summary({name: True for name in SC004_CRITERIA})
    budget = run_summary({name: True for name in SC010_CRITERIA})
    merged = merge(sc004, budget)
    assert merged["passed"] is True and set(merged["criteria"]) == {*SC004_CRITERIA, *SC010_CRITERIA}
    assert {rid: r["passed"] for rid, r in merged["requirements"].items()} == {"SC-004": True, "SC-010": True}
    assert merged["budget"]["within"] is True and merged["budget"]["run"]["criteria"] == budget["criteria"]
    assert merged["budget_check"] == merged["budget"]["measured"]
    assert "PASS" in verdict(merged) and "budget: measured with the limits lifted" in figures_line(merged)

    over = merge(sc004, run_summary({**budget["criteria"], "cpu_below_budget": False}))
    assert over["passed"] is False and over["requirements"]["SC-004"]["passed"] is True
    assert over["requirements"]["SC-010"]["passed"] is False and "cpu_below_budget" in verdict(over)

    no_budget_run = merge(sc004, None)
    assert no_budget_run["passed"] is False and no_budget_run["budget"]["within"] is None
    assert not any(no_budget_run["criteria"][name] for name in SC010_CRITERIA)
    no_sc004_run = merge(None, budget)
    assert no_sc004_run["passed"] is False and no_sc004_run["requirements"]["SC-004"]["passed"] is False
    failing_sc004 = merge(run_summary({**sc004["criteria"], "zero_failures": False}, failures=2), budget)
    assert failing_sc004["passed"] is False and failing_sc004["requirements"]["SC-010"]["passed"] is True


@pytest.mark.guards("SC-010")
def test_docker_limits_are_read_as_the_engine_applies_them():
    assert docker_limits({"NanoCpus": 500_000_000, "Memory": 384 * MiB}) == {"cpu_cores": 0.5,
                                                                           "memory_bytes": 384 * MiB}
    assert docker_limits({"NanoCpus": 0, "CpuQuota": 150_000, "CpuPeriod": 100_000, "Memory": 0}) == {
        "cpu_cores": 1.5, "memory_bytes": None}
    assert docker_limits({"NanoCpus": 0, "CpuQuota": -1, "Memory": 0}) == {"cpu_cores": None, "memory_bytes": None}
    assert limits_sum(chart_limits()) == {"cpu_cores": pytest.approx(1.4), "memory_bytes": 2 * (384 + 320) * MiB}
    assert limits_sum(limits(None, 2 * GiB)) is None


def test_an_empty_run_is_failed_for_what_it_is_not_for_latency():
    """A run that made no request measured nothing: the verdict says so (and how to get a target)
    rather than listing p95 and the budget among the failures."""
    criteria = sc004_criteria({"users": 0, "requests": 0, "failures": 0, "signed_in_requests": 0, "signup_requests": 0,
                               "restarts": 0, "oom_kills": 0}, {})
    said = verdict({"requests": 0, "criteria": criteria, "passed": False})
    assert said.startswith("FAIL (not one request was made") and "make up" in said
    assert "p95" not in said
