"""Voluntary disruptions as the cluster's own tools make them: the Eviction API (what ``kubectl
drain`` and the cluster autoscaler call, and what a PodDisruptionBudget guards), cordoning a node,
and ``kubectl drain`` itself. No pytest here.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from harness.deploy.target import Target

BUDGET_REFUSAL = "disruption budget"  # in the API server's 429 answer and in kubectl drain's retries


@dataclass(frozen=True)
class Eviction:
    pod: str
    accepted: bool
    at: float  # wall-clock time of the answer
    message: str  # the API server's reason when refused


def evict(core, namespace: str, pod: str) -> Eviction:
    """Ask the Eviction API to evict ``pod``: accepted (201), or refused (429: a disruption budget
    would be violated) with the API server's message. Any other answer is raised."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
    try:
        core.create_namespaced_pod_eviction(pod, namespace, body)
    except ApiException as exc:
        if exc.status == 429:
            return Eviction(pod, False, time.time(), _reason(exc))
        raise
    return Eviction(pod, True, time.time(), "")


def _reason(exc) -> str:
    import json

    try:
        return json.loads(exc.body).get("message") or str(exc.reason)
    except (TypeError, ValueError):
        return str(exc.body or exc.reason)


def ready_since(pod) -> float | None:
    """Wall-clock time the pod's Ready condition last became True, or None when it is not Ready."""
    ready = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
    if ready is None or ready.status != "True" or ready.last_transition_time is None:
        return None
    return ready.last_transition_time.timestamp()


@dataclass(frozen=True)
class DrainResult:
    returncode: int
    output: str
    seconds: float

    @property
    def budget_refusals(self) -> list[str]:
        return [line.strip() for line in self.output.splitlines() if BUDGET_REFUSAL in line]

    @property
    def evicted(self) -> list[str]:
        """Pods kubectl reports evicted (``pod/NAME evicted``)."""
        return [line.split()[0].removeprefix("pod/") for line in self.output.splitlines() if line.strip().endswith(" evicted")]


def drain(target: Target, node: str, pod_selector: str, timeout_s: int) -> DrainResult:
    """``kubectl drain NODE --pod-selector=…`` (cordons the node, evicts the selected pods through the
    Eviction API, retrying refused ones every 5 s) with kubectl's own ``--timeout``; its exit status
    and output are returned, not raised: on a single node, a drain that respects the budgets cannot
    finish, and that is what a caller looks at."""
    argv = target.kubectl_argv("drain", node, f"--pod-selector={pod_selector}", "--ignore-daemonsets",
                               "--delete-emptydir-data", f"--timeout={timeout_s}s")
    start = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout_s + 60)
    return DrainResult(result.returncode, result.stdout + result.stderr, time.monotonic() - start)


def uncordon(core, node: str) -> None:
    """``kubectl uncordon``: the node takes new pods again."""
    core.patch_node(node, {"spec": {"unschedulable": None}})
