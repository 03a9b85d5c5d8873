"""harness.deploy.conditions: each named wait condition answers from a fake API client, and a wait that
times out says what it waited for and the state it saw last (issue 29)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest
from kubernetes.client.exceptions import ApiException

from harness.core.wait import WaitTimeout, wait_for
from harness.deploy import conditions, workloads
from harness.deploy.conditions import AllReady, NamespaceDeleted, PodsGone, PodsReady, Routable, RolledOut

pytestmark = pytest.mark.harness


def pod(name: str, ready: bool = True, deleting: bool = False, ip: str | None = None):
    return NS(metadata=NS(name=name, deletion_timestamp="2026-12-07T00:00:00Z" if deleting else None),
              status=NS(phase="Running", pod_ip=ip, container_statuses=[],
                        conditions=[NS(type="Ready", status="True" if ready else "False")]))


class FakeCore:
    """The few CoreV1Api calls the conditions make, answering from plain lists."""

    def __init__(self, pods=(), selector=None, namespaces=()):
        self.pods, self.selector, self.namespaces = list(pods), selector or {}, set(namespaces)

    def list_namespaced_pod(self, namespace, label_selector=""):
        return NS(items=self.pods)

    def read_namespaced_service(self, name, namespace):
        return NS(spec=NS(selector=self.selector))

    def read_namespace(self, name):
        if name not in self.namespaces:
            raise ApiException(status=404, reason="Not Found")
        return NS(metadata=NS(name=name))


def test_pods_ready_needs_every_live_pod_ready_and_the_expected_count():
    assert PodsReady(FakeCore([pod("a"), pod("b")]), "ns")()
    assert not PodsReady(FakeCore([pod("a"), pod("b", ready=False)]), "ns")()
    assert not PodsReady(FakeCore([]), "ns")(), "no pods is not 'every pod Ready'"
    assert not PodsReady(FakeCore([pod("a")]), "ns", expected=2)()
    # A pod being deleted counts for neither the readiness nor the number.
    assert PodsReady(FakeCore([pod("a"), pod("old", ready=False, deleting=True)]), "ns", expected=1)()


def test_a_timed_out_wait_names_the_condition_and_the_pods_it_saw():
    condition = PodsReady(FakeCore([pod("backend-1", ready=False)]), "ns", "app=backend")
    with pytest.raises(WaitTimeout) as raised:
        wait_for(condition, timeout=0.05, interval=0.01)
    message = str(raised.value)
    assert "every pod in ns matching app=backend to be Ready" in message
    assert "pods: backend-1 Running" in message


def test_an_explicit_what_still_wins_and_a_nameless_wait_is_refused():
    with pytest.raises(WaitTimeout, match="waiting for the backend; last: False"):
        wait_for(PodsReady(FakeCore([]), "ns"), what="the backend", timeout=0.02, interval=0.01)
    with pytest.raises(TypeError, match="what="):
        wait_for(lambda: True, timeout=1)


def deployment(replicas=2, generation=2, observed=2, updated=2, current=2, available=2):
    return NS(spec=NS(replicas=replicas), metadata=NS(generation=generation),
              status=NS(observed_generation=observed, updated_replicas=updated, replicas=current,
                        available_replicas=available))


@pytest.mark.parametrize("state, done", [
    ({}, True),
    ({"observed": 1}, False),  # the controller has not seen the new spec yet
    ({"updated": 1}, False),
    ({"current": 3}, False),  # an old pod is still counted
    ({"available": 1}, False),
])
def test_rolled_out_needs_the_new_spec_observed_and_every_replica_updated_and_available(state, done):
    apps = NS(read_namespaced_deployment=lambda name, namespace: deployment(**state))
    condition = RolledOut(apps, "ns", "backend")
    assert bool(condition()) is done
    assert condition.what == "deployment ns/backend to finish its rollout"
    assert "replicas=" in condition.describe()


def test_routable_needs_the_ready_endpoints_to_be_exactly_the_ready_pods(monkeypatch):
    core = FakeCore([pod("a", ip="10.0.0.1"), pod("b", ip="10.0.0.2"), pod("c", ready=False, ip="10.0.0.3")],
                    selector={"app": "backend"})
    endpoints = {"10.0.0.1", "10.0.0.2"}
    monkeypatch.setattr(workloads, "ready_endpoint_ips", lambda core, namespace, service: set(endpoints))
    condition = Routable(core, "ns", "backend")
    assert condition()
    endpoints.discard("10.0.0.2")  # a Ready pod not yet listed: traffic would miss it
    assert not condition()
    endpoints.update({"10.0.0.2", "10.0.0.3"})  # a not-Ready pod listed: traffic would reach it
    assert not condition()
    monkeypatch.setattr(workloads, "ready_endpoint_ips", lambda core, namespace, service: set())
    assert not Routable(FakeCore([], selector={"app": "backend"}), "ns", "backend")(), "no pods is not routable"


def test_namespace_deleted_only_once_reading_it_answers_404():
    core = FakeCore(namespaces={"todo-verify-abc"})
    condition = NamespaceDeleted(core, "todo-verify-abc")
    assert not condition()
    core.namespaces.clear()
    assert condition()
    core.read_namespace = lambda name: (_ for _ in ()).throw(ApiException(status=500))
    assert not condition(), "an API error is no proof the namespace is gone"


def test_pods_gone_counts_every_pod_or_only_the_terminating_ones():
    core = FakeCore([pod("new"), pod("old", deleting=True)])
    assert not PodsGone(core, "ns", "app=x", what="x").__call__()
    assert not PodsGone(core, "ns", "app=x", what="x", terminating_only=True)()
    assert PodsGone(core, "ns", "app=x", what="x", terminating_only=True).describe() == "terminating: ['old']"
    core.pods = [pod("new")]
    assert PodsGone(core, "ns", "app=x", what="x", terminating_only=True)()
    assert not PodsGone(core, "ns", "app=x", what="x")()
    core.pods = []
    assert PodsGone(core, "ns", "app=x", what="x")()


def test_all_ready_and_its_description():
    items = [NS(ready=True), NS(ready=False)]
    condition = AllReady(items, what="pods a, b to be Ready", describe=lambda: "b: probe failing")
    assert not condition()
    items[1].ready = True
    assert condition()
    assert condition.describe() == "b: probe failing"


def test_the_timed_waits_return_the_seconds_taken():
    assert 0 <= conditions.wait_pods_ready(FakeCore([pod("a")]), "ns", timeout=1) < 1
    apps = NS(read_namespaced_deployment=lambda name, namespace: deployment())
    assert 0 <= conditions.wait_rolled_out(apps, "ns", "backend", timeout=1) < 1
