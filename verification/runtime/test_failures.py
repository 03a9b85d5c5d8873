"""Failures the spec's edge cases name, on the rendered pods: each observed, then diagnosed."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from harness.core.wait import wait_for
from harness.kube import render
from harness.kube.manifests import EnvVar
from harness.podrt.runtime import Runtime
from harness.podrt.translate import RenderedObjects, deployment_named, replica_spec
from harness.testkit import journey, traffic


def _history(container, kind: str, ok: bool) -> int:
    return sum(1 for r in container.runner.history if r.kind == kind and r.ok is ok)


@pytest.mark.requirement("EC-4", "FR-014", "FR-015")
def test_database_down_at_start_up_live_but_not_ready_then_ready_without_a_restart(make_stack, record_property):
    stack = make_stack(apps=False, set_values={"backend.replicaCount": 1})
    stack.postgres.container.stop(timeout=10)
    [pod] = stack.runtime.run_deployment(stack.objects, stack.deployment("backend"), replicas=1)
    backend = pod.container()
    wait_for(lambda: _history(backend, "liveness", True) >= 1 and _history(backend, "readiness", False) >= 3,
             what="the backend to pass liveness while failing readiness (database down)", timeout=120,
             describe=pod.describe)
    assert not pod.ready
    assert backend.restart_count == 0
    assert stack.runtime.endpoints(stack.deployment("backend"))[8000] == [], "a not-ready pod got traffic"
    assert "Readiness probe failed" in " ".join(e.message for e in pod.events)

    stack.postgres.container.start()
    stack.postgres.wait_ready()
    back = time.monotonic()
    stack.runtime.wait_ready([pod], timeout=90)
    record_property("evidence", f"database back → backend Ready in {time.monotonic() - back:.1f} s, 0 restarts")
    assert backend.restart_count == 0, "the backend was restarted instead of recovering by itself"
    assert stack.runtime.endpoints(stack.deployment("backend"))[8000] == [f"{pod.ip}:8000"]


def _without(spec, component_container: int, name: str, value: str | None):
    container = spec.containers[component_container]
    env = [v for v in container.env if v.name != name]
    if value is not None:
        env.append(EnvVar(name, value, "literal"))
    spec.containers[component_container] = dataclasses.replace(container, env=env)
    return spec


TRACE = re.compile(r"^\s+at |Traceback \(most recent call last\)|^\s+File \"")

CASES = {
    "backend-without-JWT_SECRET": ("backend", "JWT_SECRET", None),
    "backend-with-malformed-DATABASE_URL": ("backend", "DATABASE_URL", "not-a-url"),
    "backend-with-short-JWT_SECRET": ("backend", "JWT_SECRET", "short"),
    "frontend-without-BACKEND_URL": ("frontend", "BACKEND_URL", None),
}


@pytest.fixture(scope="module")
def bare_stack(app_images):
    """Network, database and Services only: these tests start single pods themselves."""
    from harness.stack import ONE_FRONTEND, LocalStack

    local = LocalStack(set_values={**ONE_FRONTEND, "backend.replicaCount": 1})
    try:
        yield local.start(apps=False)
    finally:
        local.close()


@pytest.mark.requirement("EC-3", "US4-2")
@pytest.mark.parametrize("case", sorted(CASES))
def test_missing_or_malformed_variable_stops_the_container_with_a_one_line_message(bare_stack, case, request,
                                                                                   record_property):
    request.node.made_stacks = [bare_stack]
    component, name, value = CASES[case]
    spec = _without(replica_spec(bare_stack.objects, bare_stack.deployment(component)), 0, name, value)
    pod = bare_stack.runtime.run_pod(spec)
    try:
        container = pod.container()
        # Exit, immediate restart, exit again: the kubelet's CrashLoopBackOff.
        wait_for(lambda: container.waiting_reason == "CrashLoopBackOff", what=f"the {component} to crash-loop ({case})",
                 timeout=90, describe=pod.describe)
        assert container.last_termination.exit_code != 0
        lines = [line for line in pod.logs().splitlines() if line.strip()]
        message_lines = [line for line in lines if name in line]
        assert message_lines, f"no log line names {name}: {lines[-10:]}"
        # One line says what is wrong (Docker keeps one log across restarts, hence the set), and
        # no stack trace follows it. A framework banner printed before the check may precede it.
        assert len(set(message_lines)) == 1, f"expected a one-line message naming {name}: {message_lines}"
        record_property("evidence", f"{case}: exit {container.last_termination.exit_code}, '{message_lines[0]}'")
        assert not [line for line in lines if TRACE.search(line)], f"a stack trace, not a message: {lines[-15:]}"
        # The diagnosis names the variable and where it comes from.
        findings = bare_stack.runtime.findings([pod])
        assert any(f.rule == "config-error" and name in f.cause for f in findings), \
            bare_stack.runtime.diagnose([pod])
        assert not pod.ready
    finally:
        bare_stack.runtime.delete_pod(pod, grace=1)


@pytest.mark.requirement("EC-5", "US4-2")
def test_image_that_is_not_built_is_diagnosed_as_not_loaded_with_make_images():
    """Needs no application image: the point is the one that is missing."""
    manifests = render.render(values_files=[render.TEST_SECRETS_VALUES],
                              set_values={"backend.image.tag": "0.0.0-not-built", "backend.replicaCount": 1})
    objects = RenderedObjects.from_manifests(render.installed(manifests))
    with Runtime() as runtime:
        pod = runtime.run_pod(replica_spec(objects, deployment_named(objects, "backend")))
        container = pod.container()
        assert container.waiting_reason == "ImagePullBackOff"
        time.sleep(6)  # the kubelet stand-in retries; it must stay waiting, never pull
        assert container.waiting_reason == "ImagePullBackOff" and container.container is None
        findings = runtime.findings([pod])
        [finding] = [f for f in findings if f.rule == "image-not-loaded"]
        assert "todo-backend:0.0.0-not-built" in finding.cause
        assert "make images" in finding.fix
        report = runtime.diagnose([pod])
        assert "not found locally" in report and "make images" in report
        assert not pod.ready


@pytest.mark.requirement("EC-2", "SC-006")
def test_a_killed_backend_container_under_steady_traffic_the_other_replica_keeps_serving(make_stack, record_property):
    stack = make_stack()  # 2 backend replicas
    backends = stack.pods("backend")
    assert len(backends) == 2
    user = journey.register_and_login(stack.ui_url, prefix="kill")
    url = user.tasks_url
    victim = backends[0]
    with traffic.SteadyClient(url, headers=user.headers, max_seconds=120) as client:
        time.sleep(5)
        killed_at = time.monotonic()
        victim.kill()
        time.sleep(8)
        after_kill = time.monotonic()
        wait_for(lambda: victim.ready and victim.container().restart_count == 1,
                 what="the killed container to be restarted and Ready again", timeout=90, describe=victim.describe)
        recovered = time.monotonic()
        time.sleep(3)
    record_property("evidence", f"kill one of 2 backend replicas under traffic: {client.summary()}; "
                                f"restarted and Ready {recovered - killed_at:.1f} s after the kill")
    assert client.successes_after(killed_at) > 20, client.summary()
    # Only requests that were in flight on the killed container may fail (at most one per client thread).
    in_flight = client.failures_between(killed_at - 1, killed_at + 2)
    assert len(client.failures()) == len(in_flight) <= client.workers, client.summary()
    assert not client.failures_between(killed_at + 2, after_kill), "the surviving replica did not carry the traffic"


@pytest.mark.requirement("US4-2", "FR-013")
def test_a_memory_limit_too_tight_for_the_backend_is_diagnosed_as_oom_killed(bare_stack, request):
    request.node.made_stacks = [bare_stack]
    spec = replica_spec(bare_stack.objects, bare_stack.deployment("backend"))
    spec.containers[0] = dataclasses.replace(spec.containers[0], mem_limit=40 * 2**20, mem_reservation=None)
    pod = bare_stack.runtime.run_pod(spec)
    try:
        container = pod.container()
        wait_for(lambda: container.last_termination is not None and container.last_termination.oom_killed,
                 what="the backend to be OOM-killed under a 40 MiB limit", timeout=90, describe=pod.describe)
        assert container.last_termination.reason == "OOMKilled"
        assert not pod.ready
        findings = bare_stack.runtime.findings([pod])
        [oom] = [f for f in findings if f.rule == "oom-killed"]
        assert "memory limit (40Mi)" in oom.cause and "resources.limits.memory" in oom.fix
        assert "OOMKilled True" in pod.describe() or "OOMKilled" in bare_stack.runtime.diagnose([pod])
    finally:
        bare_stack.runtime.delete_pod(pod, grace=1)
