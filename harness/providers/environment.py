"""Which kind of cluster the pods run on: the provider's identity, in one place.

:class:`Environment` is what the providers, the preflight and the diagnosis share about a
cluster; :func:`flavour_of_context` tells it from a kubeconfig context (its name, or its node's
labels) and :func:`parse_provider` from an explicit ``--provider`` value. Only the standard
library is imported here (``scripts/deploy.sh`` runs it with any Python 3).
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = ("kind", "minikube", "docker-desktop", "local", "docker", "unknown")


@dataclass(frozen=True)
class Environment:
    """Where the pods run, so that a fix can be an exact command.

    ``provider``: kind | minikube | docker-desktop | local (the cluster built here from sources,
    ``harness.localk8s``) | docker (the runtime tier) | unknown;
    ``cluster``: the kind cluster name, the Minikube profile or the local cluster's node.
    """

    provider: str = "unknown"
    cluster: str | None = None
    namespace: str | None = None
    release: str | None = None


def _local_cluster_names() -> tuple[str, str]:
    """(context, node name) of the local cluster; imported late, so this module stays light."""
    from harness.localk8s.config import CONTEXT, NODE_NAME

    return CONTEXT, NODE_NAME


def flavour_of_context(context: str | None, node_labels: dict[str, str] | None = None) -> Environment:
    """Which kind of cluster a context points at: from its node labels, else its name."""
    labels = node_labels or {}
    if "minikube.k8s.io/name" in labels:
        return Environment("minikube", labels["minikube.k8s.io/name"])
    if not context:
        return Environment()
    if context.startswith("kind-"):
        return Environment("kind", context.removeprefix("kind-"))
    if context in ("docker-desktop", "docker-for-desktop"):
        return Environment("docker-desktop")
    if context == "minikube":
        return Environment("minikube", "minikube")
    local_context, local_node = _local_cluster_names()
    if context == local_context:
        return Environment("local", local_node)
    return Environment("unknown")


def parse_provider(value: str) -> Environment:
    """``kind[:NAME]`` | ``minikube[:PROFILE]`` | ``docker-desktop`` | ``local`` → :class:`Environment`."""
    kind, _, name = value.partition(":")
    if not name and kind == "minikube":
        name = "minikube"
    elif not name and kind == "local":
        name = _local_cluster_names()[1]
    return Environment(kind, name or None)
