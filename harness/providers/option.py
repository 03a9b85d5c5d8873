"""The ``--cluster`` option (``CLUSTER=`` for make): its forms, and the session provider each names.

``kind[:NAME]`` creates a throwaway cluster (pytest-kind-ng when installed, else the ``kind`` CLI)
and deletes it at the end unless ``--keep-cluster``; ``local`` starts the cluster built here from
upstream sources; ``context:NAME`` attaches to an existing context (``minikube``,
``docker-desktop``, ``kind-dev`` ...) and never touches any other: every API client and every
kubectl/helm call names the context explicitly. ``auto`` and ``none`` are decided before this, in
:mod:`harness.providers.choice`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.providers.provider import ClusterProvider

USAGE = ("--cluster=auto (kind, else the local cluster, when the machine can run one), "
         "--cluster=kind (throwaway kind cluster), --cluster=local (the cluster built here from upstream "
         "sources) or --cluster=context:NAME (e.g. context:minikube)")
CONTEXT_NAME = re.compile(r"^[A-Za-z0-9@._:/-]+$")
KIND_CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")


class ClusterOptionError(ValueError):
    """A --cluster value that names no provider; the message shows the accepted forms."""


@dataclass(frozen=True)
class ClusterSpec:
    """What --cluster asked for: ``kind`` (with a cluster name), ``local`` or ``context`` (with its name)."""

    kind: str  # a key of SESSION_PROVIDERS
    name: str


def parse_cluster_option(value: str, kind_cluster_name: str = "todo-verify") -> ClusterSpec:
    """``kind`` | ``kind:NAME`` | ``local`` | ``context:NAME`` → :class:`ClusterSpec`."""
    raw = (value or "").strip()
    head, sep, tail = raw.partition(":")
    if head == "kind":
        name = tail or kind_cluster_name
        if not KIND_CLUSTER_NAME.fullmatch(name):
            raise ClusterOptionError(f"--cluster={raw}: a kind cluster name is lowercase letters, digits, '-', '.'")
        return ClusterSpec("kind", name)
    if head == "local" and not sep:
        return ClusterSpec("local", "todo-local")
    if head == "context" and sep:
        if not tail or not CONTEXT_NAME.match(tail):
            raise ClusterOptionError(f"--cluster={raw}: name the kubeconfig context, e.g. --cluster=context:minikube")
        return ClusterSpec("context", tail)
    raise ClusterOptionError(f"--cluster={raw!r} is not understood: use {USAGE}")


def _kind(spec: ClusterSpec, keep: bool, workdir: Path | None) -> ClusterProvider:
    from harness.providers.kind import KindProvider

    return KindProvider(spec.name, keep=keep, workdir=workdir or REPO_ROOT / ".pytest-kind")


def _local(spec: ClusterSpec, keep: bool, workdir: Path | None) -> ClusterProvider:
    from harness.providers.local import LocalProvider

    return LocalProvider(keep=keep)


def _context(spec: ClusterSpec, keep: bool, workdir: Path | None) -> ClusterProvider:
    from harness.providers.context import ContextProvider

    return ContextProvider(spec.name)


# --cluster's form → the provider of the session's cluster (imported late: the local one pulls in
# harness.localk8s). ``keep`` leaves a cluster the session created; ``workdir`` holds kind's kubeconfig.
SESSION_PROVIDERS: dict[str, Callable[[ClusterSpec, bool, Path | None], ClusterProvider]] = {
    "kind": _kind, "local": _local, "context": _context,
}


def provider_for(spec: ClusterSpec, keep: bool = False, kind_workdir: Path | None = None) -> ClusterProvider:
    """The provider that sets up and tears down the cluster ``spec`` names."""
    return SESSION_PROVIDERS[spec.kind](spec, keep, kind_workdir)


def make_provider(option: str, keep: bool = False, kind_workdir: Path | None = None):
    """``--cluster`` value → (its :class:`ClusterSpec`, the provider that sets it up and tears it down)."""
    spec = parse_cluster_option(option)
    return spec, provider_for(spec, keep, kind_workdir)
