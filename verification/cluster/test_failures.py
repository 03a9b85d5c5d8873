"""Installs that go wrong, on the real cluster, and what the chart and ``make diagnose`` make of them:
requests no node can satisfy (EC-1), the database down at install (EC-4), an image the cluster does
not have in the chart's own Deployment (EC-5), a backend that crash-loops on a bad credential (EC-3).

Each test has a release and a namespace of its own; the diagnosis is the command a person runs
(``make diagnose`` is ``python -m harness.diagnose``), run here as a separate process against the
same kubeconfig and context, and judged on its output.
"""

from __future__ import annotations

import time

import pytest

from harness import contract
from harness.core.names import random_suffix
from harness.core.wait import wait_for
from harness.deploy import conditions, postgres, workloads
from harness.deploy.release import diagnosis_text
from harness.providers import image_load_command
from verification.cluster.failing import NOWHERE, finding_lines, make_diagnose, node_allocatable


@pytest.mark.requirement("EC-1")
def test_requests_larger_than_any_node_stay_pending_and_diagnose_names_the_request_to_lower(
        failing_release, cluster, record_property):
    allocatable, _, _ = node_allocatable(cluster)
    too_much = f"{int(allocatable) + 8}"  # whole CPUs more than the largest node has
    release = failing_release("todo-too-big", database=NOWHERE, values={"backend": {"resources": {
        "requests": {"cpu": too_much}, "limits": {"cpu": too_much}}}})
    selector = release.component_selector("backend")

    def unschedulable() -> bool:
        pods = release.cluster.core.list_namespaced_pod(release.namespace, label_selector=selector).items
        return bool(pods) and all(p.status.phase == "Pending" and any(
            c.type == "PodScheduled" and c.status == "False" and "Insufficient cpu" in (c.message or "")
            for c in p.status.conditions or []) for p in pods)

    wait_for(unschedulable, what="the backend pods to be Pending with 'Insufficient cpu'", timeout=90, interval=2,
             describe=lambda: workloads.pod_states(release.cluster.core, release.namespace, selector))
    report = make_diagnose(release)
    record_property("evidence", "make diagnose: " + finding_lines(report, "insufficient-resources"))
    assert f"requests {too_much} cpu" in report, report
    assert (f"helm upgrade {release.name} chart/todo-chatbot -n {release.namespace} --reuse-values "
            f"--set backend.resources.requests.cpu=") in report, report


@pytest.mark.requirement("EC-4", "FR-014", "FR-015")
def test_database_down_at_install_pods_live_but_not_ready_then_ready_without_a_restart(
        failing_release, cluster, record_property, record_figure):
    release = failing_release("todo-db-down", values={"backend": {"replicaCount": 1}}, database_down=True)
    core, ns = cluster.core, release.namespace
    selector = release.component_selector("backend")
    service = release.service("backend").metadata.name

    def started_but_unready():
        pods = [p for p in core.list_namespaced_pod(ns, label_selector=selector).items
                if p.metadata.deletion_timestamp is None]
        if len(pods) != 1 or pods[0].status.phase != "Running":
            return None
        status = pods[0].status.container_statuses[0]
        return pods[0] if status.started and not status.ready else None

    pod = wait_for(started_but_unready, what="the backend to start while the database is down", timeout=120,
                   interval=1, describe=lambda: workloads.pod_states(core, ns, selector))
    # Several liveness periods with the database down: the kubelet must leave the container alone.
    probe = pod.spec.containers[0].liveness_probe
    time.sleep((probe.period_seconds or 10) * ((probe.failure_threshold or 3) + 1))
    pod = core.read_namespaced_pod(pod.metadata.name, ns)
    status = pod.status.container_statuses[0]
    assert not status.ready and status.restart_count == 0, workloads.pod_states(core, ns, selector)
    assert pod.status.pod_ip not in workloads.ready_endpoint_ips(core, ns, service), "a not-Ready pod got traffic"
    report = make_diagnose(release)
    assert "[readiness-probe-failing]" in report and "PostgreSQL" in report, report

    postgres.scale_in_cluster(cluster.apps, core, ns, 1)
    back = time.monotonic()
    conditions.wait_pods_ready(core, ns, selector, timeout=120, expected=1)
    record_figure("database back → backend Ready", time.monotonic() - back, "s")
    pod = core.read_namespaced_pod(pod.metadata.name, ns)
    assert pod.status.container_statuses[0].restart_count == 0, "the backend was restarted instead of recovering"
    wait_for(lambda: pod.status.pod_ip in workloads.ready_endpoint_ips(core, ns, service),
             what="the Ready backend to be the Service's endpoint", timeout=30, interval=0.5)
    record_property("evidence", f"database down: {pod.metadata.name} Running, not Ready, 0 restarts over "
                                f"{(probe.period_seconds or 10) * ((probe.failure_threshold or 3) + 1)} s, no "
                                "endpoint; database back: Ready, same container, endpoint listed; "
                                "make diagnose: " + finding_lines(report, "[readiness-probe-failing]"))


@pytest.mark.requirement("EC-5")
def test_the_charts_deployment_with_an_image_the_cluster_lacks_is_diagnosed_with_the_load_command(
        failing_release, cluster, record_property):
    tag = f"not-loaded-{random_suffix(6)}"
    release = failing_release("todo-no-image", database=NOWHERE, values={"backend": {"image": {"tag": tag}}})
    selector = release.component_selector("backend")
    waiting = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"}

    def cannot_pull() -> bool:
        pods = release.cluster.core.list_namespaced_pod(release.namespace, label_selector=selector).items
        return bool(pods) and all(any(s.state.waiting and s.state.waiting.reason in waiting
                                      for s in p.status.container_statuses or []) for p in pods)

    wait_for(cannot_pull, what=f"the backend pods to wait on their image (tag {tag})", timeout=120, interval=2,
             describe=lambda: workloads.pod_states(release.cluster.core, release.namespace, selector))
    report = make_diagnose(release)
    image = f"{contract.BACKEND_IMAGE}:{tag}"
    record_property("evidence", f"{cluster.provider.describe()}: " + finding_lines(report, "image-not-loaded"))
    assert "image-not-loaded" in report and image in report, report
    command = image_load_command(image, cluster.env)
    if command is not None:  # kind, Minikube, the local cluster: the exact command
        assert command in report, f"the fix does not give '{command}':\n{report}"
    else:  # Docker Desktop: the cluster uses the engine's images, so the fix is building them there
        assert "make images" in report, report


@pytest.mark.requirement("EC-3")
def test_a_crash_looping_backend_is_diagnosed_with_the_applications_own_error_line(failing_release, cluster,
                                                                                  record_property):
    """A JWT_SECRET too short to be safe, in a Secret made by hand (the chart's own check is bypassed by
    ``secrets.existingSecret``): the backend exits at start-up and the kubelet backs off. ``make
    diagnose`` — and the diagnosis a failing cluster test attaches to the report, the same text — must
    quote the backend's own error line, not only the back-off, and say which key of which Secret to fix."""
    secret = "weak-credentials"
    release = failing_release("todo-crashloop", database=NOWHERE, values={
        "secrets": {"existingSecret": secret}, "backend": {"replicaCount": 1}, "frontend": {"replicaCount": 1}})
    release.cluster.core.create_namespaced_secret(release.namespace, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret},
        "stringData": {"DATABASE_URL": NOWHERE.url, "JWT_SECRET": "too-short"}})
    selector = release.component_selector("backend")

    def crash_looping() -> bool:
        pods = release.cluster.core.list_namespaced_pod(release.namespace, label_selector=selector).items
        return bool(pods) and all(any(s.state.waiting and s.state.waiting.reason == "CrashLoopBackOff"
                                      for s in p.status.container_statuses or []) for p in pods)

    wait_for(crash_looping, what="the backend to crash-loop on its short JWT_SECRET", timeout=120, interval=2,
             describe=lambda: workloads.pod_states(release.cluster.core, release.namespace, selector))
    report = make_diagnose(release)
    attached = diagnosis_text(cluster, [release.namespace])
    own_line = "configuration error: JWT_SECRET"
    record_property("evidence", "make diagnose: " + finding_lines(report, "[config-error]"))
    assert "[config-error]" in report and own_line in report, report
    assert f"key JWT_SECRET of Secret {secret}" in report, report
    assert own_line in attached and "CrashLoopBackOff" in attached, attached
