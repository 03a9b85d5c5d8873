"""Kubernetes helpers for the cluster tier: one explicit target, namespaces, waits, access, traffic.

* :class:`Target` — a kubeconfig file and a context, always both: API clients, ``kubectl`` and
  ``helm`` calls made through it never fall back to the user's current context.
* namespaces with a random suffix (EC-7), deleted in teardown;
* waits that say what they wait for and for how long (``wait_for``), with the pods' states
  in the timeout message;
* access to a Service from the host: its NodePort when reachable, else ``kubectl port-forward``;
* every object in a namespace, of every namespaced kind the API server serves (discovery, as
  ``kubectl api-resources --verbs=list --namespaced``): :func:`listable_namespaced_resources`,
  :func:`namespaced_objects` (the uninstall sweep).

Traffic during rollouts is ``harness.testkit.traffic``.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.core import processes
from harness.core.names import random_suffix
from harness.core.net import free_port
from harness.core.processes import CommandFailed  # noqa: F401  (raised by Target.kubectl/helm)
from harness.core.wait import wait_for

NAMESPACE_LABEL = "todo-chatbot.verification/run"


def namespace_name(prefix: str = "todo-verify", suffix: str | None = None) -> str:
    """A DNS-1123 label, unique per call: ``todo-verify-k3x9q2`` (EC-7)."""
    clean = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "ns"
    return f"{clean[:50]}-{suffix or random_suffix()}"


@dataclass(frozen=True)
class Target:
    """The cluster the tests talk to: always a kubeconfig file *and* a context name."""

    kubeconfig: Path
    context: str

    def api_client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig), context=self.context)

    def kubectl_argv(self, *args: str) -> list[str]:
        return ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--context={self.context}", *args]

    def helm_argv(self, *args: str) -> list[str]:
        from harness.kube.helm import find_helm

        return [find_helm(), f"--kubeconfig={self.kubeconfig}", f"--kube-context={self.context}", *args]

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 300) -> str:
        return _run(self.kubectl_argv(*args), input, check, timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        return _run(self.helm_argv(*args), None, check, timeout)


def _run(argv: Sequence[str], input: str | None, check: bool, timeout: float) -> str:
    return processes.run(argv, input=input, check=check, timeout=timeout).stdout


def exec_succeeds(target: Target, namespace: str, pod: str, *command: str, container: str | None = None,
                  timeout: float = 30) -> bool:
    """Whether ``command`` run in ``pod`` (``kubectl exec``) exits 0; a hung exec counts as no."""
    argv = target.kubectl_argv("-n", namespace, "exec", pod, *(["-c", container] if container else []), "--", *command)
    try:
        return processes.run(argv, check=False, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


# --- namespaces ---------------------------------------------------------------------------------


def create_namespace(core, name: str, run_id: str) -> None:
    from kubernetes import client

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: run_id})))


def delete_namespace(core, name: str, wait_timeout: float = 0) -> None:
    """Delete ``name`` (foreground); with ``wait_timeout`` wait until it is gone. Missing is fine."""
    from kubernetes.client.exceptions import ApiException

    try:
        core.delete_namespace(name, propagation_policy="Foreground")
    except ApiException as exc:
        if exc.status != 404:
            raise
    if wait_timeout:
        def gone() -> bool:
            try:
                core.read_namespace(name)
            except ApiException as exc:
                return exc.status == 404
            return False

        wait_for(gone, what=f"namespace {name} to be deleted", timeout=wait_timeout, interval=1)


# --- every object in a namespace (discovery) ---------------------------------------------------------


@dataclass(frozen=True)
class ApiResource:
    """One namespaced kind the API server serves with the ``list`` verb."""

    group_version: str  # "v1", "apps/v1", …
    name: str  # the plural, e.g. "deployments"
    kind: str

    @property
    def path(self) -> str:
        return ("/api/" if "/" not in self.group_version else "/apis/") + self.group_version


def _get_json(api_client, path: str, timeout: float = 30) -> dict:
    """GET ``path`` of the API server as JSON, through the client's own connection and credentials."""
    import json

    if not hasattr(api_client, "param_serialize"):  # kubernetes < 34: the older generated client
        return api_client.call_api(path, "GET", response_type="object", auth_settings=["BearerToken"],
                                   _return_http_data_only=True, _request_timeout=timeout)
    from kubernetes.client.exceptions import ApiException

    request = api_client.param_serialize("GET", path, header_params={"Accept": "application/json"},
                                         auth_settings=["BearerToken"])
    response = api_client.call_api(*request, _request_timeout=timeout)
    response.read()
    if not 200 <= response.status < 300:
        raise ApiException(status=response.status, reason=f"GET {path}: {response.data[:200]!r}")
    return json.loads(response.data)


def listable_resources(api_client, namespaced: bool = True) -> tuple[list[ApiResource], list[str]]:
    """Every namespaced (or, with ``namespaced=False``, cluster-scoped) kind the API server serves with
    ``list`` (each group's preferred version), as ``kubectl api-resources --verbs=list
    --namespaced=true|false`` finds them: (resources, the group versions whose discovery failed, e.g.
    an aggregated API that is down)."""
    from kubernetes import client

    versions = [v for v in client.CoreApi(api_client).get_api_versions().versions]
    versions += [g.preferred_version.group_version for g in client.ApisApi(api_client).get_api_versions().groups]
    found, failed = [], []
    for version in versions:
        try:
            listing = _get_json(api_client, ("/api/" if "/" not in version else "/apis/") + version)
        except Exception as exc:  # noqa: BLE001 - reported: a kind we cannot see is a kind not swept
            failed.append(f"{version} ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
            continue
        for r in listing.get("resources") or []:
            if "/" not in r["name"] and bool(r.get("namespaced")) == namespaced and "list" in (r.get("verbs") or []):
                found.append(ApiResource(version, r["name"], r["kind"]))
    return found, failed


def listable_namespaced_resources(api_client) -> tuple[list[ApiResource], list[str]]:
    """:func:`listable_resources` of the namespaced kinds (``kubectl api-resources --verbs=list --namespaced``)."""
    return listable_resources(api_client, namespaced=True)


def namespaced_objects(api_client, namespace: str | None, resources: Sequence[ApiResource]) -> tuple[list[dict], list[str]]:
    """Every object of ``resources`` in ``namespace`` (of cluster-scoped ``resources`` with None) as
    (kind, metadata) dicts: ``{"kind", "metadata"}``; and the resources whose listing failed."""
    objects, failed = [], []
    for resource in resources:
        where = f"/namespaces/{namespace}" if namespace else ""
        try:
            listing = _get_json(api_client, f"{resource.path}{where}/{resource.name}")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            failed.append(f"{resource.name}.{resource.group_version} ({type(exc).__name__})")
            continue
        objects += [{"kind": resource.kind, "apiVersion": resource.group_version, "metadata": item.get("metadata") or {}}
                    for item in listing.get("items") or []]
    return objects, failed


# --- waits -----------------------------------------------------------------------------------------


def pod_states(core, namespace: str, selector: str = "") -> str:
    """One line per pod: phase, readiness and each container's waiting/terminated reason."""
    lines = []
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        parts = []
        for s in pod.status.container_statuses or []:
            state = s.state
            why = (state.waiting and state.waiting.reason) or (state.terminated and state.terminated.reason) or ""
            parts.append(f"{s.name}:{'ready' if s.ready else 'not-ready'}{'/' + why if why else ''}/r{s.restart_count}")
        lines.append(f"{pod.metadata.name} {pod.status.phase} {' '.join(parts)}")
    return "; ".join(lines) or "no pods"


def pod_is_ready(pod) -> bool:
    ready = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
    return ready is not None and ready.status == "True"


def pods_ready(core, namespace: str, selector: str = "", expected: int | None = None) -> bool:
    pods = [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None]
    if not pods or (expected is not None and len(pods) != expected):
        return False
    return all(pod_is_ready(pod) for pod in pods)


def ready_endpoint_ips(core, namespace: str, service: str) -> set[str]:
    """The addresses the Service's EndpointSlices list as ready: where its traffic goes."""
    from kubernetes import client

    slices = client.DiscoveryV1Api(core.api_client).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return {address for s in slices for e in s.endpoints or []
            if e.conditions is None or e.conditions.ready is not False for address in e.addresses or []}


def service_routes_to_ready_pods(core, namespace: str, service: str) -> bool:
    """The Service's EndpointSlices list exactly the Ready pods it selects as ready endpoints."""
    svc = core.read_namespaced_service(service, namespace)
    selector = ",".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
    ready_ips = {p.status.pod_ip for p in core.list_namespaced_pod(namespace, label_selector=selector).items
                 if p.metadata.deletion_timestamp is None and p.status.pod_ip and pod_is_ready(p)}
    return bool(ready_ips) and ready_ips == ready_endpoint_ips(core, namespace, service)


def wait_pods_ready(core, namespace: str, selector: str = "", timeout: float = 120,
                    expected: int | None = None) -> float:
    """Wait until every pod (``expected`` of them, if given) is Ready; return the seconds it took."""
    start = time.monotonic()
    wait_for(
        lambda: pods_ready(core, namespace, selector, expected),
        what=f"every pod in {namespace}{' matching ' + selector if selector else ''} to be Ready",
        timeout=timeout, interval=1, describe=lambda: "pods: " + pod_states(core, namespace, selector),
    )
    return time.monotonic() - start


def deployment_rolled_out(apps, namespace: str, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, namespace)
    want = d.spec.replicas or 0
    s = d.status
    return (
        (s.observed_generation or 0) >= (d.metadata.generation or 0)
        and (s.updated_replicas or 0) == want
        and (s.replicas or 0) == want
        and (s.available_replicas or 0) == want
    )


def wait_rolled_out(apps, namespace: str, name: str, timeout: float = 180) -> float:
    start = time.monotonic()

    def state() -> str:
        s = apps.read_namespaced_deployment(name, namespace).status
        return f"replicas={s.replicas} updated={s.updated_replicas} available={s.available_replicas}"

    wait_for(lambda: deployment_rolled_out(apps, namespace, name),
             what=f"deployment {namespace}/{name} to finish its rollout", timeout=timeout, interval=1, describe=state)
    return time.monotonic() - start


def rollout_restart(apps, namespace: str, name: str) -> None:
    """What ``kubectl rollout restart`` does: stamp the pod template so a new ReplicaSet rolls out."""
    stamp = datetime.now(timezone.utc).isoformat()
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    apps.patch_namespaced_deployment(name, namespace, body)


# --- access from the host --------------------------------------------------------------------------


def tcp_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def node_port_candidates(core, namespace: str, service: str, provider: str) -> list[str]:
    """Base URLs at which a NodePort Service may answer from the host, most likely first (the hosts
    that ``provider``, the kind of cluster, publishes NodePorts on, then the nodes' addresses)."""
    from harness.providers.registry import provider_named

    svc = core.read_namespaced_service(service, namespace)
    ports = [p.node_port for p in svc.spec.ports or [] if p.node_port]
    if not ports:
        return []
    hosts = provider_named(provider).node_hosts()
    for node in core.list_node().items:
        for address in node.status.addresses or []:
            if address.type in ("InternalIP", "ExternalIP"):
                hosts.append(address.address)
    return [f"http://{h}:{ports[0]}" for h in dict.fromkeys(hosts)]


class PortForwardExited(RuntimeError):
    """``kubectl port-forward`` exited before (or instead of) listening."""


class PortForward:
    """``kubectl port-forward svc/NAME LOCAL:REMOTE`` as a context manager on a free loopback port."""

    def __init__(self, target: Target, namespace: str, resource: str, remote_port: int, timeout: float = 30):
        self.argv = target.kubectl_argv("-n", namespace, "port-forward", "--address=127.0.0.1", resource)
        self.remote_port = remote_port
        self.timeout = timeout
        self.port = 0
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PortForward:
        self.port = free_port()
        self.process = subprocess.Popen([*self.argv, f"{self.port}:{self.remote_port}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def listening() -> bool:
            if self.process.poll() is not None:
                raise PortForwardExited(f"kubectl port-forward exited: {self.process.stdout.read()[-500:]}")
            return tcp_open("127.0.0.1", self.port, 1)

        try:
            wait_for(listening, what=f"kubectl port-forward to listen on 127.0.0.1:{self.port}", timeout=self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


