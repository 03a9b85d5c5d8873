"""Cluster providers for the cluster tier: a throwaway kind cluster or a named kubeconfig context.

``--cluster=kind`` creates a cluster (pytest-kind-ng when installed, else the ``kind`` CLI)
and deletes it at the end unless ``--keep-cluster``. ``--cluster=context:NAME`` attaches to an
existing context (``minikube``, ``docker-desktop``, ``kind-dev`` ...) and never touches any
other: every API client and every kubectl/helm call names the context explicitly.

Each provider knows how to make a locally built image available to its nodes
(``kind load docker-image``, ``minikube image load``, or nothing for Docker Desktop, which
shares the Docker engine) and says so to the diagnosis (:class:`Environment`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verification.lib.diagnose import Environment

USAGE = ("--cluster=kind (throwaway kind cluster), --cluster=local (the cluster built here from upstream "
         "sources) or --cluster=context:NAME (e.g. context:minikube)")
CONTEXT_NAME = re.compile(r"^[A-Za-z0-9@._:/-]+$")


class ClusterOptionError(ValueError):
    """A --cluster value that names no provider; the message shows the accepted forms."""


@dataclass(frozen=True)
class ClusterSpec:
    """What --cluster asked for: ``kind`` (with a cluster name) or ``context`` (with its name)."""

    kind: str  # "kind" | "local" | "context"
    name: str


def parse_cluster_option(value: str, kind_cluster_name: str = "todo-verify") -> ClusterSpec:
    """``kind`` | ``kind:NAME`` | ``context:NAME`` → :class:`ClusterSpec`."""
    raw = (value or "").strip()
    head, sep, tail = raw.partition(":")
    if head == "kind":
        name = tail or kind_cluster_name
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
            raise ClusterOptionError(f"--cluster={raw}: a kind cluster name is lowercase letters, digits, '-', '.'")
        return ClusterSpec("kind", name)
    if head == "local" and not sep:
        return ClusterSpec("local", "todo-local")
    if head == "context" and sep:
        if not tail or not CONTEXT_NAME.match(tail):
            raise ClusterOptionError(f"--cluster={raw}: name the kubeconfig context, e.g. --cluster=context:minikube")
        return ClusterSpec("context", tail)
    raise ClusterOptionError(f"--cluster={raw!r} is not understood: use {USAGE}")


def flavour_of_context(context: str, node_labels: dict[str, str] | None = None) -> Environment:
    """Which kind of cluster a context points at: from its node labels, else its name."""
    labels = node_labels or {}
    if "minikube.k8s.io/name" in labels:
        return Environment("minikube", labels["minikube.k8s.io/name"])
    if context.startswith("kind-"):
        return Environment("kind", context.removeprefix("kind-"))
    if context in ("docker-desktop", "docker-for-desktop"):
        return Environment("docker-desktop")
    if context == "minikube":
        return Environment("minikube", "minikube")
    return Environment("unknown")


def image_load_argv(image: str, env: Environment) -> list[str] | None:
    """The command that makes a local ``image`` available to the cluster, or None when shared/impossible."""
    if env.provider == "kind":
        return ["kind", "load", "docker-image", image, "--name", env.cluster or "kind"]
    if env.provider == "minikube":
        return ["minikube", "-p", env.cluster or "minikube", "image", "load", image]
    return None  # docker-desktop: the cluster uses the engine's images; unknown: must come from a registry
