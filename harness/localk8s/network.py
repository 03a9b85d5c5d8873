"""The local cluster's networking on the host: the node's address, the CNI plugins, the FORWARD rules
that let pod traffic through, and the removal of what the cluster's networking leaves behind (its
iptables rules and chains — only those that were not there before ``up`` —, pod network namespaces,
its ``todo0`` bridge)."""

from __future__ import annotations

import json
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
    RULE_COMMENT,
    Layout,
    forward_rules,
    rules_to_delete,
)

NETNS_DIR = Path("/var/run/netns")


def node_ip() -> str:
    """The host's primary IPv4 (the address of the default route's interface)."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default"]).stdout or "[]")
    devs = [r["dev"] for r in routes if r.get("dev")]
    for link in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        if link.get("ifname") in devs or (not devs and link.get("ifname") not in ("lo", "docker0", BRIDGE)):
            for addr in link.get("addr_info", []):
                return addr["local"]
    raise RuntimeError("no IPv4 address with a default route: the node needs one for pods to reach the API")


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
