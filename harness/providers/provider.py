"""The two interfaces every provider module implements (as e2e-framework's ``E2EClusterProvider``
with its optional image loader):

* :class:`Provider` — one kind of cluster (kind, Minikube, Docker Desktop, the local cluster ...):
  what it needs on PATH, how it is recognised from a kubeconfig context, how a local image reaches
  its nodes and leaves them again, how it is started, how it gets more room, how its nodes are
  reached from the host. :class:`GenericProvider` is a cluster nothing is known about; each kind
  of cluster subclasses it and overrides what differs, so nothing outside its module branches on
  its name.
* :class:`ClusterProvider` — the cluster of one session (``--cluster=kind|local|context:NAME``):
  set up, checked, given images, closed.

Only the standard library is imported here: ``scripts/deploy.sh`` runs ``python -m harness.providers``
with any Python 3.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from harness.providers.environment import Environment

# Every cluster needs these: the tier builds (or reuses) the images in Docker, kubectl and Helm deploy.
BASE_TOOLS = ("docker", "kubectl", "helm")
REPLICAS_DOWN = "--set backend.replicaCount=1 --set frontend.replicaCount=1"


class Provider(Protocol):
    """One kind of cluster; :class:`GenericProvider` documents each member (``cluster`` is the
    :class:`Environment`'s: the kind cluster's name, the Minikube profile, the local node)."""

    name: str  # Environment.provider
    tools: Mapping[str, str]  # what a cluster of this kind needs on PATH besides BASE_TOOLS → how to install it
    shares_docker_images: bool  # its nodes use the Docker engine's images: nothing to load

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None: ...
    def default_cluster(self) -> str | None: ...
    def image_load_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None: ...
    def image_remove_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None: ...
    def typed(self, argv: list[str]) -> str: ...
    def image_load_advice(self, image: str, command: str | None) -> str: ...
    def start_command(self, cluster: str | None) -> str: ...
    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str: ...
    def node_hosts(self) -> list[str]: ...


class GenericProvider:
    """A cluster nothing is known about (a cloud context, say): no loader, generic advice."""

    name = "unknown"
    tools: Mapping[str, str] = {}
    shares_docker_images = False

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None:
        """This kind's :class:`Environment` when ``context`` (or its node's labels) is one, else None."""
        return None

    def default_cluster(self) -> str | None:
        """The cluster an explicit ``--provider NAME`` without ``:CLUSTER`` means."""
        return None

    def image_load_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        """None: the image must come from a registry the cluster can pull from."""
        return None

    def image_remove_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        """Undoes :meth:`image_load_argv` (None exactly where that is None)."""
        return None

    def typed(self, argv: list[str]) -> str:
        """``argv`` (of :meth:`image_load_argv`) as a person would type it."""
        return shlex.join(argv)

    def image_load_advice(self, image: str, command: str | None) -> str:
        """What to do so that the cluster has ``image``, given its load ``command`` (None: there is none)."""
        if command is not None:
            return command
        # Imported here: the registry imports every provider module, this one included.
        from harness.providers.commands import image_load_command

        kind = image_load_command(image, Environment("kind"))
        minikube = image_load_command(image, Environment("minikube", "minikube"))
        return (
            f"load {image} into the cluster's container runtime (kind: '{kind}', Minikube: '{minikube}') "
            "or push it to a registry the cluster can pull from"
        )

    def start_command(self, cluster: str | None) -> str:
        """How to start (or create) a cluster of this kind that does not answer (FR-038)."""
        return "start the cluster; 'kubectl config get-contexts' lists the contexts"

    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str:
        """How the cluster gets room for pods that no node can take (EC-1), to at least ``cpus`` and ``memory_mib``."""
        return "add a node or capacity, or lower the requests/replica counts (--set backend.replicaCount=1)"

    def node_hosts(self) -> list[str]:
        """Hosts a NodePort answers on besides the nodes' own addresses, most likely first."""
        return []


class ClusterProvider(Protocol):
    """The cluster of one session: ``create`` → checks and images → ``close`` (after failures too)."""

    context: str
    kubeconfig: Path
    environment: Environment
    keep: bool

    def required_tools(self) -> list[str]: ...
    def preflight_problems(self) -> list[tuple[str, str]]: ...
    def create(self) -> None: ...
    def refine(self, node_labels: dict[str, str]) -> None: ...
    def load_image(self, image: str) -> None: ...
    def remove_image(self, image: str) -> None: ...
    def close(self) -> None: ...
    def describe(self) -> str: ...


class LoadsImagesByCommand:
    """The image loader of a session whose cluster takes images by its provider's command."""

    environment: Environment

    def load_image(self, image: str) -> None:
        from harness.providers.commands import load_image  # the registry imports the provider modules

        load_image(image, self.environment)

    def remove_image(self, image: str) -> None:
        from harness.providers.commands import remove_image

        remove_image(image, self.environment)
