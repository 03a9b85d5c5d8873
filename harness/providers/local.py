"""The locally built single-node cluster (``harness.localk8s``): the kind of cluster (:class:`Local`,
also reached as ``--cluster=context:todo-local``) and the session's cluster (:class:`LocalProvider`,
``--cluster=local``).

The session starts the cluster of host processes when it is not running (binaries from the caches
under ~/.cache/todo-chatbot, built from pinned upstream sources when missing) and stops it at the end
unless ``--keep-cluster``. A cluster that was already running (``make cluster-up``) is reused and
left running. Several sessions may share it at once: each holds a lease, and a cluster a session
started is stopped only by the last session out (``harness.localk8s.cluster.begin_session``).
Images reach the node with ``docker save | ctr images import`` into the cluster's own containerd
(no registry).

``harness.localk8s`` is imported late: ``python -m harness.providers`` (scripts/deploy.sh) imports
this module with any Python 3, and only the local cluster's own names are needed there.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.providers.environment import Environment
from harness.providers.provider import BASE_TOOLS, REPLICAS_DOWN, GenericProvider, LoadsImagesByCommand


def _context_and_node() -> tuple[str, str]:
    from harness.localk8s.config import CONTEXT, NODE_NAME

    return CONTEXT, NODE_NAME


class Local(GenericProvider):
    name = "local"

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None:
        local_context, node = _context_and_node()
        return Environment(self.name, node) if context and context == local_context else None

    def default_cluster(self) -> str | None:
        return _context_and_node()[1]

    def image_load_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        return [python, "-m", "harness.localk8s", "load", image]

    def image_remove_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        return [python, "-m", "harness.localk8s", "unload", image]

    def image_load_advice(self, image: str, command: str | None) -> str:
        return (f"{command} (from the repository's root: it copies the image from this machine's "
                "Docker engine into the local cluster's containerd)")

    def start_command(self, cluster: str | None) -> str:
        return "make cluster-up"

    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str:
        return (
            "the local cluster's node is this machine, so its room is this machine's CPUs and memory, and the "
            "scheduler counts the requests of the pods already on it (not how busy the host is): delete pods "
            f"it no longer needs (leftover test namespaces: 'kubectl get pods -A'), lower the requests: "
            f"{REPLICAS_DOWN}, or run the cluster on a machine with at least {cpus} CPUs and "
            f"{memory_mib // 1024} GB"
        )


LOCAL = Local()


class LocalProvider(LoadsImagesByCommand):
    """Loads in-process (no second interpreter per image); removes by ``python -m harness.localk8s unload``."""

    def __init__(self, keep: bool = False) -> None:
        from harness.localk8s.config import Layout

        self.layout = Layout()
        self.keep = keep
        self.context, node = _context_and_node()
        self.kubeconfig = self.layout.kubeconfig
        self.environment = Environment(LOCAL.name, node)
        self._started = False
        self._leased = False

    def required_tools(self) -> list[str]:
        return list(BASE_TOOLS)

    def preflight_problems(self) -> list[tuple[str, str]]:
        """What this machine lacks to build and run the cluster (Linux, root, Go, the host tools)."""
        from harness.localk8s.prerequisites import missing_prerequisites

        return missing_prerequisites()

    def create(self) -> None:
        from harness.localk8s import cluster as local_cluster

        self._started = local_cluster.begin_session(self.layout)
        self._leased = True

    def refine(self, node_labels: dict[str, str]) -> None:
        """The cluster built here is known already."""

    def load_image(self, image: str) -> None:
        from harness.localk8s.images import load_docker_image

        load_docker_image(self.layout, image)

    def close(self) -> None:
        if self._leased:
            self._leased = False
            from harness.localk8s import cluster as local_cluster

            local_cluster.end_session(self.layout, keep=self.keep)

    def describe(self) -> str:
        return f"local cluster {self.context} (host processes, kubeconfig {self.kubeconfig})"
