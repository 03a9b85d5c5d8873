"""The cluster tier's environment, in e2e-framework's lifecycle.

Environment set-up (session): parse ``--cluster`` → preflight (tools, Docker, reachability,
node capacity) → the provider (a throwaway kind cluster, or the named context) → the images
loaded the way that cluster needs. Per module: a namespace of its own (random suffix), a
throwaway PostgreSQL in it, one ``helm install``. Tests assess. Teardown (after failures and
Ctrl-C too): ``helm uninstall``, the namespace deleted, the kind cluster deleted unless
``--keep-cluster``.

Every failing test here gets a ``diagnosis`` report section: the pods' states, events, last
log lines and the rule set's cause and fix (``verification.lib.diagnose``).

Nothing here touches a cluster at import time, so the module imports cleanly without one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from verification import contract
from verification.cluster import app_flow
from verification.lib import diagnose as dx
from verification.lib import k8s, preflight
from verification.lib.providers import ClusterOptionError, parse_cluster_option
from verification.lib.wait import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "chart" / "todo-chatbot"
RELEASE_NAME = "todo"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
READY_BUDGET_S = 120  # SC-003, US1-1
ROUTABLE_BUDGET_S = 60  # pods Ready → their Services route to them (kube-proxy programming, typically 1-4 s)
DEPLOY_BUDGET_S = 300  # SC-001, FR-037 (image load included)


# --- the environment ---------------------------------------------------------------------------


@dataclass
class Cluster:
    """The cluster under test: provider, explicit target, API clients, and its environment for fixes."""

    provider: Any
    target: k8s.Target
    core: Any
    apps: Any
    env: dx.Environment
    run_id: str
    server_version: str = ""  # e.g. v1.33.1, for `helm template --kube-version`
    namespaces: list[str] = field(default_factory=list)

    def new_namespace(self, prefix: str = "todo-verify") -> str:
        name = k8s.namespace_name(prefix)
        k8s.create_namespace(self.core, name, self.run_id)
        self.namespaces.append(name)
        return name

    def drop_namespace(self, name: str, wait: float = 0) -> None:
        k8s.delete_namespace(self.core, name, wait_timeout=wait)
        if name in self.namespaces:
            self.namespaces.remove(name)


# The cluster of this session, for the diagnosis hook (set by the ``cluster`` fixture).
_ACTIVE: dict[str, Cluster] = {}


def _last_resort_cleanup() -> None:
    """If the process ends without fixture teardown (a second Ctrl-C), still drop our namespaces."""
    cluster = _ACTIVE.get("cluster")
    if cluster is None:
        return
    for name in list(cluster.namespaces):
        subprocess.run(cluster.target.kubectl_argv("delete", "namespace", name, "--wait=false"),
                       capture_output=True, check=False, timeout=30)


atexit.register(_last_resort_cleanup)


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so fixture teardown still runs."""
    raise KeyboardInterrupt(f"signal {signum}")


# --- preparation, before any test's deadline starts ---------------------------------------------
#
# What the tier builds (cached, but minutes when cold: Kubernetes from source for the local cluster,
# the base and application images) is built once after collection, outside pytest-timeout's
# per-test deadline, with its progress shown as it happens. A failure is kept and reported by the
# fixture that needed it, so the other tiers still run.
PREPARE_DEADLINE_S = 45 * 60
_PREPARED: dict[str, str] = {}  # what -> the error, when preparing it failed


def pytest_collection_finish(session: pytest.Session) -> None:
    option = session.config.getoption("cluster", default=None)
    if not option or session.config.getoption("collectonly"):
        return
    if not any(item.get_closest_marker("cluster") for item in session.items):
        return
    try:
        spec = parse_cluster_option(option)
    except ClusterOptionError:
        return  # the cluster fixture reports it
    with _uncaptured(session.config):
        if spec.kind == "local" and not _local_missing():
            from verification.lib import local_cluster

            print(f"\ncluster tier: building (or reusing) Kubernetes {local_cluster.K8S_VERSION} for the local "
                  "cluster; a cold build takes 10-15 minutes on 2 cores", flush=True)
            try:
                local_cluster.build_binaries(timeout=PREPARE_DEADLINE_S)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                _PREPARED["binaries"] = f"building the local cluster's binaries failed: {exc}"
        if not preflight.check_docker():
            from verification.lib import images as images_lib

            print("cluster tier: building (or reusing) the images", flush=True)
            try:
                images_lib.ensure_images()
            except (images_lib.ImageBuildError, OSError, subprocess.CalledProcessError) as exc:
                _PREPARED["images"] = f"the images for the cluster tier could not be built: {exc}"


def _local_missing() -> list:
    from verification.lib import local_cluster

    return local_cluster.missing_prerequisites()


def _make_provider(option: str, keep: bool):
    spec = parse_cluster_option(option)
    if spec.kind == "kind":
        from verification.lib.providers.kind import KindProvider

        return spec, KindProvider(spec.name, keep=keep, workdir=REPO_ROOT / ".pytest-kind")
    if spec.kind == "local":
        from verification.lib.providers.local import LocalProvider

        return spec, LocalProvider(keep=keep)
    from verification.lib.providers.context import ContextProvider

    return spec, ContextProvider(spec.name)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Environment set-up and finish: preflight, the provider, API clients for the named context only."""
    from kubernetes import client

    failure = None  # pytest.fail outside the except blocks, so the message is shown once
    try:
        spec, provider = _make_provider(request.config.getoption("cluster"), request.config.getoption("keep_cluster"))
        preflight.run(spec)
    except (ClusterOptionError, preflight.PreflightError) as exc:
        failure = str(exc)
    if failure:
        pytest.fail(failure, pytrace=False)
    if failure := _PREPARED.get("binaries"):
        pytest.fail(failure, pytrace=False)
    try:
        # Shown as it happens, not captured: a cold local cluster builds Kubernetes first (minutes).
        with _uncaptured(request.config):
            print(f"\ncluster tier: setting up {provider.describe()}", flush=True)
            provider.create()
    except Exception as exc:  # noqa: BLE001 - report any provider failure as a preflight failure
        provider.close()
        failure = f"cannot set up {provider.describe()}: {exc}"
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        target = k8s.Target(provider.kubeconfig, provider.context)
        api = target.api_client()
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        version: dict[str, str] = {}
        problems = preflight.check_reachable(
            lambda: version.setdefault("v", client.VersionApi(api).get_code(_request_timeout=15).git_version),
            provider.context, provider.environment)
        if problems:
            raise preflight.PreflightError(problems)
        allocatable, used, labels = preflight.node_facts(core)
        if hasattr(provider, "refine"):
            provider.refine(labels)
        needed = _chart_requests() + preflight.Resources(0.1, 256 * 1024**2)  # + the throwaway PostgreSQL
        problems = preflight.check_capacity(preflight.allocatable_free(allocatable, used), needed, provider.environment)
        if problems:
            raise preflight.PreflightError(problems)
    except preflight.PreflightError as exc:
        provider.close()
        failure = str(exc)
    except BaseException:
        provider.close()
        raise
    if failure:
        pytest.fail(failure, pytrace=False)
    env = provider.environment
    found = Cluster(provider, target, core, apps, env, run_id=k8s.random_suffix(8), server_version=version["v"])
    _ACTIVE["cluster"] = found
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        yield found
    finally:
        for name in list(found.namespaces):
            try:
                found.drop_namespace(name, wait=120)
            except Exception as exc:  # noqa: BLE001 - keep tearing down the rest
                print(f"teardown: could not delete namespace {name}: {exc}")
        _ACTIVE.pop("cluster", None)
        provider.close()


def _uncaptured(config: pytest.Config):
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()


def _chart_requests() -> preflight.Resources:
    from verification.lib import render

    return preflight.chart_requests(render.installed(render.render([render.TEST_SECRETS_VALUES])))


# --- images ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Images:
    backend: str
    frontend: str
    postgres: str
    tag: str
    load_seconds: float


@pytest.fixture(scope="session")
def images(cluster: Cluster) -> Images:
    """The application images, built here (or reused: BuildKit's layer cache, SKIP_IMAGE_BUILD=1)
    whatever the provider, then made available to the cluster the way it needs (timed, for SC-001).
    The tier never depends on another tier having built them first."""
    from verification.lib import images as images_lib

    if failure := _PREPARED.get("images"):
        pytest.fail(failure, pytrace=False)
    try:
        built = images_lib.ensure_images()  # the PostgreSQL image too: official when pullable, else built locally
        postgres = os.environ.get("CLUSTER_POSTGRES_IMAGE") or images_lib.postgres_image()
    except (images_lib.ImageBuildError, OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the images for the cluster tier could not be built: {exc}", pytrace=False)
    backend, frontend = built["backend"].ref, built["frontend"].ref
    start = time.monotonic()
    for image in (backend, frontend) + ((postgres,) if images_lib.image_exists(postgres) else ()):
        try:
            cluster.provider.load_image(image)
        except subprocess.CalledProcessError as exc:
            pytest.fail(f"loading {image} into {cluster.provider.describe()} failed: '{' '.join(exc.cmd)}' "
                        f"exited {exc.returncode}: {(exc.stderr or '').strip()}", pytrace=False)
        except RuntimeError as exc:
            pytest.fail(f"loading {image} into {cluster.provider.describe()} failed: {exc}", pytrace=False)
    return Images(backend, frontend, postgres, images_lib.image_tag(), time.monotonic() - start)


# --- per-module deployment -------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    host: str
    user: str
    password: str
    name: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:5432/{self.name}"


def deploy_postgres(cluster: Cluster, namespace: str, image: str, timeout: float = 180) -> Database:
    """A throwaway PostgreSQL (Deployment + Service ``postgres``) in ``namespace``; gone with it."""
    password = secrets.token_hex(12)
    labels = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "todo-chatbot-verification"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "postgres", "labels": labels},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "postgres", "image": image, "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "POSTGRES_USER", "value": "todo"}, {"name": "POSTGRES_PASSWORD", "value": password},
                        {"name": "POSTGRES_DB", "value": "todo"}, {"name": "PGDATA", "value": "/var/lib/postgresql/data/pg"}],
                "ports": [{"containerPort": 5432}],
                "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-U", "todo", "-d", "todo"]},
                                   "periodSeconds": 2},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
            }], "volumes": [{"name": "data", "emptyDir": {}}]}},
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "labels": labels},
               "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": 5432}]}}
    cluster.apps.create_namespaced_deployment(namespace, deployment)
    cluster.core.create_namespaced_service(namespace, service)
    k8s.wait_pods_ready(cluster.core, namespace, "app.kubernetes.io/name=postgres", timeout=timeout, expected=1)
    return Database(f"postgres.{namespace}.svc.cluster.local", "todo", password, "todo")


def psql(cluster: Cluster, namespace: str, db: Database, sql: str, database: str | None = None) -> str:
    """Run one SQL statement in the throwaway PostgreSQL's pod, as its superuser."""
    pod = cluster.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items[0]
    return cluster.target.kubectl(
        "-n", namespace, "exec", pod.metadata.name, "--", "env", f"PGPASSWORD={db.password}",
        "psql", "-h", "127.0.0.1", "-U", db.user, "-d", database or db.name, "-v", "ON_ERROR_STOP=1", "-Atc", sql,
    ).strip()


@dataclass
class Release:
    """One ``helm install`` of the chart into a namespace of its own."""

    cluster: Cluster
    namespace: str
    name: str
    values_file: Path
    database: Database
    images: Images
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

    def configmap_name(self, component: str) -> str:
        items = self.cluster.core.list_namespaced_config_map(
            self.namespace, label_selector=self.component_selector(component)).items
        assert len(items) == 1, f"expected one {component} ConfigMap in {self.namespace}, found {len(items)}"
        return items[0].metadata.name

    def pods(self, component: str | None = None) -> list:
        selector = self.component_selector(component) if component else self.selector
        return [p for p in self.cluster.core.list_namespaced_pod(self.namespace, label_selector=selector).items
                if p.metadata.deletion_timestamp is None and p.status.phase != "Succeeded"]

    def wait_ready(self, timeout: float = READY_BUDGET_S) -> float:
        return k8s.wait_pods_ready(self.cluster.core, self.namespace, self.selector + f",{COMPONENT_LABEL} in (backend,frontend)",
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
        last = "no attempt"

        def backend_answers() -> bool:
            nonlocal last
            with self.frontend_access() as url:
                ok, last = app_flow.backend_reached(url)
            return ok

        wait_for(backend_answers, what="the backend to answer through the frontend and both Services",
                 timeout=max(1.0, deadline - time.monotonic()), interval=0.5, describe=lambda: last)
        self.routable_seconds = time.monotonic() - start
        return self.routable_seconds

    def _wait_endpoints(self, component: str, timeout: float) -> None:
        name = self.service(component).metadata.name
        wait_for(lambda: k8s.service_routes_to_ready_pods(self.cluster.core, self.namespace, name),
                 what=f"Service {self.namespace}/{name} to list exactly its Ready pods as ready endpoints",
                 timeout=timeout, interval=0.5)

    def wait_settled(self, component: str, timeout: float = 120) -> float:
        """After a rollout: the old pods are gone and the Service lists exactly the new Ready pods.

        A Deployment counts as rolled out as soon as its old pods are *marked* for deletion; they
        keep serving through their preStop pause while kube-proxy catches up (1-4 s here), so a
        request right after the rollout may still reach an old pod, with the old configuration
        and credentials. Returns seconds.
        """
        start = time.monotonic()
        selector = self.component_selector(component)

        def terminating() -> list[str]:
            return [p.metadata.name for p in self.cluster.core.list_namespaced_pod(
                self.namespace, label_selector=selector).items if p.metadata.deletion_timestamp]

        wait_for(lambda: not terminating(), what=f"the old {component} pods in {self.namespace} to be gone",
                 timeout=timeout, interval=0.5, describe=lambda: f"terminating: {terminating()}")
        self._wait_endpoints(component, timeout=max(1.0, timeout - (time.monotonic() - start)))
        return time.monotonic() - start

    def wait_rolled_out(self, timeout: float = 300) -> None:
        """After a ``helm upgrade``: both Deployments finished their rollout and no old pod is left."""
        for component in ("backend", "frontend"):
            k8s.wait_rolled_out(self.cluster.apps, self.namespace, self.deployment_name(component), timeout=timeout)
        for component in ("backend", "frontend"):
            self.wait_settled(component)

    def restart(self, component: str, timeout: float = 180) -> float:
        """``kubectl rollout restart`` of the component, waited until rolled out and the old pods
        gone (``wait_settled``); returns the seconds until rolled out."""
        start = time.monotonic()
        name = self.deployment_name(component)
        k8s.rollout_restart(self.cluster.apps, self.namespace, name)
        k8s.wait_rolled_out(self.cluster.apps, self.namespace, name, timeout=timeout)
        rolled_out = time.monotonic() - start
        self.wait_settled(component)
        return rolled_out

    def manifests(self) -> list[dict]:
        """What the chart rendered for this release (``helm get manifest``)."""
        return [d for d in yaml.safe_load_all(self.helm("get", "manifest", self.name)) if d]

    def frontend_access(self):
        """A context manager yielding the frontend's base URL: the NodePort when the host reaches it,
        else a ``kubectl port-forward`` of the Service."""
        return FrontendAccess(self)


class FrontendAccess:
    def __init__(self, release: Release) -> None:
        self.release = release
        self._forward: k8s.PortForward | None = None
        self.via = ""

    def __enter__(self) -> str:
        r = self.release
        svc = r.service("frontend")
        for url in k8s.node_port_candidates(r.cluster.core, r.namespace, svc.metadata.name, r.cluster.env.provider):
            host, port = url.removeprefix("http://").rsplit(":", 1)
            if k8s.tcp_open(host, int(port)):
                self.via = f"NodePort {url}"
                return url
        self._forward = k8s.PortForward(r.cluster.target, r.namespace, f"svc/{svc.metadata.name}",
                                        svc.spec.ports[0].port).__enter__()
        self.via = f"kubectl port-forward svc/{svc.metadata.name}"
        return self._forward.url

    def __exit__(self, *exc: object) -> None:
        if self._forward is not None:
            self._forward.__exit__()


def write_values(path: Path, images: Images, database: Database, **extra: Any) -> Path:
    values = {
        "backend": {"image": {"repository": contract.BACKEND_IMAGE, "tag": images.tag, "pullPolicy": "IfNotPresent"}},
        "frontend": {"image": {"repository": contract.FRONTEND_IMAGE, "tag": images.tag, "pullPolicy": "IfNotPresent"}},
        "secrets": {"databaseUrl": database.url, "jwtSecret": secrets.token_hex(32)},
    }
    for key, value in extra.items():
        values[key] = {**values.get(key, {}), **value}
    path.write_text(yaml.safe_dump(values))
    return path


def install_release(cluster: Cluster, images: Images, tmp: Path, prefix: str = "todo-verify",
                    name: str = RELEASE_NAME) -> Release:
    """Namespace → PostgreSQL → one ``helm install`` → every pod Ready (timed).

    On failure the namespace is left for the diagnosis of the failing test's report and
    deleted by the session's teardown (``cluster`` fixture) or, at the latest, at exit.
    """
    namespace = cluster.new_namespace(prefix)
    database = deploy_postgres(cluster, namespace, images.postgres)
    values = write_values(tmp / f"values-{namespace}.yaml", images, database)
    release = Release(cluster, namespace, name, values, database, images)
    start = time.monotonic()
    release.helm("install", name, str(CHART_DIR), "-f", str(values), timeout=DEPLOY_BUDGET_S)
    release.ready_seconds = release.wait_ready(timeout=READY_BUDGET_S)
    release.install_seconds = time.monotonic() - start
    release.wait_routable()
    return release


def remove_release(release: Release) -> None:
    release.cluster.target.helm("uninstall", release.name, "-n", release.namespace, "--wait", check=False, timeout=300)
    release.cluster.drop_namespace(release.namespace, wait=120)


@pytest.fixture(scope="module")
def release(cluster: Cluster, images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """Per module: a namespace of its own with PostgreSQL and one ``helm install`` of the chart."""
    installed = install_release(cluster, images, tmp_path_factory.mktemp("release"))
    try:
        yield installed
    finally:
        remove_release(installed)


@pytest.fixture
def namespace_factory(cluster: Cluster) -> Iterator[Callable[[str], str]]:
    """Extra namespaces for one test, removed after it."""
    made: list[str] = []

    def make(prefix: str = "todo-verify") -> str:
        made.append(cluster.new_namespace(prefix))
        return made[-1]

    yield make
    for name in made:
        cluster.drop_namespace(name, wait=120)


# --- diagnosis on failure ----------------------------------------------------------------------------


def diagnosis_text(cluster: Cluster, namespaces: list[str]) -> str:
    parts = []
    for namespace in namespaces:
        env = dx.Environment(cluster.env.provider, cluster.env.cluster, namespace, RELEASE_NAME)
        try:
            pods = dx.collect(cluster.core, namespace)
            parts.append(dx.format_report(pods, dx.diagnose(pods, env),
                                          header=f"== {cluster.provider.describe()}, namespace {namespace}"))
        except Exception as exc:  # noqa: BLE001 - diagnosis must never hide the original failure
            parts.append(f"== namespace {namespace}: diagnosis failed: {type(exc).__name__}: {exc}")
    return "\n\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    cluster = _ACTIVE.get("cluster")
    if report.failed and cluster is not None and cluster.namespaces and report.when in ("setup", "call"):
        report.sections.append(("diagnosis", diagnosis_text(cluster, list(cluster.namespaces))))
    return report
