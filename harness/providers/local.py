"""The locally built single-node cluster (``harness.localk8s.cluster``): ``--cluster=local``.

Starts the cluster of host processes when it is not running (binaries from the caches under
~/.cache/todo-chatbot, built from pinned upstream sources when missing) and stops it at the end
unless ``--keep-cluster``. A cluster that was already running (``make cluster-up``) is reused and
left running. Several sessions may share it at once: each holds a lease, and a cluster a session
started is stopped only by the last session out (``local_cluster.begin_session``). Images reach the node with ``docker save | ctr images import`` into the cluster's
own containerd (no registry).
"""

from __future__ import annotations

from harness.diagnose.rules import Environment
from harness.localk8s import cluster as local_cluster


class LocalProvider:
    def __init__(self, keep: bool = False) -> None:
        self.layout = local_cluster.Layout()
        self.keep = keep
        self.context = local_cluster.CONTEXT
        self.kubeconfig = self.layout.kubeconfig
        self.environment = Environment("local", local_cluster.NODE_NAME)
        self._started = False
        self._leased = False

    def create(self) -> None:
        self._started = local_cluster.begin_session(self.layout)
        self._leased = True

    def load_image(self, image: str) -> None:
        local_cluster.load_docker_image(self.layout, image)

    def close(self) -> None:
        if self._leased:
            self._leased = False
            local_cluster.end_session(self.layout, keep=self.keep)

    def describe(self) -> str:
        return f"local cluster {self.context} (host processes, kubeconfig {self.kubeconfig})"
