"""A bounded traffic pod inside the cluster: the counter of ``harness.deploy.k8s`` run from the
backend image, so requests go through the Services' own load balancing on every provider
(a ``kubectl port-forward`` sticks to one pod and would break on its restart, not the app's fault)."""

from __future__ import annotations

import time

from harness.core.wait import wait_for
from harness.deploy import k8s


class InClusterTraffic:
    """Context manager: a pod GETting ``urls`` in turn for at most ``max_seconds``; ``tally()`` reads the counts."""

    def __init__(self, release, urls: list[str], max_seconds: int = 240, name: str = "traffic"):
        self.release, self.urls, self.max_seconds = release, urls, max_seconds
        self.name = f"{name}-{k8s.random_suffix(5)}"

    def __enter__(self) -> InClusterTraffic:
        r = self.release
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "labels": {"app.kubernetes.io/part-of": "todo-chatbot-verification"}},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                "containers": [{
                    "name": "traffic", "image": r.images.backend, "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", k8s.IN_CLUSTER_TRAFFIC, *self.urls],
                    "env": [{"name": "MAX_SECONDS", "value": str(self.max_seconds)}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                }],
            },
        }
        r.cluster.core.create_namespaced_pod(r.namespace, pod)
        wait_for(lambda: (self.tally() or k8s.TrafficTally()).ok > 0,
                 what=f"traffic pod {self.name} to see its first successful request", timeout=90, interval=1)
        return self

    def log(self) -> str:
        return self.release.cluster.core.read_namespaced_pod_log(self.name, self.release.namespace)

    def tally(self) -> k8s.TrafficTally | None:
        try:
            return k8s.parse_tally(self.log())
        except Exception:  # noqa: BLE001 - not started yet
            return None

    def settle(self, seconds: float = 5) -> k8s.TrafficTally:
        """Let traffic run ``seconds`` more, then return the latest tally."""
        time.sleep(seconds)
        tally = self.tally()
        assert tally is not None, f"traffic pod {self.name} printed no tally: {self.log()[-500:]}"
        return tally

    def __exit__(self, *exc: object) -> None:
        self.release.cluster.core.delete_namespaced_pod(self.name, self.release.namespace, grace_period_seconds=0)
