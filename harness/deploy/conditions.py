"""Named wait conditions: what the deploy code and the tests wait for, each said once.

Each is a small callable object for :func:`harness.core.wait.wait_for`: called, it answers
truthy (holds) or falsy (not yet); ``what`` says what it waits for and ``describe()`` the state
seen, both for the timeout message. Named objects rather than lambdas so the same wait reads the
same (and says the same on timeout) wherever it is made, and can be tested with a fake client.
The interval stays with the caller: how often to ask is a fact of the call site, not the condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.core.wait import wait_for
from harness.deploy.target import Target, exec_succeeds
from harness.deploy.workloads import (deployment_rolled_out, pod_states, pods_ready, ready_endpoint_ips,
                                      service_routes_to_ready_pods)


class Condition:
    """The shape ``wait_for`` reads: ``what`` (a phrase: "X to be Y"), ``__call__``, ``describe()``."""

    what: str = "a condition"

    def __call__(self) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """The last state worth showing on timeout; empty when the call's own answer says it all."""
        return ""


class PodsReady(Condition):
    """Every (not terminating) pod matching ``selector`` is Ready, and there are ``expected`` of them."""

    def __init__(self, core: Any, namespace: str, selector: str = "", expected: int | None = None):
        self.core, self.namespace, self.selector, self.expected = core, namespace, selector, expected
        self.what = f"every pod in {namespace}{' matching ' + selector if selector else ''} to be Ready"

    def __call__(self) -> bool:
        return pods_ready(self.core, self.namespace, self.selector, self.expected)

    def describe(self) -> str:
        return "pods: " + pod_states(self.core, self.namespace, self.selector)


class RolledOut(Condition):
    """The Deployment observed its latest spec and every replica is updated and available."""

    def __init__(self, apps: Any, namespace: str, name: str):
        self.apps, self.namespace, self.name = apps, namespace, name
        self.what = f"deployment {namespace}/{name} to finish its rollout"

    def __call__(self) -> bool:
        return deployment_rolled_out(self.apps, self.namespace, self.name)

    def describe(self) -> str:
        s = self.apps.read_namespaced_deployment(self.name, self.namespace).status
        return f"replicas={s.replicas} updated={s.updated_replicas} available={s.available_replicas}"


class Routable(Condition):
    """The Service's EndpointSlices list exactly its Ready pods as ready endpoints (a Ready pod is not
    reachable through the Service until then)."""

    def __init__(self, core: Any, namespace: str, service: str):
        self.core, self.namespace, self.service = core, namespace, service
        self.what = f"Service {namespace}/{service} to list exactly its Ready pods as ready endpoints"

    def __call__(self) -> bool:
        return service_routes_to_ready_pods(self.core, self.namespace, self.service)

    def describe(self) -> str:
        return f"ready endpoints: {sorted(ready_endpoint_ips(self.core, self.namespace, self.service))}"


class NamespaceDeleted(Condition):
    """Reading the namespace answers 404: deletion (with its objects, foreground) has finished."""

    def __init__(self, core: Any, name: str):
        self.core, self.name = core, name
        self.what = f"namespace {name} to be deleted"

    def __call__(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespace(self.name)
        except ApiException as exc:
            return exc.status == 404  # any other error is no answer, so "not yet"
        return False


class DefaultServiceAccount(Condition):
    """The namespace's ``default`` ServiceAccount exists: until the controller manager has made it, the
    API server refuses a bare pod there ("error looking up service account"). Workloads retry by
    themselves; a pod created right after its namespace needs this wait."""

    def __init__(self, core: Any, namespace: str):
        self.core, self.namespace = core, namespace
        self.what = f"the default ServiceAccount of {namespace}"

    def __call__(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespaced_service_account("default", self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True


class PodsGone(Condition):
    """No pod matching ``selector`` is left; with ``terminating_only``, none of those being deleted
    (old pods keep serving through their preStop pause after a rollout counts as done)."""

    def __init__(self, core: Any, namespace: str, selector: str, what: str, terminating_only: bool = False):
        self.core, self.namespace, self.selector, self.what = core, namespace, selector, what
        self.terminating_only = terminating_only

    def left(self) -> list[str]:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
        return [p.metadata.name for p in pods if p.metadata.deletion_timestamp or not self.terminating_only]

    def __call__(self) -> bool:
        return not self.left()

    def describe(self) -> str:
        return f"{'terminating' if self.terminating_only else 'pods'}: {self.left()}"


class ExecSucceeds(Condition):
    """``command`` run in ``pod`` (``kubectl exec``) exits 0: a check from inside the cluster."""

    def __init__(self, target: Target, namespace: str, pod: str, *command: str, what: str,
                 container: str | None = None):
        self.target, self.namespace, self.pod, self.command = target, namespace, pod, command
        self.container, self.what = container, what

    def __call__(self) -> bool:
        return exec_succeeds(self.target, self.namespace, self.pod, *self.command, container=self.container)


class AllReady(Condition):
    """Every object of ``items`` says ``ready`` (the Docker runtime's pods, whose readiness is their
    own probe's verdict rather than the API server's)."""

    def __init__(self, items: Iterable[Any], what: str, describe: Callable[[], str] | None = None):
        self.items, self.what, self._describe = list(items), what, describe

    def __call__(self) -> bool:
        return all(item.ready for item in self.items)

    def describe(self) -> str:
        return self._describe() if self._describe else ""


def waited(condition: Condition, timeout: float, interval: float) -> float:
    """Wait for ``condition``; return the seconds it took (the budgets the tests report)."""
    start = time.monotonic()
    wait_for(condition, timeout=timeout, interval=interval)
    return time.monotonic() - start


def wait_pods_ready(core: Any, namespace: str, selector: str = "", timeout: float = 120,
                    expected: int | None = None) -> float:
    """Wait until every pod (``expected`` of them, if given) is Ready; return the seconds it took."""
    return waited(PodsReady(core, namespace, selector, expected), timeout, interval=1)


def wait_rolled_out(apps: Any, namespace: str, name: str, timeout: float = 180) -> float:
    """Wait until the Deployment finished its rollout; return the seconds it took."""
    return waited(RolledOut(apps, namespace, name), timeout, interval=1)
