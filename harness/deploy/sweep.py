"""What of a Helm release is left on the cluster: every kind the API server lists, not a list of
kinds written here.

The sweep asks the API server which kinds it serves with ``list`` (discovery, as ``kubectl
api-resources --verbs=list`` does), namespaced and cluster-scoped, lists every one of them — the
namespaced ones in the release's namespace — and keeps what carries the release's marks: the
``app.kubernetes.io/instance`` label or Helm's ``meta.helm.sh/release-name`` annotation in the
namespace, Helm's own release records, and anywhere in the cluster an object whose
``meta.helm.sh/release-namespace`` annotation names the namespace (a cluster-scoped object has no
namespace of its own to tell it apart from another namespace's release of the same name). No pytest.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.deploy import discovery

INSTANCE_LABEL = "app.kubernetes.io/instance"
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


class SweepBlind(RuntimeError):
    """A kind could not be discovered or listed: the sweep would not look everywhere."""


@dataclass(frozen=True)
class Sweep:
    found: dict[str, str]  # "Kind/name" (cluster-scoped: "Kind/name (cluster)") -> why it is the release's
    namespaced_kinds: int
    cluster_kinds: int


def marks(obj: dict, release: str, namespace: str, cluster_scoped: bool = False) -> str | None:
    """Why ``obj`` belongs to ``release`` of ``namespace``, or None."""
    meta = obj["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    if annotations.get(RELEASE_NAMESPACE_ANNOTATION) == namespace and annotations.get(RELEASE_NAME_ANNOTATION) == release:
        return f"annotations {RELEASE_NAME_ANNOTATION}={release}, {RELEASE_NAMESPACE_ANNOTATION}={namespace}"
    if cluster_scoped:
        return None
    if labels.get(INSTANCE_LABEL) == release:
        return f"label {INSTANCE_LABEL}={release}"
    if annotations.get(RELEASE_NAME_ANNOTATION) == release:
        return f"annotation {RELEASE_NAME_ANNOTATION}={release}"
    if labels.get("owner") == "helm" and labels.get("name") == release:
        return f"Helm release record (status {labels.get('status')})"
    return None


def sweep(api_client, namespace: str, release: str) -> Sweep:
    """Everything of ``release`` in ``namespace`` and in the cluster's scope; :class:`SweepBlind` when
    a kind cannot be discovered or listed."""
    found: dict[str, str] = {}
    counts = {}
    for namespaced in (True, False):
        resources, broken = discovery.listable_resources(api_client, namespaced=namespaced)
        objects, unlisted = discovery.namespaced_objects(api_client, namespace if namespaced else None, resources)
        if broken or unlisted:
            raise SweepBlind(f"the sweep cannot look everywhere: discovery failed for {broken}, listing for {unlisted}")
        counts[namespaced] = len(resources)
        for obj in objects:
            if why := marks(obj, release, namespace, cluster_scoped=not namespaced):
                found[f"{obj['kind']}/{obj['metadata']['name']}" + ("" if namespaced else " (cluster)")] = why
    return Sweep(found, counts[True], counts[False])
