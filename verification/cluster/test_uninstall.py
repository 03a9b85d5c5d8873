"""``helm uninstall`` leaves nothing that carries the release's labels, hook objects included."""

from __future__ import annotations

import pytest

from harness.core.wait import wait_for
from harness.deploy.release import install_release, remove_release


def _leftovers(cluster, namespace: str, release: str) -> list[str]:
    from kubernetes import client

    core, apps = cluster.core, cluster.apps
    policy = client.PolicyV1Api(cluster.core.api_client)
    selector = f"app.kubernetes.io/instance={release}"
    listers = {
        "Pod": core.list_namespaced_pod, "Service": core.list_namespaced_service,
        "ConfigMap": core.list_namespaced_config_map, "Secret": core.list_namespaced_secret,
        "ServiceAccount": core.list_namespaced_service_account, "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "PodDisruptionBudget": policy.list_namespaced_pod_disruption_budget,
    }
    found = [f"{kind}/{o.metadata.name}" for kind, lister in listers.items()
             for o in lister(namespace, label_selector=selector).items]
    # Helm's own release records (owner=helm,name=<release>).
    found += [f"Secret/{s.metadata.name}" for s in
              core.list_namespaced_secret(namespace, label_selector=f"owner=helm,name={release}").items]
    return found


@pytest.mark.requirement("FR-039")
def test_helm_uninstall_removes_every_resource_of_the_release(cluster, images, tmp_path):
    release = install_release(cluster, images, tmp_path, prefix="todo-uninstall")
    try:
        release.helm("test", release.name, "--timeout", "3m")  # creates (and on success deletes) the hook pod
        assert _leftovers(cluster, release.namespace, release.name), "nothing labelled before uninstall?"
        release.helm("uninstall", release.name, "--wait", "--timeout", "3m")
        left = wait_for(lambda: not _leftovers(cluster, release.namespace, release.name) or None,
                        what=f"every object of release {release.name} to be gone", timeout=120, interval=2,
                        describe=lambda: f"left: {_leftovers(cluster, release.namespace, release.name)}")
        assert left
    finally:
        remove_release(release)
