"""Zero downtime and self-healing under a signed-in user's traffic: rolling restarts, a deleted pod,
and a frozen container that only its liveness probe can detect.

The traffic is a user signed in to the frontend, from a pod inside the cluster (through the
Services' own load balancing): add a task, list the tasks (the new one must be in the list), chat
(the answer must not be empty), delete the task — so the frontend's proxy to the backend is on the
path while either Deployment rolls. A wrong status, a wrong body or no whole answer within 10 s is
a failure. The client runs until the test stops it, after the event under test is over; its final
tally, written after the stop, is the verdict (``InClusterTraffic.stop``), so a client that died
or stopped early cannot pass for one that saw no failure.
"""

from __future__ import annotations

import time

import pytest

from harness.core.wait import wait_for
from harness.deploy import k8s
from harness.deploy.faults import FrozenContainer
from harness.testkit.traffic import InClusterTraffic

# How long after the frozen pod left the Service's endpoints a request *sent* then may still fail
# (the client's "failed_at" are send times): kube-proxy's reprogramming (1-4 s here), with room for
# a busy 2-core machine. Requests sent to the frozen process before then hang until the client's
# 10 s timeout and count as failed, but were sent before this window closed; a request sent later
# that fails is a real failure.
IN_FLIGHT_S = 15


@pytest.mark.requirement("SC-006", "FR-016")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_rollout_restart_under_signed_in_traffic_fails_no_request(release, component, record_figure):
    with InClusterTraffic(release, release.frontend_cluster_url()) as traffic:
        seconds = release.restart(component)
        tally = traffic.finish(after=time.time())  # alive until after the old pods are gone
    record_figure(f"{component} rolling restart", seconds, "s")
    record_figure(f"requests during the {component} rolling restart", tally.total)
    assert tally.total > 50, f"too little traffic to judge: {tally.summary()}"
    assert tally.failed == 0, f"rollout restart of {component}: {tally.summary()}"


@pytest.mark.requirement("EC-2")
def test_deleted_pod_is_replaced_while_signed_in_traffic_continues(release, record_property):
    victim = release.pods("backend")[0]
    replicas = len(release.pods("backend"))
    with InClusterTraffic(release, release.frontend_cluster_url()) as traffic:
        release.cluster.core.delete_namespaced_pod(victim.metadata.name, release.namespace)
        k8s.wait_pods_ready(release.cluster.core, release.namespace, release.component_selector("backend"),
                            timeout=120, expected=replicas)
        tally = traffic.finish(after=time.time())
    names = {p.metadata.name for p in release.pods("backend")}
    assert victim.metadata.name not in names and len(names) == replicas
    record_property("evidence", f"backend pod {victim.metadata.name} deleted and replaced: {tally.summary()}")
    assert tally.failed == 0, f"while a backend pod was replaced: {tally.summary()}"


def _liveness_deadline(pod, container: str) -> float:
    """From SIGSTOP to a new container: failed probes, then the grace period (a stopped process
    ignores SIGTERM until SIGKILL), then a start-up; with room for a busy 2-core machine."""
    spec = next(c for c in pod.spec.containers if c.name == container)
    probe = spec.liveness_probe  # None: no probe, so nothing will restart it; the wait says so
    detect = ((probe and probe.period_seconds) or 10) * ((probe and probe.failure_threshold) or 3) + (
        (probe and probe.timeout_seconds) or 1)
    return detect + (pod.spec.termination_grace_period_seconds or 30) + 90


@pytest.mark.requirement("FR-014", "FR-015", "EC-2")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_a_frozen_container_fails_its_liveness_probe_and_is_restarted_while_the_other_replica_serves(
        release, component, record_property, record_figure):
    """SIGSTOP every process of one container of the component (it still exists, it answers
    nothing): the kubelet's liveness probe must find it, restart the container (restart count + a
    Killing event that names the liveness probe), readiness must take it out of the Service
    meanwhile, and the other replica must serve the signed-in user throughout. Both Deployments:
    the spec asks for liveness probes on both."""
    core, ns = release.cluster.core, release.namespace
    pods = release.pods(component)
    assert len(pods) >= 2, f"needs 2 {component} replicas to prove the Service keeps serving, found {len(pods)}"
    victim, container = pods[0], pods[0].spec.containers[0].name
    restarts_before = next(s.restart_count for s in victim.status.container_statuses if s.name == container)
    service = release.service(component).metadata.name
    left_endpoints_at = None

    def restarted() -> bool:
        nonlocal left_endpoints_at
        if left_endpoints_at is None and victim.status.pod_ip not in k8s.ready_endpoint_ips(core, ns, service):
            left_endpoints_at = time.time()
        pod = core.read_namespaced_pod(victim.metadata.name, ns)
        return next(s.restart_count for s in pod.status.container_statuses if s.name == container) > restarts_before

    with InClusterTraffic(release, release.frontend_cluster_url()) as traffic:
        with FrozenContainer(core, ns, victim, container, release.images.backend) as frozen:
            wait_for(restarted, what=f"the kubelet to restart the frozen {frozen.target}",
                     timeout=_liveness_deadline(victim, container), interval=1,
                     describe=lambda: k8s.pod_states(core, ns, release.component_selector(component)))
            restart_s = time.time() - frozen.frozen_at
        k8s.wait_pods_ready(core, ns, release.component_selector(component), timeout=120, expected=len(pods))
        back_at = time.time()
        tally = traffic.finish(after=back_at)
        timeline = traffic.timeline()

    events = [e for e in core.list_namespaced_event(ns).items
              if e.involved_object and e.involved_object.name == victim.metadata.name]
    unhealthy = [e.message for e in events if e.reason == "Unhealthy" and "Liveness probe failed" in (e.message or "")]
    killing = [e.message for e in events if e.reason == "Killing" and "liveness" in (e.message or "").lower()]
    assert unhealthy, f"no 'Liveness probe failed' event for {victim.metadata.name}: {[e.reason for e in events]}"
    assert killing, f"no Killing event naming the liveness probe for {victim.metadata.name}: {[e.message for e in events]}"
    assert left_endpoints_at is not None, f"the frozen pod never left the {component} Service's ready endpoints"

    # Until readiness takes the frozen pod out of the Service, about half the new connections reach
    # it and hang (the client gives up after 10 s): that window is what readiness probes bound.
    # After it, the other replica alone must serve every request until the restarted one is back.
    alone_from = left_endpoints_at + IN_FLIGHT_S
    served_alone = [ok for at, ok, _ in timeline if alone_from <= at <= back_at]
    late = [at for at in tally.failed_at if at > alone_from]
    record_figure(f"frozen {component} container → restarted by the kubelet", restart_s, "s")
    record_figure(f"frozen {component} → out of the Service's endpoints", left_endpoints_at - frozen.frozen_at, "s")
    record_property("evidence", f"SIGSTOP of {frozen.target} (pids {frozen.pids} on the node): '{unhealthy[-1]}', "
                                f"'{killing[-1]}'; traffic {tally.summary()}")
    assert len(served_alone) >= 2 and served_alone[-1] > served_alone[0], (
        f"no request succeeded while only the other replica was in the Service: {tally.summary()}")
    assert not late, (f"{len(late)} requests failed more than {IN_FLIGHT_S} s after the frozen pod left the "
                      f"Service: {tally.summary()}")
