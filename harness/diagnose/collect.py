"""Collection: pod facts from Kubernetes API objects, and from a live namespace.

:func:`pod_facts` turns a ``V1Pod`` (or the plain dict of ``kubectl get -o json``), its
``CoreV1Event``s and its containers' logs into :class:`PodFacts`; :func:`collect` reads a namespace
through the ``kubernetes`` client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from harness.diagnose.facts import ContainerFacts, EventFacts, PodFacts, ProbeFacts


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def as_api_object(data: Any, klass: str) -> Any:
    """A ``kubernetes.client`` model from a plain dict (``kubectl get -o json``), or ``data`` itself."""
    if not isinstance(data, dict):
        return data
    from kubernetes.client import ApiClient

    return ApiClient()._ApiClient__deserialize(data, klass)  # noqa: SLF001 - the client's own decoder


def _probe(kind: str, probe: Any) -> ProbeFacts | None:
    if probe is None:
        return None
    if (http := probe.http_get) is not None:
        return ProbeFacts(kind, http.path, http.port, "httpGet")
    if (tcp := probe.tcp_socket) is not None:
        return ProbeFacts(kind, None, tcp.port, "tcpSocket")
    if probe._exec is not None:  # noqa: SLF001 - the model's name for 'exec'
        return ProbeFacts(kind, None, None, "exec")
    return ProbeFacts(kind, None, None, "grpc")


def _env_sources(spec: Any) -> dict[str, str]:
    sources: dict[str, str] = {}
    for var in spec.env or []:
        ref = var.value_from
        if ref is None:
            sources[var.name] = "literal"
        elif ref.secret_key_ref is not None:
            sources[var.name] = f"secret:{ref.secret_key_ref.name}/{ref.secret_key_ref.key}"
        elif ref.config_map_key_ref is not None:
            sources[var.name] = f"configmap:{ref.config_map_key_ref.name}/{ref.config_map_key_ref.key}"
        else:
            sources[var.name] = "field"
    return sources


def _state(state: Any) -> tuple[str, str | None, str | None, int | None]:
    if state is None:
        return "unknown", None, None, None
    if state.waiting is not None:
        return "waiting", state.waiting.reason, state.waiting.message, None
    if state.terminated is not None:
        t = state.terminated
        return "terminated", t.reason, t.message, t.exit_code
    if state.running is not None:
        return "running", None, None, None
    return "unknown", None, None, None


def pod_facts(pod: Any, events: Iterable[Any] = (), logs: Mapping[str, str] | None = None) -> PodFacts:
    """:class:`PodFacts` from a ``V1Pod`` (or its dict), its ``CoreV1Event``s and logs per container."""
    pod = as_api_object(pod, "V1Pod")
    logs = logs or {}
    specs = {c.name: c for c in (_get(pod, "spec", "containers") or [])}
    statuses = {s.name: s for s in (_get(pod, "status", "container_statuses") or [])}
    containers = []
    for name, spec in specs.items():
        status = statuses.get(name)
        state, reason, message, exit_code = _state(status.state if status else None)
        last_state, last_reason, _, last_exit = _state(status.last_state if status else None)
        limits = _get(spec, "resources", "limits") or {}
        requests = _get(spec, "resources", "requests") or {}
        probes = tuple(
            p
            for p in (
                _probe("readiness", spec.readiness_probe),
                _probe("liveness", spec.liveness_probe),
                _probe("startup", spec.startup_probe),
            )
            if p is not None
        )
        containers.append(
            ContainerFacts(
                name=name,
                image=spec.image or "",
                ready=status.ready if status else None,
                state=state,
                reason=reason,
                message=message,
                exit_code=exit_code,
                last_reason=last_reason if last_state == "terminated" else None,
                last_exit_code=last_exit if last_state == "terminated" else None,
                restart_count=status.restart_count if status else 0,
                memory_limit=limits.get("memory"),
                cpu_limit=limits.get("cpu"),
                memory_request=requests.get("memory"),
                cpu_request=requests.get("cpu"),
                pull_policy=spec.image_pull_policy,
                probes=probes,
                env_sources=_env_sources(spec),
                log_tail=tuple((logs.get(name) or "").splitlines()[-40:]),
            )
        )
    name = _get(pod, "metadata", "name") or "?"
    event_facts = []
    for raw in events:
        event = as_api_object(raw, "CoreV1Event")
        involved = event.involved_object
        if involved is not None and involved.name not in (None, name):
            continue
        event_facts.append(
            EventFacts(
                type=event.type or "Normal",
                reason=event.reason or "",
                message=event.message or "",
                count=event.count or 1,
                object_kind=(involved.kind if involved else None) or "Pod",
                object_name=(involved.name if involved else None) or name,
            )
        )
    conditions = tuple(
        (c.type, c.status, c.reason, c.message) for c in (_get(pod, "status", "conditions") or [])
    )
    labels = _get(pod, "metadata", "labels") or {}
    return PodFacts(
        name=name,
        namespace=_get(pod, "metadata", "namespace") or "default",
        phase=_get(pod, "status", "phase") or "Unknown",
        component=labels.get("app.kubernetes.io/component"),
        release=labels.get("app.kubernetes.io/instance"),
        conditions=conditions,
        containers=tuple(containers),
        events=tuple(event_facts),
    )


# --- collection from a live cluster and the report -------------------------------------------------


def collect(core: Any, namespace: str, selector: str | None = None, log_lines: int = 40) -> list[PodFacts]:
    """Pods of ``namespace`` (optionally by label ``selector``) with their events and last logs."""
    pods = core.list_namespaced_pod(namespace, label_selector=selector or "").items
    events = core.list_namespaced_event(namespace).items
    largest = _largest_node(core)
    events.sort(key=lambda e: str(e.last_timestamp or e.event_time or e.first_timestamp or ""))
    result = []
    for pod in pods:
        logs: dict[str, str] = {}
        for status in pod.status.container_statuses or []:
            for previous in ([True] if status.restart_count else []) + [False]:
                try:
                    text = core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=status.name, tail_lines=log_lines,
                        previous=previous,
                    )
                except Exception:  # noqa: BLE001 - no logs yet (waiting container) is normal
                    continue
                if text:
                    logs[status.name] = text
                    break
        mine = [e for e in events if e.involved_object and e.involved_object.name == pod.metadata.name]
        result.append(dataclasses.replace(pod_facts(pod, mine, logs), largest_node=largest))
    return result


def _largest_node(core: Any) -> tuple[tuple[str, str], ...]:
    """The allocatable cpu and memory of the node with the most cpu; () when nodes cannot be read
    (a namespaced user without that permission still gets every other finding)."""
    from harness.kube.quantities import quantity

    try:
        nodes = core.list_node(_request_timeout=10).items
    except Exception:  # noqa: BLE001 - optional fact
        return ()
    sizes = [n.status.allocatable or {} for n in nodes if n.status]
    if not sizes:
        return ()
    best = max(sizes, key=lambda a: (quantity(a.get("cpu") or "0"), quantity(a.get("memory") or "0")))
    return tuple((k, str(best[k])) for k in ("cpu", "memory") if best.get(k))
