"""Zero downtime and self-healing under a signed-in user's traffic: rolling restarts, a deleted pod,
a frozen container that only its liveness probe can detect, evictions the PodDisruptionBudgets
must refuse, and a drain of the node.

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

from harness.core.names import random_suffix
from harness.core.wait import wait_for
from harness.deploy import conditions, disruption, workloads
from harness.deploy.faults import FrozenContainer
from harness.deploy.release import install_release, remove_release
from harness.testkit.traffic import InClusterTraffic

# A label of this module's release on every pod (the chart's podLabels): `kubectl drain
# --pod-selector` then picks this release's pods only, never those of a release of the same name in
# another namespace of a shared cluster.
DRAIN_LABEL = "todo-chatbot.verification/drain"
# kubectl drain's own --timeout: long enough for its eviction retries (every 5 s) to meet the budgets
# a few times; on one node the drain cannot finish however long it is given.
DRAIN_TIMEOUT_S = 20

# How long after the frozen pod left the Service's endpoints a request *sent* then may still fail
# (the client's "failed_at" are send times): kube-proxy's reprogramming (1-4 s here), with room for
# a busy 2-core machine. Requests sent to the frozen process before then hang until the client's
# 10 s timeout and count as failed, but were sent before this window closed; a request sent later
# that fails is a real failure.
IN_FLIGHT_S = 15


@pytest.fixture(scope="module")
def release(cluster, images, tmp_path_factory):
    """The module's release, as the tier's (``conftest.py``), with the drain label on its pods."""
    mark = random_suffix(10)
    installed = install_release(cluster, images, tmp_path_factory.mktemp("release"), values={
        "backend": {"podLabels": {DRAIN_LABEL: mark}}, "frontend": {"podLabels": {DRAIN_LABEL: mark}}})
    installed.drain_selector = f"{DRAIN_LABEL}={mark}"
    try:
        yield installed
    finally:
        remove_release(installed, background=True)


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
        conditions.wait_pods_ready(release.cluster.core, release.namespace, release.component_selector("backend"),
                            timeout=120, expected=replicas)
        tally = traffic.finish(after=time.time())
    names = {p.metadata.name for p in release.pods("backend")}
    assert victim.metadata.name not in names and len(names) == replicas
    record_property("evidence", f"backend pod {victim.metadata.name} deleted and replaced: {tally.summary()}")
    assert tally.failed == 0, f"while a backend pod was replaced: {tally.summary()}"


def _liveness_deadline(pod, container: str) -> float:
    """From SIGSTOP to a new container: failed probes, then the grace period (the liveness probe's own,
    else the pod's: a stopped process ignores SIGTERM until SIGKILL), then a start-up; with room for a
    busy 2-core machine."""
    spec = next(c for c in pod.spec.containers if c.name == container)
    probe = spec.liveness_probe  # None: no probe, so nothing will restart it; the wait says so
    detect = ((probe and probe.period_seconds) or 10) * ((probe and probe.failure_threshold) or 3) + (
        (probe and probe.timeout_seconds) or 1)
    grace = (probe and probe.termination_grace_period_seconds) or pod.spec.termination_grace_period_seconds or 30
    return detect + grace + 90


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
        if left_endpoints_at is None and victim.status.pod_ip not in workloads.ready_endpoint_ips(core, ns, service):
            left_endpoints_at = time.time()
        pod = core.read_namespaced_pod(victim.metadata.name, ns)
        return next(s.restart_count for s in pod.status.container_statuses if s.name == container) > restarts_before

    with InClusterTraffic(release, release.frontend_cluster_url()) as traffic:
        with FrozenContainer(release.cluster, victim, container, release.images.backend) as frozen:
            wait_for(restarted, what=f"the kubelet to restart the frozen {frozen.target}",
                     timeout=_liveness_deadline(victim, container), interval=1,
                     describe=lambda: workloads.pod_states(core, ns, release.component_selector(component)))
            restart_s = time.time() - frozen.frozen_at
        conditions.wait_pods_ready(core, ns, release.component_selector(component), timeout=120, expected=len(pods))
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


@pytest.mark.requirement("SC-006", "EC-2")
def test_the_disruption_budgets_refuse_to_evict_the_last_available_pod_until_its_replacement_is_ready(
        release, record_figure, record_property):
    """The Eviction API, as ``kubectl drain`` uses it: one pod of each component is evicted, and at
    once the other one, the last available pod of its component, must be refused (HTTP 429, the
    budget named) — again and again, until the first one's replacement is Ready; only then is it
    accepted. The signed-in user sees no failure throughout."""
    core, ns = release.cluster.core, release.namespace
    pods = {c: [p.metadata.name for p in release.pods(c)] for c in ("backend", "frontend")}
    assert all(len(names) == 2 for names in pods.values()), f"needs 2 replicas of each component: {pods}"
    refused: dict[str, list[disruption.Eviction]] = {c: [] for c in pods}
    accepted: dict[str, tuple[disruption.Eviction, str, float]] = {}  # component -> (eviction, replacement, Ready at)

    with InClusterTraffic(release, release.frontend_cluster_url(), name="traffic-evict") as traffic:
        for component, (first, _) in pods.items():
            first_eviction = disruption.evict(core, ns, first)
            assert first_eviction.accepted, f"evicting {first} with two available {component} pods: {first_eviction}"

        def every_last_pod_evicted() -> bool:
            for component, (first, last) in pods.items():
                if component in accepted:
                    continue
                eviction = disruption.evict(core, ns, last)
                if not eviction.accepted:
                    refused[component].append(eviction)
                    continue
                # When did the replacement become Ready (its condition's own time, not when we looked)?
                ready = sorted((disruption.ready_since(p), p.metadata.name) for p in release.pods(component)
                               if p.metadata.name not in (first, last) and disruption.ready_since(p) is not None)
                accepted[component] = (eviction, ready[0][1], ready[0][0]) if ready else (eviction, "", 0.0)
            return len(accepted) == len(pods)

        wait_for(every_last_pod_evicted, what="the last pod of each component to be evicted once its budget allows",
                 timeout=180, interval=1, describe=lambda: workloads.pod_states(core, ns, release.selector))
        for component in pods:
            conditions.wait_pods_ready(core, ns, release.component_selector(component), timeout=120, expected=2)
            release.wait_settled(component)
        tally = traffic.finish(after=time.time())

    for component, (first, last) in pods.items():
        eviction, replacement, ready_at = accepted[component]
        assert refused[component], f"{component}: evicting {last}, its last available pod, was accepted at once"
        assert all(disruption.BUDGET_REFUSAL in e.message for e in refused[component]), refused[component][:3]
        # Accepted only once a replacement was Ready (the condition's time has a 1 s resolution).
        assert replacement, f"{component}: {last} was evicted while no replacement of {first} was Ready"
        assert ready_at <= eviction.at + 1, (f"{component}: {last} evicted at {eviction.at:.0f}, its replacement "
                                             f"{replacement} Ready only at {ready_at:.0f}")
        window = eviction.at - refused[component][0].at
        record_figure(f"{component}: last pod's eviction refused until its replacement was Ready", window, "s")
    record_property("evidence", "; ".join(
        f"{c}: {len(refused[c])} refusals ('{refused[c][0].message}'), accepted once {accepted[c][1]} was Ready"
        for c in pods) + f"; traffic {tally.summary()}")
    assert tally.failed == 0, f"while pods were evicted: {tally.summary()}"


@pytest.mark.requirement("SC-006", "EC-2")
def test_a_drain_of_the_node_keeps_the_app_answering_as_far_as_one_node_allows(release, record_figure,
                                                                             record_property):
    """``kubectl drain`` of the node the release runs on, limited to the release's pods (the node is
    shared: other namespaces' pods stay; PostgreSQL stands for the external database and stays too).
    On one node the drain cannot finish while the budgets hold: one pod of each component is evicted,
    its replacement stays Pending (the node is cordoned), the last one is refused and keeps serving.
    kubectl gives up at its timeout; the node is uncordoned, the replacements start, and the user
    saw no failure. With more nodes the replacements would start elsewhere and the drain finish:
    DEPLOYMENT.md, "Disruptions", says what one node can and cannot promise."""
    core, ns = release.cluster.core, release.namespace
    node = release.pods("backend")[0].spec.node_name
    before = {p.metadata.name for p in release.pods()}
    with InClusterTraffic(release, release.frontend_cluster_url(), name="traffic-drain") as traffic:
        answered_before = traffic.tally().ok
        try:
            result = disruption.drain(release.cluster.target, node, release.drain_selector, timeout_s=DRAIN_TIMEOUT_S)
            pending = [p for p in release.pods() if p.metadata.name not in before]
            unschedulable = [p.metadata.name for p in pending if any(
                c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
                for c in p.status.conditions or [])]
            components = {p.metadata.name: p.metadata.labels.get("app.kubernetes.io/component") for p in release.pods()}
            answered_during = traffic.tally().ok - answered_before
        finally:
            disruption.uncordon(core, node)
        uncordoned = time.monotonic()
        for component in ("backend", "frontend"):
            conditions.wait_pods_ready(core, ns, release.component_selector(component), timeout=120, expected=2)
            release.wait_settled(component)
        back = time.monotonic() - uncordoned
        tally = traffic.finish(after=time.time())

    stayed = sorted(components.get(name, "?") for name in before - set(result.evicted))
    record_figure("kubectl drain of the only node: held by the budgets for", result.seconds, "s")
    record_figure("node uncordoned -> every replacement Ready", back, "s")
    record_property("evidence", f"kubectl drain {node} (exit {result.returncode}): evicted {result.evicted}, "
                                f"refused {len(result.budget_refusals)}x ('{(result.budget_refusals or ['-'])[0]}'), "
                                f"replacements Pending and unschedulable: {unschedulable}; {answered_during} requests "
                                f"answered while the drain was held; traffic {tally.summary()}")
    assert result.returncode != 0, f"the drain finished on one node: the budgets did not hold:\n{result.output}"
    assert len(result.evicted) == 2 and stayed == ["backend", "frontend"], (
        f"one pod of each component should go and the other stay (stayed: {stayed}):\n{result.output}")
    assert result.budget_refusals, f"kubectl drain never met a disruption budget:\n{result.output}"
    assert len(unschedulable) == 2, f"the replacements did not wait for a schedulable node: {pending}"
    assert answered_during > 10, f"the app answered {answered_during} requests during the drain"
    assert tally.failed == 0, f"during the drain: {tally.summary()}"
