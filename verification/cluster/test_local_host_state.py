"""The local cluster leaves the machine as it found it, and exposes nothing unexpected while it runs.

A self-test of ``harness.localk8s`` (the cluster built here runs as root on the developer's own
machine), not of the product: it proves no spec ID. It runs first in the tier (see conftest), before
the tier's shared cluster starts, and starts and stops a cluster of its own around a capture of the
host's state: kernel settings the components may change, every iptables rule, network links,
mounts and listening sockets. Before ``up`` and after ``down`` they must be identical; while the
cluster runs, only the API server and the kubelet may listen beyond loopback (on the node's address).
"""

from __future__ import annotations

import difflib

import pytest

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


def _differences(before: dict, after: dict) -> list[str]:
    """What differs; for sockets only what is new (another process on the machine may close one)."""
    lines = []
    for key in before:
        if before[key] == after[key]:
            continue
        if key == "listening":
            lines += [f"listening +{s}" for s in sorted(set(after[key]) - set(before[key]))]
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
        new = sorted(s for s in set(during["listening"]) - set(before["listening"])
                     if s.split()[2] in CLUSTER_PROCESSES)
        exposed = [s for s in new if not hoststate.is_loopback(s.split()[1]) and s.split()[1] not in allowed]
        route_localnet = during["sysctls"].get("net.ipv4.conf.all.route_localnet")
        set_while_running = {k: f"{before['sysctls'][k]} -> {v}" for k, v in during["sysctls"].items()
                             if v != before["sysctls"].get(k)}
    finally:
        left = down(layout)
    after = hoststate.capture()
    record_property("evidence", f"while running, new listeners: {new}; kernel settings the cluster changed "
                                f"(restored by down): {set_while_running or 'none'}")
    assert not left, f"down left behind: {left}"
    # The sockets are told apart by process: a check that saw none of the cluster's would prove nothing.
    assert any(s.split()[1] == f"{node}:{APISERVER_PORT}" for s in new), f"the API server's socket was not seen: {new}"
    assert not exposed, f"listening beyond loopback and the node's API server/kubelet ports: {exposed}"
    assert route_localnet == before["sysctls"].get("net.ipv4.conf.all.route_localnet"), (
        f"net.ipv4.conf.all.route_localnet was {route_localnet} while the cluster ran (localhost NodePorts)")
    changed = _differences(before, after)
    assert not changed, "the host differs after down:\n" + "\n".join(changed[:40])
