"""Which kind of cluster the pods run on, and which of its clusters: what the providers, the preflight
and the diagnosis share about a cluster. Which kind a kubeconfig context is, is the registry's to
tell (:func:`harness.providers.registry.flavour_of_context`). Only the standard library is imported
here (``scripts/deploy.sh`` runs it with any Python 3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Environment:
    """Where the pods run, so that a fix can be an exact command.

    ``provider``: the name of a :class:`~harness.providers.provider.Provider` — kind | minikube |
    docker-desktop | local (the cluster built here from sources, ``harness.localk8s``) | docker (the
    runtime tier) | unknown; ``cluster``: the kind cluster name, the Minikube profile or the local
    cluster's node.
    """

    provider: str = "unknown"
    cluster: str | None = None
    namespace: str | None = None
    release: str | None = None
