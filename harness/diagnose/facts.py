"""Pod facts: what the rules know about a pod, wherever it came from.

Plain frozen dataclasses. The cluster tier fills them from Kubernetes API objects
(:func:`harness.diagnose.collect.pod_facts`); the runtime tier fills them from ``docker inspect``
(a container's ``OOMKilled``, exit code, health log).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProbeFacts:
    """One probe of a container: ``kind`` is readiness, liveness or startup."""

    kind: str
    path: str | None = None
    port: int | str | None = None
    handler: str = "httpGet"  # httpGet | tcpSocket | exec | grpc

    def describe(self) -> str:
        if self.handler == "httpGet":
            return f"{self.kind} probe GET :{self.port}{self.path or '/'}"
        return f"{self.kind} probe ({self.handler} {self.port or ''})".rstrip()


@dataclass(frozen=True)
class ContainerFacts:
    """What is known about one container: its state now, its last termination, its spec."""

    name: str
    image: str = ""
    ready: bool | None = None
    state: str = "unknown"  # waiting | running | terminated | unknown
    reason: str | None = None  # waiting or terminated reason (ImagePullBackOff, OOMKilled, ...)
    message: str | None = None
    exit_code: int | None = None
    last_reason: str | None = None  # reason of the previous termination
    last_exit_code: int | None = None
    restart_count: int = 0
    memory_limit: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    cpu_request: str | None = None
    pull_policy: str | None = None
    probes: tuple[ProbeFacts, ...] = ()
    # env name -> "secret:NAME/KEY" | "configmap:NAME/KEY" | "literal" | "field"
    env_sources: Mapping[str, str] = field(default_factory=dict)
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventFacts:
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int = 1
    object_kind: str = "Pod"
    object_name: str = ""


@dataclass(frozen=True)
class PodFacts:
    name: str
    namespace: str = "default"
    phase: str = "Unknown"
    component: str | None = None  # app.kubernetes.io/component
    release: str | None = None  # app.kubernetes.io/instance: the Helm release
    # (type, status, reason, message), e.g. ("PodScheduled", "False", "Unschedulable", "0/1 nodes ...")
    conditions: tuple[tuple[str, str, str | None, str | None], ...] = ()
    containers: tuple[ContainerFacts, ...] = ()
    events: tuple[EventFacts, ...] = ()
    # Allocatable {"cpu": ..., "memory": ...} of the cluster's largest node, when the reader may list
    # nodes: tells "this pod fits no node at all" (lower its requests) from "the nodes are full".
    largest_node: tuple[tuple[str, str], ...] = ()

    def condition(self, kind: str) -> tuple[str, str, str | None, str | None] | None:
        return next((c for c in self.conditions if c[0] == kind), None)
