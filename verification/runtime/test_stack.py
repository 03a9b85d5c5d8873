"""The chart's pods, as rendered, run together: Ready, reachable, end to end, quiet logs, secrets only.

One stack for the module (2 backend pods, 1 frontend pod, PostgreSQL); the tests only read
or add data, so they can share it. The last test reads the logs of everything before it.
"""

from __future__ import annotations

import time

import httpx
import pytest

from harness import contract
from harness.testkit import journey
from harness.testkit.logcheck import error_lines


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


@pytest.mark.requirement("US1-2", "FR-013", "FR-014", "FR-015", "SC-003")
def test_every_pod_becomes_ready_and_stays_live_for_several_probe_periods(stack, record_property):
    pods = stack.pods()
    assert {p.component for p in pods} == {"backend", "frontend"}
    assert len(stack.pods("backend")) == 2 and len(stack.pods("frontend")) == 1
    record_property("evidence", f"runtime: all {len(pods)} pods Ready {stack.seconds_to_ready:.1f} s after start "
                                "(PostgreSQL start included)")
    # Several liveness periods: every container must collect three passing liveness results
    # (and stay Ready, without a restart) while we watch.
    period = max(c.spec.probes["liveness"].period for p in pods for c in p.containers)
    deadline = time.monotonic() + 3 * period + 10
    while time.monotonic() < deadline:
        assert all(p.ready for p in pods), "a pod left Ready:\n" + stack.runtime.diagnose()
        counts = [sum(1 for r in c.runner.history if r.kind == "liveness" and r.ok) for p in pods for c in p.containers]
        if min(counts) >= 3:
            break
        time.sleep(1)
    for pod in pods:
        for c in pod.containers:
            failures = [str(r) for r in c.runner.history if not r.ok and r.kind != "startup"]
            assert c.restart_count == 0, f"{pod.name}/{c.spec.name} restarted"
            assert not failures, f"{pod.name}/{c.spec.name} failed probes: {failures}"
            assert sum(1 for r in c.runner.history if r.kind == "liveness" and r.ok) >= 3
    memory = stack.idle_memory()
    record_property("evidence", "runtime idle memory: " + ", ".join(f"{k} {_mib(v)}" for k, v in memory.items()))
    for pod in pods:
        for c in pod.containers:
            used = memory[f"{pod.name}/{c.spec.name}"]
            assert used < 0.8 * c.spec.mem_limit, (
                f"{pod.name} uses {_mib(used)} at idle, over 80% of its limit {_mib(c.spec.mem_limit)}")


@pytest.mark.requirement("FR-008", "FR-013")
def test_containers_run_with_the_pod_templates_security_context_and_limits(stack):
    for pod in stack.pods():
        for c in pod.containers:
            c.container.reload()
            config, host = c.container.attrs["Config"], c.container.attrs["HostConfig"]
            assert config["User"] == f"{contract.APP_UID}:{contract.APP_GID}", config["User"]
            assert host["ReadonlyRootfs"] is True
            assert host["Memory"] == c.spec.mem_limit and host["Memory"] > 0
            assert host["NanoCpus"] == c.spec.nano_cpus and host["NanoCpus"] > 0
            assert "ALL" in (host["CapDrop"] or [])
            writable = contract.BACKEND_WRITABLE_PATHS if pod.component == "backend" else contract.FRONTEND_WRITABLE_PATHS
            assert set(writable) <= set(host["Tmpfs"] or {}), host["Tmpfs"]
            # Published ports are bound to loopback only.
            pod.sandbox.reload()
            for bindings in (pod.sandbox.attrs["HostConfig"]["PortBindings"] or {}).values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings)


@pytest.mark.requirement("US1-2", "US2-4")
def test_login_page_loads_through_the_published_frontend_port(stack):
    response = httpx.get(stack.ui_url + "/login", timeout=30, follow_redirects=True)
    assert response.status_code == 200, response.text[:300]
    assert "text/html" in response.headers.get("content-type", "")
    assert any(word in response.text.lower() for word in ("log in", "login", "sign in")), response.text[:500]


@pytest.mark.requirement("US1-3", "FR-011")
def test_user_journey_through_the_frontend_register_chat_add_and_list(stack, record_property):
    started = time.monotonic()
    user = journey.register_and_login(stack.ui_url)
    answer = journey.chat(user, "add buy oat milk")
    listed = journey.tasks(user)
    titles = [t["title"].lower() for t in listed]
    assert any("oat milk" in t for t in titles), f"chat answer {answer}; tasks {listed}"
    # The frontend reached the backend through the Service name in its ConfigMap.
    backend_url = stack.objects.configmaps[stack.deployment("frontend")]["BACKEND_URL"]
    assert backend_url == f"http://{stack.deployment('backend')}:{contract.BACKEND_PORT}"
    record_property("evidence", f"register → chat 'add …' → list through the frontend in "
                                f"{time.monotonic() - started:.1f} s")


@pytest.mark.requirement("US3-4", "FR-020", "FR-021")
def test_every_sensitive_variable_in_the_running_containers_came_from_the_secret(stack):
    secret_values = {}
    for data in stack.objects.secrets.values():
        secret_values.update(data)
    configmap_values = {v for data in stack.objects.configmaps.values() for v in data.values()}
    seen_sensitive = set()
    for pod in stack.pods():
        for c in pod.containers:
            running = pod.env(c.spec.name)  # what Docker reports for the live container
            sources = {v.name: v.source for v in c.spec.env}
            for name, value in running.items():
                if name not in sources:
                    continue  # from the image (PATH, ...), not from the pod template
                if contract.is_sensitive(name):
                    seen_sensitive.add(name)
                    assert sources[name].startswith("secret:"), f"{pod.name}: {name} comes from {sources[name]}"
                    secret_name, key = sources[name].removeprefix("secret:").split("/")
                    assert value == stack.objects.secrets[secret_name][key]
                    assert value not in configmap_values, f"{name}'s value also sits in a ConfigMap"
                else:
                    assert sources[name].startswith(("configmap:", "field:", "literal")), sources[name]
            # Non-sensitive settings arrive from the ConfigMap (FR-020).
            assert any(s.startswith("configmap:") for s in sources.values()), sources
    assert {"DATABASE_URL", "JWT_SECRET"} <= seen_sensitive


@pytest.mark.requirement("US1-4")
def test_no_error_line_in_any_container_log_after_start_up(stack):
    problems = {}
    for pod in stack.pods():
        for c in pod.containers:
            if bad := error_lines(pod.logs(c.spec.name)):
                problems[f"{pod.name}/{c.spec.name}"] = bad[:10]
    db_log = stack.postgres.container.logs().decode(errors="replace")
    # "starting up" answers the waits of start-up itself; anything else counts.
    db_errors = [line for line in db_log.splitlines() if (" ERROR: " in line or " FATAL: " in line)
                 and "the database system is starting up" not in line]
    if db_errors:
        problems["postgres"] = db_errors[:10]
    assert not problems, f"error lines: {problems}"
