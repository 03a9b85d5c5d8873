"""``helm uninstall`` leaves nothing of the release, hook objects included, with every optional
resource of the chart enabled.

The sweep is not a list of kinds written here (``harness.deploy.sweep``): it asks the API server
which kinds it serves (discovery, as ``kubectl api-resources --verbs=list`` does), namespaced and
cluster-scoped, lists every one of them, and looks for anything that carries the release's marks.
Before the uninstall the same sweep must find every object ``helm get manifest`` names and the ones
the cluster made from them (pods, ReplicaSets, EndpointSlices), and the release record: a sweep that
sees nothing then would prove nothing after.

The release here has every optional resource on (NetworkPolicies, the Ingress, its ServiceAccount,
the ``helm test`` pod) and the Secret the chart makes; the Secret made beforehand
(``secrets.existingSecret``) is swept in ``test_values_files.py`` after each of its installs, where
it must also survive the uninstall (it is the user's, not the release's).
"""

from __future__ import annotations

import pytest
import yaml

from harness.core.wait import wait_for
from harness.deploy import k8s
from harness.deploy.release import install_release, remove_release
from harness.deploy.sweep import sweep

# What the cluster makes from the chart's objects, not in the manifest: found before, gone after.
DERIVED_KINDS = {"Pod", "ReplicaSet", "EndpointSlice"}
# Every optional resource of the chart turned on (the chart-made Secret is the default).
EVERYTHING_ON = {"networkPolicy": {"enabled": True}, "serviceAccount": {"create": True}, "tests": {"enabled": True},
                 "ingress": {"enabled": True, "hostname": "todo-uninstall.example"}}
OPTIONAL_KINDS = {"NetworkPolicy", "Ingress", "ServiceAccount", "Secret", "PodDisruptionBudget", "ConfigMap"}


def _sweep(cluster, namespace: str, release: str) -> dict[str, str]:
    found = sweep(cluster.core.api_client, namespace, release)
    assert found.namespaced_kinds >= 20 and found.cluster_kinds >= 10, (
        f"discovery found only {found.namespaced_kinds} namespaced and {found.cluster_kinds} cluster-scoped kinds")
    return found.found


@pytest.mark.requirement("FR-039")
def test_helm_uninstall_removes_every_resource_of_the_release(cluster, images, tmp_path, record_property):
    release = install_release(cluster, images, tmp_path, prefix="todo-uninstall", values=EVERYTHING_ON)
    try:
        release.helm("test", release.name, "--timeout", "3m")  # creates (and on success deletes) the hook pod
        rendered = {f"{d['kind']}/{d['metadata']['name']}"
                    for d in yaml.safe_load_all(release.helm("get", "manifest", release.name)) if d}
        missing = OPTIONAL_KINDS - {name.split("/")[0] for name in rendered}
        assert not missing, f"the release lacks optional kinds {sorted(missing)}: {sorted(rendered)}"
        # The sweep's discovery is kubectl's: the same kinds with the list verb, in either scope.
        for scope in ("true", "false"):
            kubectl_kinds = set(cluster.target.kubectl("api-resources", "--verbs=list", f"--namespaced={scope}",
                                                       "-o", "name", timeout=120).split())
            swept_kinds = {r.name if "/" not in r.group_version else f"{r.name}.{r.group_version.split('/')[0]}"
                           for r in k8s.listable_resources(cluster.core.api_client, namespaced=scope == "true")[0]}
            assert swept_kinds == kubectl_kinds, (scope, sorted(swept_kinds - kubectl_kinds),
                                                  sorted(kubectl_kinds - swept_kinds))
        before = _sweep(cluster, release.namespace, release.name)
        unseen = rendered - set(before)
        assert rendered and not unseen, f"the sweep does not see objects Helm installed: {sorted(unseen)}"
        kinds = {name.split("/")[0] for name in before}
        assert DERIVED_KINDS <= kinds, f"the sweep misses {sorted(DERIVED_KINDS - kinds)} before uninstall"
        assert any(why.startswith("Helm release record") for why in before.values()), before

        release.helm("uninstall", release.name, "--wait", "--timeout", "3m")
        left: dict[str, str] = {}

        def nothing_left() -> bool:
            left.clear()
            left.update(_sweep(cluster, release.namespace, release.name))
            return not left

        # Helm deletes what it installed; the garbage collector then removes what was made from it
        # (ReplicaSets, pods, EndpointSlices): bounded, with what is left named on time-out.
        wait_for(nothing_left, what=f"every object of release {release.name} in {release.namespace} to be gone",
                 timeout=120, interval=3, describe=lambda: f"left: {left}")
        assert _sweep(cluster, release.namespace, release.name) == {}
        record_property("evidence", f"every optional resource on; before uninstall the sweep of every namespaced and "
                                    f"cluster-scoped kind found {len(before)} objects of the release "
                                    f"({', '.join(sorted(kinds))}); after it, none")
    finally:
        remove_release(release)
