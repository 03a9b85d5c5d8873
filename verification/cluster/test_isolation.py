"""Several developers on one cluster: two releases of the same name in two namespaces at once."""

from __future__ import annotations

import pytest

from harness.deploy.release import install_release, remove_release
from harness.testkit import app_flow


@pytest.mark.requirement("EC-7")
def test_two_releases_in_two_namespaces_do_not_interfere(release, cluster, images, tmp_path):
    before = {p.metadata.uid: sum(s.restart_count for s in p.status.container_statuses or [])
              for p in release.pods()}
    other = install_release(cluster, images, tmp_path, prefix="todo-second")
    try:
        assert other.namespace != release.namespace and other.name == release.name
        with other.frontend_access() as url:
            assert app_flow.chat_turn(url).get("response")
        other_nodeport = other.service("frontend").spec.ports[0].node_port
        assert other_nodeport != release.service("frontend").spec.ports[0].node_port
    finally:
        remove_release(other)
    after = {p.metadata.uid: sum(s.restart_count for s in p.status.container_statuses or [])
             for p in release.pods()}
    assert after == before, "the first release's pods changed while the second one came and went"
    with release.frontend_access() as url:
        assert app_flow.chat_turn(url).get("response")
