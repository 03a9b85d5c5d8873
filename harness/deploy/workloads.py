"""What the API server says of pods, Services and Deployments: readiness, ready endpoints, rollouts.

Plain reads, no waiting: the named conditions of :mod:`harness.deploy.conditions` poll these, and
tests call them for a one-off check or for a timeout message.
"""

from __future__ import annotations

from datetime import datetime, timezone


def pod_states(core, namespace: str, selector: str = "") -> str:
    """One line per pod: phase, readiness and each container's waiting/terminated reason."""
    lines = []
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        parts = []
        for s in pod.status.container_statuses or []:
            state = s.state
            why = (state.waiting and state.waiting.reason) or (state.terminated and state.terminated.reason) or ""
            parts.append(f"{s.name}:{'ready' if s.ready else 'not-ready'}{'/' + why if why else ''}/r{s.restart_count}")
        lines.append(f"{pod.metadata.name} {pod.status.phase} {' '.join(parts)}")
    return "; ".join(lines) or "no pods"


def pod_is_ready(pod) -> bool:
    ready = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
    return ready is not None and ready.status == "True"


def pods_ready(core, namespace: str, selector: str = "", expected: int | None = None) -> bool:
    pods = [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None]
    if not pods or (expected is not None and len(pods) != expected):
        return False
    return all(pod_is_ready(pod) for pod in pods)


def ready_endpoint_ips(core, namespace: str, service: str) -> set[str]:
    """The addresses the Service's EndpointSlices list as ready: where its traffic goes."""
    from kubernetes import client

    slices = client.DiscoveryV1Api(core.api_client).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return {address for s in slices for e in s.endpoints or []
            if e.conditions is None or e.conditions.ready is not False for address in e.addresses or []}


def service_routes_to_ready_pods(core, namespace: str, service: str) -> bool:
    """The Service's EndpointSlices list exactly the Ready pods it selects as ready endpoints."""
    svc = core.read_namespaced_service(service, namespace)
    selector = ",".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
    ready_ips = {p.status.pod_ip for p in core.list_namespaced_pod(namespace, label_selector=selector).items
                 if p.metadata.deletion_timestamp is None and p.status.pod_ip and pod_is_ready(p)}
    return bool(ready_ips) and ready_ips == ready_endpoint_ips(core, namespace, service)


def deployment_rolled_out(apps, namespace: str, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, namespace)
    want = d.spec.replicas or 0
    s = d.status
    return (
        (s.observed_generation or 0) >= (d.metadata.generation or 0)
        and (s.updated_replicas or 0) == want
        and (s.replicas or 0) == want
        and (s.available_replicas or 0) == want
    )


def rollout_restart(apps, namespace: str, name: str) -> None:
    """What ``kubectl rollout restart`` does: stamp the pod template so a new ReplicaSet rolls out."""
    stamp = datetime.now(timezone.utc).isoformat()
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    apps.patch_namespaced_deployment(name, namespace, body)
