"""The cluster tier's environment, in e2e-framework's lifecycle.

Environment set-up (once for the tier): parse ``--cluster`` → preflight (tools, Docker, reachability,
node capacity) → the provider (a throwaway kind cluster, or the named context) → the images
loaded the way that cluster needs. Per module: a namespace of its own (random suffix), a
throwaway PostgreSQL in it, one ``helm install``. Tests assess. Teardown (after failures and
Ctrl-C too): ``helm uninstall``, the namespace deleted, the kind cluster deleted unless
``--keep-cluster``.

Every failing test here gets a ``diagnosis`` report section: the pods' states, events, last
log lines and the rule set's cause and fix (``harness.diagnose.rules``).

Nothing here touches a cluster at import time, so the module imports cleanly without one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from harness.deploy import k8s
from harness.deploy.release import (
    Cluster,
    Images,
    Release,
    diagnosis_text,
    install_release,
    remove_release,
)
from harness.providers import ClusterOptionError, make_provider, parse_cluster_option, preflight

# --- the environment ---------------------------------------------------------------------------

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


HOST_STATE_MODULE = "test_local_host_state.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The host-state test starts and stops a local cluster of its own, so it runs before any test
    brings up the tier's shared one."""
    first = [i for i in items if i.path.name == HOST_STATE_MODULE]
    if first:
        rest = [i for i in items if i.path.name != HOST_STATE_MODULE]
        at = next((n for n, i in enumerate(rest) if i.get_closest_marker("cluster")), len(rest))
        items[:] = rest[:at] + first + rest[at:]


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
            from harness.localk8s.components import build_binaries
            from harness.localk8s.config import K8S_VERSION

            print(f"\ncluster tier: building (or reusing) Kubernetes {K8S_VERSION} for the local "
                  "cluster; a cold build takes 10-15 minutes on 2 cores", flush=True)
            try:
                build_binaries(timeout=PREPARE_DEADLINE_S)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                _PREPARED["binaries"] = f"building the local cluster's binaries failed: {exc}"
        if not preflight.check_docker():
            from harness.images import build as images_lib

            print("cluster tier: building (or reusing) the images", flush=True)
            try:
                images_lib.ensure_images()
            except (images_lib.ImageBuildError, OSError, subprocess.CalledProcessError) as exc:
                _PREPARED["images"] = f"the images for the cluster tier could not be built: {exc}"


def _local_missing() -> list:
    from harness.localk8s.prerequisites import missing_prerequisites

    return missing_prerequisites()


# Package scope: the cluster (a local one this session started, or a throwaway kind cluster) is
# stopped as soon as the tier's last test is done, not at the end of the whole run, so that it
# takes no CPU or memory from the tiers after it (the load tier measures latency on 2 cores).
@pytest.fixture(scope="package")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Environment set-up and finish: preflight, the provider, API clients for the named context only."""
    from kubernetes import client

    failure = None  # pytest.fail outside the except blocks, so the message is shown once
    try:
        spec, provider = make_provider(request.config.getoption("cluster"), request.config.getoption("keep_cluster"))
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
    from harness.kube import render

    return preflight.chart_requests(render.installed(render.render([render.TEST_SECRETS_VALUES])))


# --- images ---------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def images(cluster: Cluster) -> Images:
    """The application images, built here (or reused: BuildKit's layer cache, SKIP_IMAGE_BUILD=1)
    whatever the provider, then made available to the cluster the way it needs (timed, for SC-001).
    The tier never depends on another tier having built them first."""
    from harness.images import build as images_lib

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    cluster = _ACTIVE.get("cluster")
    if report.failed and cluster is not None and cluster.namespaces and report.when in ("setup", "call"):
        report.sections.append(("diagnosis", diagnosis_text(cluster, list(cluster.namespaces))))
    return report
