"""``helm uninstall`` leaves nothing of the release in its namespace, hook objects included.

The sweep is not a list of kinds written here: it asks the API server which namespaced kinds it
serves (discovery, as ``kubectl api-resources --verbs=list --namespaced`` does), lists every one of
them in the release's namespace, and looks for anything that carries the release's marks — the
``app.kubernetes.io/instance`` label, Helm's ``meta.helm.sh/release-name`` annotation — or is one of
Helm's own release records. Before the uninstall the same sweep must find every object ``helm get
manifest`` names and the ones the cluster made from them (pods, ReplicaSets, EndpointSlices), and
the release record: a sweep that sees nothing then would prove nothing after.
"""

from __future__ import annotations

import pytest
import yaml

from harness.core.wait import wait_for
from harness.deploy import k8s
from harness.deploy.release import INSTANCE_LABEL, install_release, remove_release

RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
# What the cluster makes from the chart's objects, not in the manifest: found before, gone after.
DERIVED_KINDS = {"Pod", "ReplicaSet", "EndpointSlice"}


def _marks(obj: dict, release: str) -> str | None:
    """Why ``obj`` belongs to ``release``, or None."""
    meta = obj["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    if labels.get(INSTANCE_LABEL) == release:
        return f"label {INSTANCE_LABEL}={release}"
    if annotations.get(RELEASE_NAME_ANNOTATION) == release:
        return f"annotation {RELEASE_NAME_ANNOTATION}={release}"
    if labels.get("owner") == "helm" and labels.get("name") == release:
        return f"Helm release record (status {labels.get('status')})"
    return None


def _sweep(cluster, namespace: str, release: str) -> dict[str, str]:
    """``Kind/name`` → why it is the release's, for every object in ``namespace`` of every namespaced
    kind the API server serves. Fails if a kind cannot be listed: it would be a kind not swept."""
    api = cluster.core.api_client
    resources, broken = k8s.listable_namespaced_resources(api)
    objects, unlisted = k8s.namespaced_objects(api, namespace, resources)
    assert not broken and not unlisted, f"the sweep cannot look everywhere: discovery {broken}, listing {unlisted}"
    assert len(resources) >= 20, f"discovery found only {len(resources)} namespaced kinds: {resources}"
    return {f"{o['kind']}/{o['metadata']['name']}": why for o in objects if (why := _marks(o, release))}


@pytest.mark.requirement("FR-039")
def test_helm_uninstall_removes_every_resource_of_the_release(cluster, images, tmp_path, record_property):
    release = install_release(cluster, images, tmp_path, prefix="todo-uninstall")
    try:
        release.helm("test", release.name, "--timeout", "3m")  # creates (and on success deletes) the hook pod
        rendered = {f"{d['kind']}/{d['metadata']['name']}"
                    for d in yaml.safe_load_all(release.helm("get", "manifest", release.name)) if d}
        # The sweep's discovery is kubectl's: the same namespaced kinds with the list verb.
        kubectl_kinds = set(cluster.target.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name",
                                                   timeout=120).split())
        swept_kinds = {r.name if "/" not in r.group_version else f"{r.name}.{r.group_version.split('/')[0]}"
                       for r in k8s.listable_namespaced_resources(cluster.core.api_client)[0]}
        assert swept_kinds == kubectl_kinds, (sorted(swept_kinds - kubectl_kinds), sorted(kubectl_kinds - swept_kinds))
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
        record_property("evidence", f"before uninstall the sweep of every namespaced kind found {len(before)} objects "
                                    f"of the release ({', '.join(sorted(kinds))}); after it, none")
    finally:
        remove_release(release)
