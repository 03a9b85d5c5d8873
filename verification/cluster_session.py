"""The cluster of a test session, shared by the cluster tier and, when a cluster is selected, the
load tier (a plugin of the root ``conftest.py``).

Environment set-up (once a session): the ``--cluster`` choice (decided and parsed once, by the
plugin) → preflight (tools, Docker, reachability, node capacity) → the provider (a throwaway kind
cluster, the local cluster built here, or the named context) → the images loaded the way that
cluster needs (``harness.deploy.session``, the same code ``make load CLUSTER=…`` uses). Teardown (after failures and Ctrl-C too): every namespace deleted,
the provider closed (a kind or local cluster this session started is stopped unless
``--keep-cluster``).

The cluster is closed right after the last test that uses it, not at the end of the run, so it
takes no CPU or memory from the tiers after it; with a cluster selected, the load tier's tests are
ordered right after the cluster tier's so both use one cluster start and one image load.

Every failing test on the cluster gets a ``diagnosis`` report section: the pods' states, events,
last log lines and the rule set's cause and fix (``harness.diagnose.rules``).

Nothing here touches a cluster at import time, so the module imports cleanly without one.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest

from harness.deploy.release import Cluster, Images, diagnosis_text
from harness.providers import ClusterOptionError, preflight
from verification.tiers import cluster_choice

# The cluster of this session, for the diagnosis hook and the early close (set by ``cluster``).
_ACTIVE: dict[str, Cluster] = {}


def needs_cluster(item: pytest.Item) -> bool:
    """A test that runs on the cluster: it uses the fixture, or it is a load test and a cluster is
    selected (the load tier then runs there instead of on Docker)."""
    if "cluster" in getattr(item, "fixturenames", ()):
        return True
    return item.get_closest_marker("load") is not None and bool(item.config.getoption("cluster", default=None))


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


# --- order: the load tier right after the cluster tier, on one cluster --------------------------


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With a cluster selected, the load tests move right after the last test of the cluster tier,
    so the cluster started for one serves the other and is closed before the Docker tiers."""
    if not config.getoption("cluster", default=None):
        return
    moving = [i for i in items if i.get_closest_marker("load") is not None]
    tier = [n for n, i in enumerate(items) if i.get_closest_marker("cluster") is not None]
    if not moving or not tier:
        return
    anchor = items[tier[-1]]
    rest = [i for i in items if i.get_closest_marker("load") is None]
    at = rest.index(anchor) + 1
    items[:] = rest[:at] + moving + rest[at:]


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
    if not any(needs_cluster(item) for item in session.items):
        return
    try:
        spec = cluster_choice(session.config).spec
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


def _uncaptured(config: pytest.Config):
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()


# --- the fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Environment set-up and finish: preflight, the provider, API clients for the named context only."""
    from harness.deploy.session import ClusterSetupError, open_cluster

    option = request.config.getoption("cluster")
    if not option:
        pytest.fail("no cluster selected (--cluster=…)", pytrace=False)
    if failure := _PREPARED.get("binaries"):
        pytest.fail(failure, pytrace=False)
    failure = None  # pytest.fail outside the except block, so the message is shown once
    try:
        # Shown as it happens, not captured: a cold local cluster builds Kubernetes first (minutes).
        with _uncaptured(request.config):
            found = open_cluster(cluster_choice(request.config), request.config.getoption("keep_cluster"),
                                 say=lambda text: print(f"\ncluster tier: {text}", flush=True))
    except ClusterSetupError as exc:
        failure = str(exc)
    if failure:
        pytest.fail(failure, pytrace=False)
    _ACTIVE["cluster"] = found
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        yield found
    finally:
        _close()


def _close() -> None:
    from harness.deploy.session import close_cluster

    found = _ACTIVE.pop("cluster", None)
    if found is not None:
        close_cluster(found)


@pytest.fixture(scope="session")
def images(cluster: Cluster) -> Images:
    """The application images, built here (or reused: BuildKit's layer cache, SKIP_IMAGE_BUILD=1)
    whatever the provider, then made available to the cluster the way it needs (timed, for SC-001).
    The tier never depends on another tier having built them first."""
    from harness.deploy.session import ClusterSetupError, load_images

    if failure := _PREPARED.get("images"):
        pytest.fail(failure, pytrace=False)
    failure = None
    try:
        return load_images(cluster)
    except ClusterSetupError as exc:
        failure = str(exc)
    pytest.fail(failure, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Close the cluster as soon as the last test that uses it is torn down (its release first)."""
    result = yield
    if "cluster" in _ACTIVE and needs_cluster(item):
        items = item.session.items
        at = items.index(item) if item in items else len(items)
        if not any(needs_cluster(later) for later in items[at + 1:]):
            _close()
    return result


# --- diagnosis on failure ----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    cluster = _ACTIVE.get("cluster")
    if report.failed and cluster is not None and cluster.namespaces and report.when in ("setup", "call"):
        report.sections.append(("diagnosis", diagnosis_text(cluster, list(cluster.namespaces))))
    return report
