"""The local cluster's networking on the host: the node's address (on the cluster's own bridge), the
CNI plugins, the FORWARD rules that let pod traffic through, and the removal of what the cluster's
networking leaves behind (its iptables rules and chains — only those that were not there before
``up`` —, pod network namespaces, its ``todo0`` bridge)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from harness.core.processes import run
from harness.localk8s import hoststate
from harness.localk8s.config import (
    BRIDGE,
    CNI_BIN_DIRS,
    FORWARD_CHAIN,
    NODE_ADDRESS,
    NODE_IP,
    RULE_COMMENT,
    Layout,
    forward_rules,
    rules_to_delete,
)

NETNS_DIR = Path("/var/run/netns")


def node_ip() -> str:
    """The node's address: the gateway of the pods' bridge (``NODE_IP``), never the host's LAN address.

    The API server, the kubelet and the NodePorts listen on it. Being on the cluster's own bridge,
    it is reachable from this host and from the pods, but not from the machine's network (issue 27:
    on the host's primary address they were open to the LAN). Pods reach the API server through the
    ``kubernetes`` Service, which kube-proxy translates to this address.
    """
    return NODE_IP


def create_bridge() -> None:
    """The ``todo0`` bridge with the node's address, before any component starts (the API server
    binds to it). The CNI bridge plugin later finds it with exactly the address it would give its
    gateway (the first of NODE_POD_CIDR) and keeps it; ``down`` deletes the bridge (remove_bridge)."""
    if not bridge_present():
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    if NODE_IP not in run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]).stdout.split():
        run(["ip", "addr", "add", NODE_ADDRESS, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def cni_bin_dir() -> str:
    for d in CNI_BIN_DIRS:
        if Path(d, "bridge").exists():
            return d
    raise RuntimeError("CNI plugins missing: apt-get install containernetworking-plugins")


def install_forward_rules() -> None:
    """FORWARD_CHAIN with forward_rules, jumped to from the end of FORWARD (idempotent)."""
    ipt = ["iptables", "-w", "-t", "filter"]
    run([*ipt, "-N", FORWARD_CHAIN], check=False)  # exists already: fine
    run([*ipt, "-F", FORWARD_CHAIN])
    for rule in forward_rules():
        run([*ipt, "-A", FORWARD_CHAIN, *rule])
    jump = ["FORWARD", "-m", "comment", "--comment", RULE_COMMENT, "-j", FORWARD_CHAIN]
    if run([*ipt, "-C", *jump], check=False).returncode != 0:
        run([*ipt, "-A", *jump])


def _our_iptables(layout: Layout) -> Iterator[tuple[str, str, list[list[str]], list[str]]]:
    """(tool, table, our rules, our chains) for each table, read when reached (``rules_to_delete``):
    chains with the cluster's prefixes that were not there before ``up`` (hoststate.snapshot)."""
    for tool in ("iptables", "ip6tables"):
        if not shutil.which(tool):
            continue
        for table in hoststate.TABLES:
            keep = hoststate.chains_before(layout, tool, table) or set()
            rules, chains = rules_to_delete(run([f"{tool}-save", "-t", table], check=False).stdout, keep=keep)
            yield tool, table, rules, chains


def cleanup_iptables(layout: Layout) -> None:
    """Remove the cluster's rules and chains (and the jumps to them); anyone else's are left alone."""
    for tool, table, rules, chains in _our_iptables(layout):
        for rule in rules:
            run([tool, "-w", "-t", table, *rule], check=False)
        for chain in chains:
            run([tool, "-w", "-t", table, "-F", chain], check=False)
        for chain in chains:
            run([tool, "-w", "-t", table, "-X", chain], check=False)


def iptables_leftovers(layout: Layout) -> list[str]:
    """Our rules and chains still there, one line per table ([] when none)."""
    return [f"{tool} {table}: {len(rules)} rules, {len(chains)} chains"
            for tool, table, rules, chains in _our_iptables(layout) if rules or chains]


def snapshot_netns(layout: Layout) -> None:
    """Note the network namespaces there before the cluster: ``remove_pod_netns`` leaves those."""
    layout.netns_snapshot.write_text("\n".join(sorted(os.listdir(NETNS_DIR))) if NETNS_DIR.is_dir() else "")


def remove_pod_netns(layout: Layout) -> None:
    """Unmount and remove the pods' ``cni-*`` network namespaces that were not there before the cluster."""
    before = set(layout.netns_snapshot.read_text().split()) if layout.netns_snapshot.exists() else set()
    if NETNS_DIR.is_dir():
        for ns in os.listdir(NETNS_DIR):
            if ns.startswith("cni-") and ns not in before:
                run(["umount", str(NETNS_DIR / ns)], check=False)
                (NETNS_DIR / ns).unlink(missing_ok=True)


def bridge_present() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def remove_bridge() -> None:
    if bridge_present():
        run(["ip", "link", "delete", BRIDGE], check=False)
