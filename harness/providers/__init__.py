"""Cluster providers for the cluster tier: a throwaway kind cluster, the local cluster built from
sources, or a named kubeconfig context; ``--cluster=auto`` picks the first of the first two that
this machine can have (:func:`choose_automatically`).

``--cluster=kind`` creates a cluster (pytest-kind-ng when installed, else the ``kind`` CLI)
and deletes it at the end unless ``--keep-cluster``. ``--cluster=context:NAME`` attaches to an
existing context (``minikube``, ``docker-desktop``, ``kind-dev`` ...) and never touches any
other: every API client and every kubectl/helm call names the context explicitly.

Which kind of cluster a context is (:class:`Environment`, :func:`flavour_of_context`) lives in
:mod:`harness.providers.environment`; the commands that depend on it — how a locally built image
reaches the nodes (``kind load docker-image``, ``minikube image load``, ``python -m harness.localk8s
load`` for the local cluster, nothing for Docker Desktop, which shares the Docker engine) and how a
cluster gets more room — in :mod:`harness.providers.commands`, for the providers, the preflight,
the diagnosis and ``scripts/deploy.sh`` (``python -m harness.providers load --context CTX IMAGE``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.providers.commands import (
    image_load_advice,
    image_load_argv,
    image_load_command,
    load_image,
    more_resources_command,
)
from harness.providers.environment import PROVIDERS, Environment, flavour_of_context, parse_provider

__all__ = [
    "AUTO", "PROVIDERS", "USAGE", "ClusterOptionError", "ClusterSpec", "Environment", "choose_automatically",
    "flavour_of_context", "image_load_advice", "image_load_argv", "image_load_command", "load_image",
    "make_provider", "more_resources_command", "parse_cluster_option", "parse_provider",
]

USAGE = ("--cluster=auto (kind, else the local cluster, when the machine can run one), "
         "--cluster=kind (throwaway kind cluster), --cluster=local (the cluster built here from upstream "
         "sources) or --cluster=context:NAME (e.g. context:minikube)")
CONTEXT_NAME = re.compile(r"^[A-Za-z0-9@._:/-]+$")


class ClusterOptionError(ValueError):
    """A --cluster value that names no provider; the message shows the accepted forms."""


@dataclass(frozen=True)
class ClusterSpec:
    """What --cluster asked for: ``kind`` (with a cluster name) or ``context`` (with its name)."""

    kind: str  # "kind" | "local" | "context"
    name: str


AUTO = "auto"


def choose_automatically(
    which: Callable[[str], str | None] = shutil.which,
    docker_answers: Callable[[], bool] | None = None,
    local_missing: Callable[[], list[tuple[str, str]]] | None = None,
) -> tuple[str | None, str]:
    """``--cluster=auto``: the best cluster this machine can have without touching the user's own.

    kind (a throwaway cluster) when ``kind`` and a Docker engine are there, else the cluster built
    here from sources when this machine can run it (Linux, root, Go, the host tools), else none.
    Named contexts (minikube, docker-desktop) are never chosen: they are used only when asked.
    Returns (the --cluster value or None, why: the choice, or what would give a cluster).
    """
    if docker_answers is None:
        docker_answers = _docker_answers
    if local_missing is None:
        from harness.localk8s.prerequisites import missing_prerequisites as local_missing
    if which("kind") and docker_answers():
        return "kind", "kind and a Docker engine are here: a throwaway kind cluster"
    problems = local_missing()
    if not problems:
        return "local", "no kind here; this machine can build and run the local cluster"
    first = "; ".join(f"{what} ({fix})" for what, fix in problems[:3])
    return None, (f"no cluster to use: install kind ('go install sigs.k8s.io/kind@v0.33.0') with a Docker engine, "
                  f"or make the local cluster possible: {first}; or name one: make test CLUSTER=context:minikube")


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


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


def make_provider(option: str, keep: bool = False, kind_workdir: Path | None = None):
    """``--cluster`` value → (its :class:`ClusterSpec`, the provider that sets it up and tears it down)."""
    spec = parse_cluster_option(option)
    if spec.kind == "kind":
        from harness.providers.kind import KindProvider

        return spec, KindProvider(spec.name, keep=keep, workdir=kind_workdir or REPO_ROOT / ".pytest-kind")
    if spec.kind == "local":
        from harness.providers.local import LocalProvider

        return spec, LocalProvider(keep=keep)
    from harness.providers.context import ContextProvider

    return spec, ContextProvider(spec.name)
