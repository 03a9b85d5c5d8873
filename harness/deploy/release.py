"""One release of the chart on a cluster under test: the cluster's clients, the images it was
given, a throwaway PostgreSQL in the release's namespace, ``helm install``/``uninstall``, and the
waits a test needs after an install, a restart or a rollout (pods Ready, Services routing).

Used by the cluster and load tiers' fixtures and by ``make load CLUSTER=…``; no pytest here.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import contract
from harness import diagnose as dx
from harness.core.paths import CHART_DIR
from harness.core.wait import network_error, wait_for
from harness.deploy import access, conditions, postgres, workloads
from harness.deploy.namespaces import create_namespace, delete_namespace, namespace_name
from harness.kube.pod_security import RESTRICTED
from harness.deploy.conditions import ExecSucceeds, PodsGone, Routable
from harness.deploy.target import Target
from harness.testkit import app_flow
from harness.testkit.postgres import Database

RELEASE_NAME = "todo"
ROUTABLE_BUDGET_S = 60  # pods Ready → their Services route to them (kube-proxy programming, typically 1-4 s)
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"


@dataclass
class Cluster:
    """The cluster under test: provider, explicit target, API clients, and its environment for fixes."""

    provider: Any
    target: Target
    core: Any
    apps: Any
    env: dx.Environment
    run_id: str
    server_version: str = ""  # e.g. v1.33.1, for `helm template --kube-version`
    namespaces: list[str] = field(default_factory=list)
    # Deleted without waiting (a module's teardown need not sit through its pods' graceful ends):
    # close_cluster waits until they are gone.
    leaving: list[str] = field(default_factory=list)

    def new_namespace(self, prefix: str = "todo-verify", pod_security: str = RESTRICTED, reason: str = "") -> str:
        """A namespace of this run, held to Pod Security ``pod_security`` (below restricted: say why,
        ``reason``); deleted by :meth:`drop_namespace`, else at the session's close."""
        name = namespace_name(prefix)
        create_namespace(self.core, name, self.run_id, pod_security=pod_security, reason=reason)
        self.namespaces.append(name)
        return name

    def drop_namespace(self, name: str, wait: float = 0, background: bool = False) -> None:
        """Delete ``name``; wait up to ``wait`` seconds until it is gone, or with ``background``, not
        at all: it is then in :attr:`leaving`, which the session's close waits for."""
        delete_namespace(self.core, name, wait_timeout=0 if background else wait)
        if name in self.namespaces:
            self.namespaces.remove(name)
        if background:
            self.leaving.append(name)




@dataclass(frozen=True)
class Images:
    backend: str
    frontend: str
    postgres: str
    tag: str
    load_seconds: float


@dataclass
class Release:
    """One ``helm install`` of the chart into a namespace of its own."""

    cluster: Cluster
    namespace: str
    name: str
    values_file: Path
    database: Database
    images: Images
    chart: Path = CHART_DIR  # the chart installed (a previous version's, in a scratch worktree, for upgrades)
    env_values: tuple[Path, ...] = ()  # values files of the chart's own (values-dev.yaml, …), before values_file
    install_seconds: float = 0.0  # helm install until every pod Ready
    ready_seconds: float = 0.0  # pods Ready after helm install returned
    routable_seconds: float = 0.0  # pods Ready until the frontend reached the backend through the Services

    @property
    def selector(self) -> str:
        return f"{INSTANCE_LABEL}={self.name}"

    def component_selector(self, component: str) -> str:
        return f"{self.selector},{COMPONENT_LABEL}={component}"

    def helm(self, *args: str, timeout: float = 600) -> str:
        return self.cluster.target.helm(*args, "-n", self.namespace, timeout=timeout)

    def deployment_name(self, component: str) -> str:
        items = self.cluster.apps.list_namespaced_deployment(
            self.namespace, label_selector=self.component_selector(component)).items
        assert len(items) == 1, f"expected one {component} Deployment in {self.namespace}, found {len(items)}"
        return items[0].metadata.name

    def service(self, component: str):
        items = self.cluster.core.list_namespaced_service(
            self.namespace, label_selector=self.component_selector(component)).items
        assert len(items) == 1, f"expected one {component} Service in {self.namespace}, found {len(items)}"
        return items[0]

    def frontend_cluster_url(self) -> str:
        """The frontend's address inside the cluster (its Service), for pods that act as users."""
        svc = self.service("frontend")
        return f"http://{svc.metadata.name}.{self.namespace}.svc:{svc.spec.ports[0].port}"

    def configmap_name(self, component: str) -> str:
        items = self.cluster.core.list_namespaced_config_map(
            self.namespace, label_selector=self.component_selector(component)).items
        assert len(items) == 1, f"expected one {component} ConfigMap in {self.namespace}, found {len(items)}"
        return items[0].metadata.name

    def pods(self, component: str | None = None) -> list:
        selector = self.component_selector(component) if component else self.selector
        return [p for p in self.cluster.core.list_namespaced_pod(self.namespace, label_selector=selector).items
                if p.metadata.deletion_timestamp is None and p.status.phase != "Succeeded"]

    def wait_ready(self, timeout: float = contract.READY_BUDGET_S) -> float:
        return conditions.wait_pods_ready(self.cluster.core, self.namespace, self.selector + f",{COMPONENT_LABEL} in (backend,frontend)",
                                   timeout=timeout)

    def wait_routable(self, timeout: float = ROUTABLE_BUDGET_S) -> float:
        """After a fresh install: the Services route to the Ready pods (returns seconds).

        A Ready pod is not yet reachable through its Service: the EndpointSlice is updated, then
        kube-proxy programs the node (1-4 s here). A first request inside that gap fails
        (connection refused, or worse), so a test must not start before it is closed. Waits
        until both Services' EndpointSlices list exactly the Ready pods, then until a request
        through the frontend's outside address reaches the backend through the backend Service.
        """
        start = time.monotonic()
        deadline = start + timeout
        for component in ("backend", "frontend"):
            self._wait_endpoints(component, timeout=max(1.0, deadline - time.monotonic()))
        # Then the backend Service must route (kube-proxy lags the EndpointSlice by seconds): checked
        # from inside a frontend pod with node's own fetch, so the probe through the frontend's proxy
        # below never meets a Service that refuses — the proxy would log "backend_unreachable", an
        # error line of its own (US1-4). From the frontend, because that is the one path the chart's
        # NetworkPolicy lets reach the backend (the backend's own egress is DNS and the database).
        self._wait_backend_service_routes(timeout=max(1.0, deadline - time.monotonic()))
        last = "no attempt"

        def backend_answers() -> bool:
            nonlocal last
            with self.frontend_access() as url:
                ok, last = app_flow.backend_reached(url)
            return ok

        # Right after the endpoints settle, a port-forward to the Service may still die (its pod
        # was replaced): try again with a new one rather than fail.
        wait_for(backend_answers, what="the backend to answer through the frontend and both Services",
                 timeout=max(1.0, deadline - time.monotonic()), interval=0.5, describe=lambda: last,
                 retry_on=(network_error, access.PortForwardExited))
        self.routable_seconds = time.monotonic() - start
        return self.routable_seconds

    def _wait_backend_service_routes(self, timeout: float) -> None:
        svc = self.service("backend")
        url = f"http://{svc.metadata.name}:{svc.spec.ports[0].port}{contract.BACKEND_LIVENESS_PATH}"
        pod = self.pods("frontend")[0].metadata.name
        check = (f"fetch({url!r}, {{signal: AbortSignal.timeout(2000)}})"
                 ".then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))")
        wait_for(ExecSucceeds(self.cluster.target, self.namespace, pod, "node", "-e", check, container="frontend",
                              what=f"the backend Service to route ({url} from pod {pod})"), timeout=timeout, interval=0.5)

    def _wait_endpoints(self, component: str, timeout: float) -> None:
        name = self.service(component).metadata.name
        wait_for(Routable(self.cluster.core, self.namespace, name), timeout=timeout, interval=0.5)

    def wait_settled(self, component: str, timeout: float = 120) -> float:
        """After a rollout: the old pods are gone and the Service lists exactly the new Ready pods.

        A Deployment counts as rolled out as soon as its old pods are *marked* for deletion; they
        keep serving through their preStop pause while kube-proxy catches up (1-4 s here), so a
        request right after the rollout may still reach an old pod, with the old configuration
        and credentials. Returns seconds.
        """
        start = time.monotonic()
        old_pods = PodsGone(self.cluster.core, self.namespace, self.component_selector(component),
                            what=f"the old {component} pods in {self.namespace} to be gone", terminating_only=True)
        wait_for(old_pods, timeout=timeout, interval=0.5)
        self._wait_endpoints(component, timeout=max(1.0, timeout - (time.monotonic() - start)))
        return time.monotonic() - start

    def wait_rolled_out(self, timeout: float = 300) -> None:
        """After a ``helm upgrade``: both Deployments finished their rollout and no old pod is left."""
        for component in ("backend", "frontend"):
            conditions.wait_rolled_out(self.cluster.apps, self.namespace, self.deployment_name(component), timeout=timeout)
        for component in ("backend", "frontend"):
            self.wait_settled(component)

    def restart(self, component: str, timeout: float = 180) -> float:
        """``kubectl rollout restart`` of the component, waited until rolled out and the old pods
        gone (``wait_settled``); returns the seconds until rolled out."""
        start = time.monotonic()
        name = self.deployment_name(component)
        workloads.rollout_restart(self.cluster.apps, self.namespace, name)
        conditions.wait_rolled_out(self.cluster.apps, self.namespace, name, timeout=timeout)
        rolled_out = time.monotonic() - start
        self.wait_settled(component)
        return rolled_out

    def values_args(self) -> list[str]:
        """``-f`` arguments of this release's values: the chart's own file(s), then the test's."""
        return [arg for path in (*self.env_values, self.values_file) for arg in ("-f", str(path))]

    def manifests(self) -> list[dict]:
        """What the chart rendered for this release (``helm get manifest``)."""
        return [d for d in yaml.safe_load_all(self.helm("get", "manifest", self.name)) if d]

    def frontend_access(self):
        """A context manager yielding the frontend's base URL: the NodePort when the host reaches it,
        else a ``kubectl port-forward`` of the Service."""
        return FrontendAccess(self)


class FrontendAccess:
    """The frontend's address from this host, the way its Service type exposes it, and ``via``: which
    way was used, named (the evidence says when the type's own way could not be exercised here).

    NodePort: a node's address and the node port. LoadBalancer: the external address the cluster
    gave it (a cloud, ``minikube tunnel``, MetalLB), else a ``kubectl port-forward`` named as the
    stand-in for the load balancer this cluster lacks. ClusterIP: a ``kubectl port-forward``.
    """

    def __init__(self, release: Release) -> None:
        self.release = release
        self._forward: access.PortForward | None = None
        self.via = ""

    def __enter__(self) -> str:
        r = self.release
        svc = r.service("frontend")
        port = svc.spec.ports[0].port
        kind = svc.spec.type
        if kind == "LoadBalancer":
            ingress = (svc.status.load_balancer and svc.status.load_balancer.ingress) or []
            for address in ingress:
                host = address.ip or address.hostname
                if host and access.tcp_open(host, port):
                    self.via = f"LoadBalancer {host}:{port}"
                    return f"http://{host}:{port}"
            return self._port_forward(svc, port, "LoadBalancer Service without an external address on this "
                                                 "cluster (no tunnel or load-balancer controller): the harness's "
                                                 "stand-in for the load balancer")
        if kind == "NodePort":
            candidates = access.node_port_candidates(r.cluster.core, r.namespace, svc.metadata.name, r.cluster.env.provider)
            for url in candidates:
                host, node_port = url.removeprefix("http://").rsplit(":", 1)
                if access.tcp_open(host, int(node_port)):
                    self.via = f"NodePort {url}"
                    return url
            # Named, never silent: the evidence says the NodePort path was not the one exercised.
            return self._port_forward(svc, port, "FALLBACK: the NodePort was not reachable from this host at "
                                                 f"{', '.join(candidates) or 'any node address'}")
        return self._port_forward(svc, port, f"a {kind} Service: reachable from inside the cluster only")

    def _port_forward(self, svc, port: int, why: str) -> str:
        self._forward = access.PortForward(self.release.cluster.target, self.release.namespace,
                                        f"svc/{svc.metadata.name}", port).__enter__()
        self.via = f"kubectl port-forward svc/{svc.metadata.name} ({why})"
        return self._forward.url

    def __exit__(self, *exc: object) -> None:
        if self._forward is not None:
            self._forward.__exit__()
            self._forward = None


# The in-cluster traffic client (harness.testkit.traffic) is one synthetic user sending several
# requests a second through rollouts; a person's per-minute rates (issue 27: 60 new tasks, 20 chat
# turns) would answer it 429 within seconds. Those rates are proved on their own in the runtime tier
# (verification/runtime/test_abuse.py); the cluster tier's releases lift them so that a 429 here can
# only mean a real failure.
TRAFFIC_RATES = {"tasksCreatedPerMinute": 100_000, "chatTurnsPerMinute": 100_000}


def rate_lift(chart: Path = CHART_DIR) -> dict[str, Any]:
    """The values that lift ``chart``'s per-account rates for the synthetic traffic user; none for a
    chart without them (a previous release, whose values schema would refuse the keys)."""
    defaults = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    rates = (defaults.get("backend") or {}).get("limits") or {}
    lifted = {key: value for key, value in TRAFFIC_RATES.items() if key in rates}
    return {"backend": {"limits": lifted}} if lifted else {}


def write_values(path: Path, images: Images, database: Database, chart: Path = CHART_DIR, **extra: Any) -> Path:
    values = {
        "backend": {"image": {"repository": contract.BACKEND_IMAGE, "tag": images.tag, "pullPolicy": "IfNotPresent"}},
        "frontend": {"image": {"repository": contract.FRONTEND_IMAGE, "tag": images.tag, "pullPolicy": "IfNotPresent"}},
        "secrets": {"databaseUrl": database.url, "jwtSecret": secrets.token_hex(32)},
    }
    for layer in (rate_lift(chart), extra):
        for key, value in layer.items():
            values[key] = _merged(values.get(key, {}), value)
    # It holds the database URL and the JWT secret: readable by its owner only (issue 27).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(values))
    os.chmod(path, 0o600)  # an existing file keeps its mode under O_CREAT
    return path


def _merged(base: dict, override: dict) -> dict:
    """``override`` over ``base``, nested mappings merged key by key (as Helm merges values files)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def install_release(cluster: Cluster, images: Images, tmp: Path, prefix: str = "todo-verify",
                    name: str = RELEASE_NAME, *, values: dict[str, Any] | None = None,
                    database: Database | None = None, database_down: bool = False, ready: bool = True,
                    chart: Path = CHART_DIR, env_values: tuple[Path, ...] = (),
                    namespace: str | None = None) -> Release:
    """Namespace → PostgreSQL → one ``helm install`` → every pod Ready (timed).

    ``values`` are merged over the test values per top-level key; ``database`` replaces the
    throwaway PostgreSQL (e.g. an address nothing listens on); ``database_down`` stops the throwaway
    PostgreSQL (scaled to 0, its Service kept) before the install; ``ready=False`` returns right
    after ``helm install``, for the tests of installs that must not become Ready. ``chart`` is the
    chart to install (a previous version's); ``env_values`` are values files of the chart's own
    (``values-prod.yaml``), given before the test's values, which then override only the image tags
    and the credentials; ``namespace`` (with ``database``) installs into a namespace made before.

    On failure the namespace is left for the diagnosis of the failing test's report and
    deleted by the session's teardown (``cluster`` fixture) or, at the latest, at exit.
    """
    namespace = namespace or cluster.new_namespace(prefix)
    if database is None:
        database = postgres.deploy_in_cluster(cluster.apps, cluster.core, namespace, images.postgres,
                                              target=cluster.target)
        if database_down:
            postgres.scale_in_cluster(cluster.apps, cluster.core, namespace, 0)
    values_file = write_values(tmp / f"values-{namespace}.yaml", images, database, chart, **(values or {}))
    release = Release(cluster, namespace, name, values_file, database, images, chart, tuple(env_values))
    start = time.monotonic()
    release.helm("install", name, str(chart), *release.values_args(), timeout=contract.DEPLOY_BUDGET_S)
    if not ready:
        return release
    release.ready_seconds = release.wait_ready(timeout=contract.READY_BUDGET_S)
    release.install_seconds = time.monotonic() - start
    release.wait_routable()
    return release


def remove_release(release: Release, keep_namespace: bool = False, background: bool = False) -> None:
    """``helm uninstall --wait``, then the namespace deleted (unless ``keep_namespace``: the next
    release of a module installs into it, beside the same PostgreSQL). With ``background`` nothing is
    waited for: the uninstall and the namespace's deletion are issued, and the session's close
    (``close_cluster``) waits until the namespace is gone."""
    release.cluster.target.helm("uninstall", release.name, "-n", release.namespace,
                                *(() if background else ("--wait",)), check=False, timeout=300)
    if not keep_namespace:
        release.cluster.drop_namespace(release.namespace, wait=120, background=background)


def diagnosis_text(cluster: Cluster, namespaces: list[str]) -> str:
    parts = []
    for namespace in namespaces:
        env = dx.Environment(cluster.env.provider, cluster.env.cluster, namespace, RELEASE_NAME)
        try:
            pods = dx.collect(cluster.core, namespace)
            parts.append(dx.format_report(pods, dx.diagnose(pods, env),
                                          header=f"== {cluster.provider.describe()}, namespace {namespace}")
                         + _other_warnings(cluster, namespace))
        except Exception as exc:  # noqa: BLE001 - diagnosis must never hide the original failure
            parts.append(f"== namespace {namespace}: diagnosis failed: {type(exc).__name__}: {exc}")
    return "\n\n".join(parts)


def _other_warnings(cluster: Cluster, namespace: str, keep: int = 15) -> str:
    """The namespace's Warning events about anything but a pod (the pods' own are in the report above):
    a ReplicaSet that cannot create pods, a Service without endpoints, a refused eviction, ..."""
    events = [e for e in cluster.core.list_namespaced_event(namespace).items
              if e.type != "Normal" and getattr(e.involved_object, "kind", None) != "Pod"]
    if not events:
        return ""
    lines = [f"  event {e.type} {e.involved_object.kind}/{e.involved_object.name} {e.reason} ×{e.count or 1}: "
             f"{e.message}" for e in events[-keep:]]
    return "\nnamespace events (Warning, not of a pod):\n" + "\n".join(lines)


def psql(cluster: Cluster, namespace: str, db: Database, sql: str, database: str | None = None) -> str:
    """One SQL statement in the release's throwaway PostgreSQL."""
    return postgres.psql_in_cluster(cluster.target, cluster.core, namespace, db, sql, database)
