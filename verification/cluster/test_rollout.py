"""Zero-downtime: rolling restarts and a deleted pod under continuous, bounded traffic."""

from __future__ import annotations

import pytest

from harness import contract
from harness.deploy import k8s


def _urls(release) -> list[str]:
    frontend = release.service("frontend").metadata.name
    backend = release.service("backend").metadata.name
    return [f"http://{frontend}:{contract.FRONTEND_PORT}{contract.FRONTEND_HEALTH_PATH}",
            f"http://{backend}:{contract.BACKEND_PORT}{contract.BACKEND_READINESS_PATH}",
            f"http://{frontend}:{contract.FRONTEND_PORT}/"]


@pytest.mark.requirement("SC-006", "FR-016")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_rollout_restart_under_traffic_drops_no_request(release, component, record_property):
    from harness.testkit.traffic import InClusterTraffic

    with InClusterTraffic(release, _urls(release)) as traffic:
        seconds = release.restart(component)
        tally = traffic.settle()
    record_property(f"{component}_rollout_s", round(seconds, 1))
    assert tally.total > 50, f"too little traffic to judge: {tally.summary()}"
    assert tally.failed == 0, f"rollout restart of {component}: {tally.summary()}"


@pytest.mark.requirement("EC-2")
def test_deleted_pod_is_replaced_while_traffic_continues(release):
    from harness.testkit.traffic import InClusterTraffic

    victim = release.pods("backend")[0]
    replicas = len(release.pods("backend"))
    with InClusterTraffic(release, _urls(release)) as traffic:
        release.cluster.core.delete_namespaced_pod(victim.metadata.name, release.namespace)
        k8s.wait_pods_ready(release.cluster.core, release.namespace, release.component_selector("backend"),
                            timeout=120, expected=replicas)
        tally = traffic.settle()
    names = {p.metadata.name for p in release.pods("backend")}
    assert victim.metadata.name not in names and len(names) == replicas
    assert tally.failed == 0, f"while a backend pod was replaced: {tally.summary()}"
