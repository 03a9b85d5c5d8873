"""The load scenario, bounded: 100 users for 60 s against a fresh install (SC-004, SC-010).

On the cluster when one is selected (the chart installed in a namespace of its own, pods sampled
through the kubelet), else on a fresh Docker stack. The same files as `make load` (``load/`` and
``load/locust.conf``), run by Locust in a subprocess so its exit code (the budget gate's verdict)
is part of what is checked; the criteria are then asserted one by one from ``summary.json`` so a
failure names which. The acceptance run (`make load`) is the longer, 3-minute version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.core.paths import REPO_ROOT
from harness.podrt.translate import LABEL_PREFIX

REPO = REPO_ROOT
USERS = 100
RUN_TIME_S = 60
SPAWN_RATE = 10  # as load/locust.conf: all 100 users within 10 s, the rest of the minute at full load
SUMMARY_KEYS = {"users", "duration_s", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms",
                "restarts", "oom_kills", "peak_memory_bytes", "peak_cpu_cores", "passed", "criteria",
                "cpu_ms_per_request", "cpu_ms_per_request_signed_in", "sampled_from", "limits", "budget_check", "peak_memory_by_pod",
                "throttling"}


def _locust(host: str, out, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "locust", "--config", str(REPO / "load" / "locust.conf"),
            "-f", str(REPO / "load"), "--host", host,
            "--users", str(USERS), "--spawn-rate", str(SPAWN_RATE), "--run-time", f"{RUN_TIME_S}s",
            "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--results-dir", str(out), *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIME_S + 120,
                          env={**os.environ, **(env or {})})


def _on_cluster(request: pytest.FixtureRequest, out) -> subprocess.CompletedProcess:
    from harness.deploy.load_target import LOAD_PREFIX, sampler_env
    from harness.deploy.release import install_release, remove_release

    cluster, images = request.getfixturevalue("cluster"), request.getfixturevalue("images")
    release = install_release(cluster, images, out, prefix=LOAD_PREFIX)
    try:
        with release.frontend_access() as url:
            return _locust(url, out, env=sampler_env(release))
    finally:
        remove_release(release)


def _on_docker(request: pytest.FixtureRequest, out) -> subprocess.CompletedProcess:
    from harness.stack import LocalStack

    request.getfixturevalue("kube_shim")  # every pod on Docker needs the shim image first
    request.getfixturevalue("app_images")
    with LocalStack() as stack:
        labels = f"{LABEL_PREFIX}/run={stack.runtime.run_id},{LABEL_PREFIX}/role=container"
        return _locust(stack.ui_url, out, "--stack-label", labels)


@pytest.fixture(scope="module")
def load_run(request: pytest.FixtureRequest, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("load")
    on_cluster = bool(request.config.getoption("cluster", default=None))
    result = (_on_cluster if on_cluster else _on_docker)(request, out)
    summary_file = out / "summary.json"
    assert summary_file.exists(), f"Locust wrote no summary.json (exit {result.returncode}):\n{result.stderr[-3000:]}"
    summary = json.loads(summary_file.read_text())
    return {"summary": summary, "returncode": result.returncode, "stderr": result.stderr, "out": out,
            "sampled_from": "kubelet" if on_cluster else "docker"}


def _figures(run: dict) -> str:
    lines = [line for line in run["stderr"].splitlines() if line.startswith(("load gate:", "load figures:"))]
    return "\n".join(lines) or run["stderr"][-2000:]


@pytest.mark.requirement("SC-004", "SC-010")
def test_summary_has_every_figure_and_a_chart(load_run, record_property, record_figure):
    summary = load_run["summary"]
    assert SUMMARY_KEYS <= summary.keys(), f"summary.json lacks {sorted(SUMMARY_KEYS - summary.keys())}"
    assert (load_run["out"] / "timeline.png").stat().st_size > 0
    assert summary["sampled_from"] == load_run["sampled_from"], _figures(load_run)
    per_request = summary["cpu_ms_per_request"]
    services = {name.rsplit("-", 1)[-1] for name in per_request if name != "total"}
    assert {"backend", "frontend"} <= services and per_request["total"] > 0, f"CPU per request: {per_request}"
    record_property("load_figures", _figures(load_run))
    where = load_run["sampled_from"]
    for name, key, unit in (("throughput", "rps", "req/s"), ("p95", "p95_ms", "ms"),
                            ("p95 signed-in", "signed_in_p95_ms", "ms"), ("p95 sign-up", "signup_p95_ms", "ms")):
        record_figure(f"load ({where}): {name}", summary[key], unit)
    for group, ms in per_request.items():
        record_figure(f"load ({where}): CPU per request, {group}", ms, "ms")
    # Every user signs up within the first 10 s of the minute: the signed-in window is measured too.
    signed_in = summary["cpu_ms_per_request_signed_in"]
    assert signed_in.get("total", 0) > 0, f"CPU per request once signed in: {signed_in}"
    for group, ms in signed_in.items():
        record_figure(f"load ({where}): CPU per request once signed in, {group}", ms, "ms")
    for group, t in summary["throttling"].items():
        record_figure(f"load ({where}): CPU periods throttled, {group}", round(100 * t["throttled_share"], 1), "%")
    for pod, memory in summary["peak_memory_by_pod"].items():
        record_figure(f"load ({where}): peak memory, {pod}", round(memory / 2**20), "MiB")


@pytest.mark.requirement("SC-004")
def test_100_users_reached_and_no_request_failed(load_run):
    summary = load_run["summary"]
    assert summary["users"] >= USERS, _figures(load_run)
    assert summary["requests"] > USERS * 2, _figures(load_run)  # register and log in at least, each
    assert summary["criteria"]["zero_failures"], _figures(load_run)
    assert summary["criteria"]["p95_below_threshold"], _figures(load_run)
    assert summary["criteria"]["signup_p95_below_threshold"], _figures(load_run)


@pytest.mark.requirement("SC-004")
def test_no_pod_restarted_or_was_oom_killed(load_run):
    summary = load_run["summary"]
    assert summary["restarts"] == 0 and summary["oom_kills"] == 0, _figures(load_run)


@pytest.mark.requirement("SC-010")
def test_peak_memory_and_cpu_within_the_budget(load_run):
    """Measured peaks on Docker; on a cluster whose pods all have limits, usage cannot exceed them,
    so the limits' sum is what is held to the budget (and the summary says so)."""
    summary = load_run["summary"]
    assert len(summary["containers"]) >= 3, f"sampled {summary['containers']}: expected every app container"
    if summary["limits"] is not None:
        assert summary["budget_check"].startswith("capped by limits by construction"), summary["budget_check"]
        assert summary["criteria"]["limits_within_budget"], _figures(load_run)
        assert summary["peak_memory_bytes"] > 0 and len(summary["peak_memory_by_pod"]) >= 3, _figures(load_run)
    else:
        assert summary["criteria"]["memory_within_budget"], _figures(load_run)
        assert summary["criteria"]["cpu_within_budget"], _figures(load_run)


@pytest.mark.requirement("SC-004", "SC-010")
def test_the_gate_exit_code_agrees_with_the_criteria(load_run):
    summary = load_run["summary"]
    assert summary["passed"] == all(summary["criteria"].values())
    assert load_run["returncode"] == (0 if summary["passed"] else 1), _figures(load_run)
