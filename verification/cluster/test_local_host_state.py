"""The local cluster leaves the machine as it found it, and exposes nothing unexpected while it runs.

A self-test of ``harness.localk8s`` (the cluster built here runs as root on the developer's own
machine), not of the product: it proves no spec ID. It runs first in the tier (see conftest), before
the tier's shared cluster starts, and starts and stops a cluster of its own around a capture of the
host's state: kernel settings the components may change, every iptables rule, network links,
mounts and listening sockets. Before ``up`` and after ``down`` they must be identical; while the
cluster runs, only the API server and the kubelet may listen beyond loopback, on the node's address
on the cluster's own bridge, and nothing of the cluster answers on the host's LAN address (issue 27).
"""

from __future__ import annotations

import difflib
import json
import socket

import pytest

from harness.core.processes import run
from harness.localk8s import hoststate
from harness.localk8s.cluster import down, status, up
from harness.localk8s.config import APISERVER_PORT, Layout
from harness.localk8s.network import node_ip
from verification.tiers import local_cluster_requested

pytestmark = pytest.mark.harness

KUBELET_PORT = 10250
# The processes the cluster runs on the host (pods' own sockets live in their network namespaces).
CLUSTER_PROCESSES = {"etcd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "kube-apiserver",
                     "kube-controller", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}


def _lan_address() -> str | None:
    """The host's address on its default route's interface (what the LAN reaches), if it has one."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default"]).stdout or "[]")
    for link in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        if any(r.get("dev") == link.get("ifname") for r in routes):
            return next((a["local"] for a in link.get("addr_info", [])), None)
    return None


def _answers(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _nodeport_jumps() -> list[str]:
    """The iptables rules that send traffic to kube-proxy's NodePort chain."""
    rules = run(["iptables-save", "-t", "nat"], check=False).stdout.splitlines()
    return [r for r in rules if r.startswith("-A ") and "-j KUBE-NODEPORTS" in r]


def _differences(before: dict, after: dict) -> list[str]:
    """What differs; for sockets only the cluster's new ones (another process may open or close one)."""
    lines = []
    for key in before:
        if before[key] == after[key]:
            continue
        if key == "listening":
            # Only the cluster's processes: other programs on the machine (a test session beside this
            # one) open and close sockets of their own meanwhile.
            lines += [f"listening +{s}" for s in sorted(set(after[key]) - set(before[key]))
                      if s.split()[2] in CLUSTER_PROCESSES]
            continue
        if isinstance(before[key], dict):
            lines += [f"{key} {k}: {before[key].get(k)} -> {after[key].get(k)}"
                      for k in sorted(set(before[key]) | set(after[key])) if before[key].get(k) != after[key].get(k)]
        else:
            lines += [f"{key} {line}" for line in difflib.unified_diff(before[key], after[key], lineterm="", n=0)
                      if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    return lines


def test_the_local_cluster_leaves_the_host_as_it_found_it(request, record_property):
    if not local_cluster_requested(request.config):
        pytest.skip("only with --cluster=local: the other providers' clusters do not run on this host")
    layout = Layout()
    if status(layout)["running"]:
        pytest.skip("a local cluster is already running (make cluster-up?): this test must start and stop its own")
    before = hoststate.capture()
    up(layout, build=False)  # the binaries were built (or reused) after collection
    try:
        during = hoststate.capture()
        node = node_ip()
        allowed = {f"{node}:{APISERVER_PORT}", f"{node}:{KUBELET_PORT}"}
        lan = _lan_address()
        # Black-box, from this host: the API server and the kubelet answer on the node's address,
        # nothing on the LAN address; the NodePorts are DNATed only when sent to the node's address.
        answering = {f"{host}:{port}": _answers(host, port) for host in filter(None, (node, lan))
                     for port in (APISERVER_PORT, KUBELET_PORT)}
        nodeport_jumps = _nodeport_jumps()
        new = sorted(s for s in set(during["listening"]) - set(before["listening"])
                     if s.split()[2] in CLUSTER_PROCESSES)
        exposed = [s for s in new if not hoststate.is_loopback(s.split()[1]) and s.split()[1] not in allowed]
        route_localnet = during["sysctls"].get("net.ipv4.conf.all.route_localnet")
        set_while_running = {k: f"{before['sysctls'][k]} -> {v}" for k, v in during["sysctls"].items()
                             if v != before["sysctls"].get(k)}
    finally:
        left = down(layout)
    after = hoststate.capture()
    record_property("evidence", f"while running, new listeners: {new}; answering: {answering}; "
                                f"kernel settings the cluster changed "
                                f"(restored by down): {set_while_running or 'none'}")
    assert not left, f"down left behind: {left}"
    # The sockets are told apart by process: a check that saw none of the cluster's would prove nothing.
    assert any(s.split()[1] == f"{node}:{APISERVER_PORT}" for s in new), f"the API server's socket was not seen: {new}"
    assert not exposed, f"listening beyond loopback and the node's API server/kubelet ports: {exposed}"
    assert answering[f"{node}:{APISERVER_PORT}"] and answering[f"{node}:{KUBELET_PORT}"], (
        f"the API server and the kubelet must answer on the node's address {node}: {answering}")
    if lan:  # a machine without a default route has no LAN address to check
        assert not any(answering[f"{lan}:{port}"] for port in (APISERVER_PORT, KUBELET_PORT)), (
            f"the cluster answers on the host's LAN address {lan}: {answering}")
    assert nodeport_jumps and all(f"-d {node}/32" in rule for rule in nodeport_jumps), (
        f"NodePorts must be DNATed only for the node's address {node}: {nodeport_jumps}")
    assert route_localnet == before["sysctls"].get("net.ipv4.conf.all.route_localnet"), (
        f"net.ipv4.conf.all.route_localnet was {route_localnet} while the cluster ran (localhost NodePorts)")
    changed = _differences(before, after)
    assert not changed, "the host differs after down:\n" + "\n".join(changed[:40])
