"""The load scenario, bounded, as two runs on one install (SC-004, SC-010).

1. **SC-004**: 100 users for 60 s at the chart's default limits: every request answered right
   (``load/todo_user.py`` judges each answer), p95 under the thresholds, no restart, no OOM kill.
2. **SC-010**: the same scenario for 60 s with every container's limit raised to the whole budget
   (``load/_verdict.LIFTED_SET_VALUES``; a limit caps usage, so a run under limits cannot show the
   budget): the summed real peak of memory and CPU of every application container, sampled during
   the run, strictly below 2 GiB and 2 cores.

On the cluster when one is selected (the chart installed once in a namespace of its own, then
``helm upgrade`` with the limits lifted; pods sampled through the kubelet), else on Docker (a fresh
stack at the chart's values, then one rendered with the limits lifted). The same files as
``make load`` (``load/``, ``load/locust.conf``, ``harness/deploy/load_target.py``), run by Locust in a
subprocess so its exit code (the gate's verdict) is part of what is checked; every test here fails
when the gate fails, naming the criteria and the figures. The acceptance run (``make load``) is the
longer version (3 minutes, then 70 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.contract import BUDGET_CPU_CORES, BUDGET_MEMORY_BYTES, LOAD_USERS
from harness.core.paths import REPO_ROOT
from harness.deploy import load_target
from harness.podrt.translate import LABEL_PREFIX

sys.path.insert(0, str(REPO_ROOT / "load"))  # the gate's judging (load/ is Locust's folder, not a package)
from _verdict import SC004_CRITERIA, SC010_CRITERIA, chart_default_limits, figures_line  # noqa: E402

RUN_TIME = "60s"  # SC-004: all 100 users within 10 s (load/locust.conf's rate), the rest at full load
BUDGET_RUN_TIME = "60s"  # SC-010: the same, limits lifted
SUMMARY_KEYS = {"users", "duration_s", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms",
                "restarts", "oom_kills", "peak_memory_bytes", "peak_cpu_cores", "passed", "criteria", "requirements",
                "cpu_ms_per_request", "cpu_ms_per_request_signed_in", "sampled_from", "limits", "container_limits",
                "budget", "budget_check", "peak_memory_by_pod", "throttling"}
BUDGET_KEYS = {"limits_lifted", "peak_memory_bytes", "peak_cpu_cores", "memory_budget_bytes", "cpu_budget_cores",
               "within", "measured", "run"}


def _sc004_run(url: str, out: Path, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()):
    return load_target.run_locust(load_target.locust_argv(url, out, run_time=RUN_TIME, extra=extra), env=env,
                                  timeout=load_target.seconds(RUN_TIME) + 180, capture=True)


def _on_cluster(request: pytest.FixtureRequest, out: Path) -> tuple:
    from harness.deploy.release import install_release, remove_release

    cluster, images = request.getfixturevalue("cluster"), request.getfixturevalue("images")
    release = install_release(cluster, images, out, prefix=load_target.LOAD_PREFIX)
    try:
        with release.frontend_access() as url:
            sc004 = _sc004_run(url, out / "sc004", env=load_target.sampler_env(release))
        budget = load_target.budget_run_on_release(release, out / "budget", BUDGET_RUN_TIME, say=print, capture=True)
    finally:
        remove_release(release)
    return sc004, budget


def _on_docker(request: pytest.FixtureRequest, out: Path) -> tuple:
    from harness.stack import LocalStack

    request.getfixturevalue("kube_shim")  # every pod on Docker needs the shim image first
    request.getfixturevalue("app_images")
    with LocalStack() as stack:
        labels = f"{LABEL_PREFIX}/run={stack.runtime.run_id},{LABEL_PREFIX}/role=container"
        sc004 = _sc004_run(stack.ui_url, out / "sc004", extra=("--stack-label", labels))
    budget = load_target.budget_run_on_docker(out / "budget", BUDGET_RUN_TIME, say=print, capture=True)
    return sc004, budget


@pytest.fixture(scope="module")
def load_run(request: pytest.FixtureRequest, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("load")
    on_cluster = bool(request.config.getoption("cluster", default=None))
    sc004, budget = (_on_cluster if on_cluster else _on_docker)(request, out)
    merged = load_target.merge_runs(out / "sc004", out / "budget", out)
    return {"summary": merged, "sc004": sc004, "budget": budget, "out": out,
            "sc004_summary": load_target.read_summary(out / "sc004"),
            "budget_summary": load_target.read_summary(out / "budget"),
            "sampled_from": "kubelet" if on_cluster else "docker"}


def _gate_lines(result) -> str:
    lines = [line for line in (result.stderr or "").splitlines() if line.startswith(("load gate:", "load figures:"))]
    return "\n".join(lines) or (result.stderr or "")[-3000:]


def _figures(run: dict) -> str:
    """Both runs' gate lines (the criteria that failed, every figure), for a failure message."""
    return (f"SC-004 run (exit {run['sc004'].returncode}):\n{_gate_lines(run['sc004'])}\n"
            f"budget run (exit {run['budget'].returncode}):\n{_gate_lines(run['budget'])}\n"
            f"budget: {run['summary']['budget'].get('measured')}")


def _failed(criteria: dict, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if criteria.get(name) is not True]


def _assert_gate_passed(load_run: dict, run: str, rid: str, criteria: tuple[str, ...]) -> None:
    """The gate of one run (``sc004`` or ``budget``) exited 0, and every criterion deciding ``rid`` held."""
    summary = load_run[f"{run}_summary"]
    assert summary is not None, f"the {rid} run wrote no summary.json:\n{_figures(load_run)}"
    assert load_run[run].returncode == 0, f"the {rid} run's gate failed:\n{_figures(load_run)}"
    failed = _failed(summary["criteria"], criteria)
    assert not failed, f"{rid} criteria failed: {', '.join(failed)}\n{_figures(load_run)}"


# --- SC-004: 100 users at the chart's default limits ------------------------------------------------------
@pytest.mark.requirement("SC-004")
def test_the_sc004_gate_passed_every_criterion_at_the_chart_limits(load_run):
    _assert_gate_passed(load_run, "sc004", "SC-004", SC004_CRITERIA)


@pytest.mark.requirement("SC-004")
def test_100_users_reached_and_no_request_failed(load_run):
    """The figures themselves, not only the gate's booleans."""
    summary = load_run["summary"]
    assert summary["users"] >= LOAD_USERS, _figures(load_run)
    assert summary["requests"] > LOAD_USERS * 2, _figures(load_run)  # register and log in at least, each
    assert summary["failures"] == 0, f"{summary['failures']} failed: {summary.get('errors')}\n{_figures(load_run)}"
    assert summary["signed_in_p95_ms"] < summary["p95_threshold_ms"], _figures(load_run)
    assert summary["signup_p95_ms"] < summary["signup_p95_threshold_ms"], _figures(load_run)


@pytest.mark.requirement("SC-004")
def test_no_pod_restarted_or_was_oom_killed_at_the_chart_limits(load_run):
    summary = load_run["summary"]
    assert summary["restarts"] == 0 and summary["oom_kills"] == 0, _figures(load_run)
    defaults = chart_default_limits()
    wrong = {name: lim for name, lim in summary["container_limits"].items()
             if (lim["cpu_cores"], lim["memory_bytes"]) != (defaults[lim["component"]]["cpu_cores"],
                                                           defaults[lim["component"]]["memory_bytes"])}
    assert summary["container_limits"] and not wrong, f"not the chart's default limits {defaults}: {wrong}"


# --- SC-010: the summed real peak with the limits lifted -------------------------------------------------
@pytest.mark.requirement("SC-010")
def test_the_budget_gate_passed_every_criterion_with_the_limits_lifted(load_run):
    _assert_gate_passed(load_run, "budget", "SC-010", SC010_CRITERIA)


@pytest.mark.requirement("SC-010")
def test_summed_real_peak_is_strictly_below_2_gib_and_2_cores_with_no_container_capped(load_run):
    """The measurement itself: no container limited below the budget (as the live pods or containers
    had it), every application container sampled, and the summed peaks strictly below the budget."""
    budget = load_run["summary"]["budget"]
    run = budget["run"]
    capped = {name: lim for name, lim in (run["container_limits"] or {}).items()
              if (lim["cpu_cores"] is not None and lim["cpu_cores"] < BUDGET_CPU_CORES)
              or (lim["memory_bytes"] is not None and lim["memory_bytes"] < BUDGET_MEMORY_BYTES)}
    assert run["container_limits"] and not capped, f"capped below the budget, so nothing was measured: {capped}"
    assert budget["limits_lifted"] is True, budget["measured"]
    components = {lim["component"] for lim in run["container_limits"].values()}
    assert {"backend", "frontend"} <= components and set(run["containers"]) == set(run["container_limits"]), (
        f"sampled {run['containers']}, limits read for {sorted(run['container_limits'])}")
    assert budget["peak_memory_bytes"] < BUDGET_MEMORY_BYTES, (
        f"summed peak memory {budget['peak_memory_bytes'] / 2**20:.0f} MiB is not below "
        f"{BUDGET_MEMORY_BYTES / 2**20:.0f} MiB\n{_figures(load_run)}")
    assert budget["peak_cpu_cores"] < BUDGET_CPU_CORES, (
        f"summed peak CPU {budget['peak_cpu_cores']:.2f} cores is not below {BUDGET_CPU_CORES:g}\n{_figures(load_run)}")
    assert budget["within"] is True, budget["measured"]


# --- the one summary the sign-off reads ---------------------------------------------------------------
@pytest.mark.requirement("SC-004", "SC-010")
def test_the_merged_summary_passes_and_names_what_was_measured(load_run, record_property, record_figure):
    summary = load_run["summary"]
    assert SUMMARY_KEYS <= summary.keys(), f"summary.json lacks {sorted(SUMMARY_KEYS - summary.keys())}"
    assert BUDGET_KEYS <= summary["budget"].keys(), f"budget lacks {sorted(BUDGET_KEYS - summary['budget'].keys())}"
    assert summary["sampled_from"] == load_run["sampled_from"] == summary["budget"]["run"]["sampled_from"]
    assert (load_run["out"] / "sc004" / "timeline.png").stat().st_size > 0
    assert (load_run["out"] / "budget" / "timeline.png").stat().st_size > 0
    where = load_run["sampled_from"]
    record_property("load_figures", _figures(load_run))
    for name, key, unit in (("throughput", "rps", "req/s"), ("p95", "p95_ms", "ms"),
                            ("p95 signed-in", "signed_in_p95_ms", "ms"), ("p95 sign-up", "signup_p95_ms", "ms")):
        record_figure(f"load ({where}): {name}", summary[key], unit)
    budget = summary["budget"]
    if budget["peak_memory_bytes"] is not None:
        record_figure(f"load ({where}): peak memory, limits lifted", round(budget["peak_memory_bytes"] / 2**20), "MiB")
        record_figure(f"load ({where}): peak CPU, limits lifted", budget["peak_cpu_cores"], "cores")
    per_request = summary["cpu_ms_per_request"]
    for group, ms in per_request.items():
        record_figure(f"load ({where}): CPU per request, {group}", ms, "ms")
    for group, ms in summary["cpu_ms_per_request_signed_in"].items():
        record_figure(f"load ({where}): CPU per request once signed in, {group}", ms, "ms")
    for group, t in summary["throttling"].items():
        record_figure(f"load ({where}): CPU periods throttled, {group}", round(100 * t["throttled_share"], 1), "%")
    for pod, memory in summary["peak_memory_by_pod"].items():
        record_figure(f"load ({where}): peak memory, {pod}", round(memory / 2**20), "MiB")
    services = {name.rsplit("-", 1)[-1] for name in per_request if name != "total"}
    assert {"backend", "frontend"} <= services and per_request.get("total", 0) > 0, f"CPU per request: {per_request}"
    failed = [name for name, ok in summary["criteria"].items() if not ok]
    assert summary["passed"] is True and not failed, f"the load verdict failed: {', '.join(failed)}\n{_figures(load_run)}"
    assert {rid: r["passed"] for rid, r in summary["requirements"].items()} == {"SC-004": True, "SC-010": True}
    print(figures_line(summary))
