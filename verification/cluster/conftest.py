"""The cluster tier's per-module fixtures, in e2e-framework's lifecycle.

The environment (the cluster, the images loaded into it) is the session's, shared with the load
tier when a cluster is selected: ``verification/cluster_session.py``. Per module: a namespace of its
own (random suffix), a throwaway PostgreSQL in it, one ``helm install``. Tests assess. Teardown
(after failures and Ctrl-C too): ``helm uninstall``, the namespace deleted — not waited for here (the
pods' graceful ends take tens of seconds a module): the session's close waits until every namespace
it deleted is gone.

Nothing here touches a cluster at import time, so the module imports cleanly without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.deploy.release import Cluster, Images, Release, install_release, remove_release

HOST_STATE_MODULE = "test_local_host_state.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The host-state test starts and stops a local cluster of its own, so it runs before any test
    brings up the tier's shared one."""
    first = [i for i in items if i.path.name == HOST_STATE_MODULE]
    if first:
        rest = [i for i in items if i.path.name != HOST_STATE_MODULE]
        at = next((n for n, i in enumerate(rest) if i.get_closest_marker("cluster")), len(rest))
        items[:] = rest[:at] + first + rest[at:]


# --- per-module deployment -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(cluster: Cluster, images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """Per module: a namespace of its own with PostgreSQL and one ``helm install`` of the chart."""
    installed = install_release(cluster, images, tmp_path_factory.mktemp("release"))
    try:
        yield installed
    finally:
        remove_release(installed, background=True)


@pytest.fixture
def namespace_factory(cluster: Cluster) -> Iterator[Callable[[str], str]]:
    """Extra namespaces for one test, removed after it."""
    made: list[str] = []

    def make(prefix: str = "todo-verify") -> str:
        made.append(cluster.new_namespace(prefix))
        return made[-1]

    yield make
    for name in made:
        cluster.drop_namespace(name, background=True)


@pytest.fixture
def failing_release(cluster, images, tmp_path):
    """``failing_release(prefix, values=..., database=...)``: an install not waited for, removed after."""
    made = []

    def install(prefix: str, **kwargs):
        made.append(install_release(cluster, images, tmp_path, prefix=prefix, ready=False, **kwargs))
        return made[-1]

    yield install
    for release in made:
        remove_release(release, background=True)
