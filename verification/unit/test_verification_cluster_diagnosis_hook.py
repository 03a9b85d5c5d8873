"""The cluster session plugin imports without a cluster, and attaches a diagnosis to a failing test."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness import diagnose as dx
from verification.unit.test_diagnose_rules import event, make_pod


class Items:
    def __init__(self, items):
        self.items = items


class FakeCore:
    def list_namespaced_pod(self, ns, label_selector=""):
        return Items([make_pod(waiting="ErrImageNeverPull", message="image not present with pull policy of Never")])

    def list_namespaced_event(self, ns):
        return Items([event("ErrImageNeverPull", "Container image not present")])

    def read_namespaced_pod_log(self, *args, **kwargs):
        raise RuntimeError("container is waiting to start")


def fake_cluster(conftest):
    provider = SimpleNamespace(describe=lambda: "kind cluster todo-verify")
    return conftest.Cluster(provider, None, FakeCore(), None, dx.Environment("kind", "todo-verify"), "run1",
                            namespaces=["todo-verify-abc123"])


def test_failing_cluster_test_gets_a_diagnosis_section(monkeypatch):
    from verification import cluster_session as conftest

    monkeypatch.setitem(conftest._ACTIVE, "cluster", fake_cluster(conftest))
    report = SimpleNamespace(failed=True, when="call", sections=[])
    hook = conftest.pytest_runtest_makereport(item=None, call=None)
    next(hook)
    with pytest.raises(StopIteration) as done:
        hook.send(report)
    assert done.value.value is report
    [(title, text)] = report.sections
    assert title == "diagnosis"
    assert "== kind cluster todo-verify, namespace todo-verify-abc123" in text
    assert "kind load docker-image todo-backend:0.1.0 --name todo-verify" in text


def test_passing_test_gets_no_section_and_a_broken_api_never_hides_the_failure(monkeypatch):
    from verification import cluster_session as conftest

    cluster = fake_cluster(conftest)
    monkeypatch.setitem(conftest._ACTIVE, "cluster", cluster)
    passed = SimpleNamespace(failed=False, when="call", sections=[])
    hook = conftest.pytest_runtest_makereport(item=None, call=None)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(passed)
    assert passed.sections == []
    cluster.core = SimpleNamespace()  # no methods at all
    assert "diagnosis failed: AttributeError" in conftest.diagnosis_text(cluster, ["ns"])
