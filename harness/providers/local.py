"""The locally built single-node cluster (``harness.localk8s``): ``--cluster=local``.

Starts the cluster of host processes when it is not running (binaries from the caches under
~/.cache/todo-chatbot, built from pinned upstream sources when missing) and stops it at the end
unless ``--keep-cluster``. A cluster that was already running (``make cluster-up``) is reused and
left running. Several sessions may share it at once: each holds a lease, and a cluster a session
started is stopped only by the last session out (``harness.localk8s.cluster.begin_session``).
Images reach the node with ``docker save | ctr images import`` into the cluster's own containerd
(no registry).
"""

from __future__ import annotations

from harness.localk8s import cluster as local_cluster
from harness.localk8s.config import CONTEXT, NODE_NAME, Layout
from harness.localk8s.images import load_docker_image
from harness.providers.environment import Environment


class LocalProvider:
    def __init__(self, keep: bool = False) -> None:
        self.layout = Layout()
        self.keep = keep
        self.context = CONTEXT
        self.kubeconfig = self.layout.kubeconfig
        self.environment = Environment("local", NODE_NAME)
        self._started = False
        self._leased = False

    def create(self) -> None:
        self._started = local_cluster.begin_session(self.layout)
        self._leased = True

    def load_image(self, image: str) -> None:
        load_docker_image(self.layout, image)

    def close(self) -> None:
        if self._leased:
            self._leased = False
            local_cluster.end_session(self.layout, keep=self.keep)

    def describe(self) -> str:
        return f"local cluster {self.context} (host processes, kubeconfig {self.kubeconfig})"
