"""The locally built single-node cluster (``verification.lib.local_cluster``): ``--cluster=local``.

Starts the cluster of host processes when it is not running (binaries from the caches under
~/.cache/todo-chatbot, built from pinned upstream sources when missing) and stops it at the end
unless ``--keep-cluster``. A cluster that was already running (``make cluster-up``) is reused and
left running. Images reach the node with ``docker save | ctr images import`` into the cluster's
own containerd (no registry).
"""

from __future__ import annotations

from verification.lib import local_cluster
from verification.lib.diagnose import Environment


class LocalProvider:
    def __init__(self, keep: bool = False) -> None:
        self.layout = local_cluster.Layout()
        self.keep = keep
        self.context = local_cluster.CONTEXT
        self.kubeconfig = self.layout.kubeconfig
        self.environment = Environment("local", local_cluster.NODE_NAME)
        self._started = False

    def create(self) -> None:
        if local_cluster.status(self.layout)["running"]:
            return
        local_cluster.up(self.layout)
        self._started = True

    def load_image(self, image: str) -> None:
        local_cluster.load_docker_image(self.layout, image)

    def close(self) -> None:
        if self._started and not self.keep:
            local_cluster.down(self.layout)

    def describe(self) -> str:
        return f"local cluster {self.context} (host processes, kubeconfig {self.kubeconfig})"
