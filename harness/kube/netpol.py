"""Who may talk to whom under a set of NetworkPolicies: Kubernetes' semantics, evaluated offline.

    from harness.kube import netpol
    frontend = netpol.Endpoint(labels={...component: frontend}, namespace="todo-chatbot")
    backend = netpol.Endpoint(labels={...component: backend}, namespace="todo-chatbot")
    netpol.can_connect(manifests, frontend, backend, 8000)          # True / False
    netpol.can_connect(manifests, backend, netpol.external("203.0.113.7"), 5432)

The rules (networking.k8s.io/v1): a pod selected by no policy of a direction is open in that
direction; a selected pod allows what any rule of any selecting policy allows. A rule with no
peers matches every peer, with no ports every port. ``podSelector`` alone means the policy's
namespace; ``namespaceSelector`` with ``podSelector`` in one peer means both must match.
``ipBlock`` matches addresses outside the cluster (pods are given none here). Only
``matchLabels`` selectors are understood; anything else raises, so a test cannot pass by accident.
A connection needs the source's egress *and* the destination's ingress to allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels in a namespace) or, with ``ip``, an address outside the cluster."""

    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    namespace_labels: Mapping[str, str] | None = None  # default: {kubernetes.io/metadata.name: namespace}
    ip: str | None = None

    @property
    def ns_labels(self) -> Mapping[str, str]:
        if self.namespace_labels is not None:
            return self.namespace_labels
        return {NAMESPACE_NAME_LABEL: self.namespace} if self.namespace else {}


def external(ip: str) -> Endpoint:
    return Endpoint(ip=ip)


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    selector = selector or {}
    if set(selector) - {"matchLabels"}:
        raise NotImplementedError(f"only matchLabels selectors are evaluated, got {sorted(selector)}")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if other.ip is not None:
        return False
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], other.ns_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    return _matches(peer.get("podSelector"), other.labels)


def _port_matches(ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    ports = list(ports or [])
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        if isinstance(p["port"], str):
            raise NotImplementedError(f"named port {p['port']!r} is not evaluated")
        if p["port"] <= port <= p.get("endPort", p["port"]):
            return True
    return False


def _policies(manifests: Iterable[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == "NetworkPolicy"]


def _direction_allows(
    manifests: Iterable[Manifest], pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str
) -> bool:
    peers_key = "from" if direction == "Ingress" else "to"
    selecting = [
        p for p in _policies(manifests)
        if p["metadata"].get("namespace") == pod.namespace
        and _matches(p["spec"].get("podSelector"), pod.labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]  # fmt: skip
    if not selecting:
        return True
    ns = pod.namespace or ""
    for policy in selecting:
        for rule in policy["spec"].get(direction.lower()) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, ns, other) for peer in peers)) and _port_matches(
                rule.get("ports"), port, protocol
            ):
                return True
    return False


def ingress_allows(manifests: Iterable[Manifest], dst: Endpoint, src: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """The destination pod's policies let ``src`` in on ``port``."""
    return _direction_allows(list(manifests), dst, src, port, protocol, "Ingress")


def egress_allows(manifests: Iterable[Manifest], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """The source pod's policies let it out to ``dst`` on ``port``."""
    return _direction_allows(list(manifests), src, dst, port, protocol, "Egress")


def can_connect(manifests: Iterable[Manifest], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """Both ends allow it: the source's egress (when it is a pod) and the destination's ingress (when a pod)."""
    manifests = list(manifests)
    out = src.ip is not None or egress_allows(manifests, src, dst, port, protocol)
    into = dst.ip is not None or ingress_allows(manifests, dst, src, port, protocol)
    return out and into
