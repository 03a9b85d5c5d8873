"""What the local cluster may change on the host, recorded before ``up`` and put back by ``down``.

The cluster runs as root on a developer's machine, so it must leave it as it found it:

* **kernel settings** — the kubelet sets its "kernel tunables" (``vm.overcommit_memory``,
  ``kernel.panic``, ``kernel.panic_on_oops``, ``vm.panic_on_oom``, the root key quotas), the
  bridge CNI plugin turns on IP forwarding, kube-proxy may set ``route_localnet`` and conntrack
  sizes (configured not to: config.kube_proxy_config). :func:`snapshot` reads every one of
  :data:`SYSCTLS` into the run directory at ``up``; :func:`restore` writes back what changed at
  ``down`` (also when ``down`` cleans up after a crashed run);
* **iptables chains** — the chains with the cluster's prefixes that exist before ``up`` are
  recorded, so ``down`` removes only the ones the cluster made;
* **another cluster** — :func:`other_cluster` names a sign of one (its bridge, kube-proxy's
  chains, a kube-proxy process): ``up`` refuses to start beside it rather than share names with it.

:func:`capture` is the whole picture a test compares before ``up`` and after ``down``: the
settings, every iptables rule, the network links, the mounts and the listening sockets.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from harness.core.processes import run
from harness.localk8s.config import CHAIN_PREFIXES, Layout

SYSCTLS = (
    # the kubelet's kernel tunables (pkg/kubelet/cm: setupKernelTunables)
    "vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes",
    # kube-proxy (iptables mode) and the bridge/portmap CNI plugins
    "net.ipv4.conf.all.route_localnet", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait", "net.netfilter.nf_conntrack_tcp_be_liberal",
)
TABLES = ("filter", "nat", "mangle")
# Bridges and links other clusters make (flannel, k3s, kubeadm guides, Calico, Cilium, Weave, kube-router).
OTHER_CLUSTER_LINKS = ("cni0", "flannel.1", "cbr0", "cilium_host", "weave", "kube-bridge", "vxlan.calico",
                       "kube-ipvs0")


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str | None]:
    """Each of :data:`SYSCTLS` as the kernel shows it; None when absent (a module not loaded)."""
    values: dict[str, str | None] = {}
    for name in SYSCTLS:
        try:
            values[name] = " ".join(_sysctl_path(name).read_text().split())
        except OSError:
            values[name] = None
    return values


def iptables_chains() -> dict[str, list[str]]:
    """``tool/table`` → the chains there now with the cluster's prefixes."""
    chains: dict[str, list[str]] = {}
    for tool in ("iptables", "ip6tables"):
        if not shutil.which(f"{tool}-save"):
            continue
        for table in TABLES:
            out = run([f"{tool}-save", "-t", table], check=False).stdout
            chains[f"{tool}/{table}"] = sorted(line[1:].split()[0] for line in out.splitlines()
                                               if line.startswith(":") and line[1:].startswith(CHAIN_PREFIXES))
    return chains


def snapshot(layout: Layout) -> None:
    """Record the settings and the chains as they are before the cluster starts."""
    layout.host_snapshot.write_text(json.dumps({"sysctls": read_sysctls(), "chains": iptables_chains()}, indent=1))


def recorded(layout: Layout) -> dict:
    try:
        return json.loads(layout.host_snapshot.read_text())
    except (OSError, ValueError):
        return {}


def chains_before(layout: Layout, tool: str, table: str) -> set[str] | None:
    """The chains with our prefixes that were there before ``up``; None without a snapshot."""
    chains = recorded(layout).get("chains")
    return None if chains is None else set(chains.get(f"{tool}/{table}", []))


def restore(layout: Layout) -> list[str]:
    """Write back every recorded setting the cluster changed; returns those that could not be."""
    before = recorded(layout).get("sysctls", {})
    failed = []
    for name, value in before.items():
        if value is None:
            continue
        now = read_sysctls().get(name) if name in SYSCTLS else None
        if now == value:
            continue
        try:
            _sysctl_path(name).write_text(value.replace(" ", "\t") + "\n")
        except OSError as exc:
            failed.append(f"sysctl {name} is {now}, was {value} ({exc.strerror})")
    return failed


def sysctls_changed(layout: Layout) -> list[str]:
    """The recorded settings that differ now (for ``leftovers``)."""
    before, now = recorded(layout).get("sysctls", {}), read_sysctls()
    return [f"sysctl {k}={now.get(k)} (was {v})" for k, v in before.items() if v is not None and now.get(k) != v]


def other_cluster() -> str | None:
    """A sign that another Kubernetes cluster's networking runs on this host, or None."""
    for link in OTHER_CLUSTER_LINKS:
        if Path("/sys/class/net", link).exists():
            return f"network interface {link} (another cluster's bridge or overlay)"
    chains = iptables_chains().get("iptables/nat", [])
    if "KUBE-SERVICES" in chains:
        return "iptables chain KUBE-SERVICES (another cluster's kube-proxy, or a crashed run: 'kube-proxy --cleanup')"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
            except OSError:
                continue
            if Path(argv0).name == "kube-proxy":
                return f"a kube-proxy process ({proc.name}: {argv0})"
    return None


# --- the whole picture, for the before/after test ---------------------------------------------------

_COUNTERS = re.compile(r"\[\d+:\d+\]")


def iptables_rules() -> list[str]:
    """Every chain and rule of every table, counters and comments of the dump removed."""
    lines = []
    for tool in ("iptables", "ip6tables"):
        if not shutil.which(f"{tool}-save"):
            continue
        for table in TABLES:
            for line in run([f"{tool}-save", "-t", table], check=False).stdout.splitlines():
                if line.startswith(("#", "COMMIT")) or not line.strip():
                    continue
                lines.append(f"{tool}/{table} {_COUNTERS.sub('', line).rstrip()}")
    return lines


def links() -> list[str]:
    return sorted(p.name for p in Path("/sys/class/net").iterdir())


def mounts() -> list[str]:
    return sorted({line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()})


_PROCESS = re.compile(r'users:\(\("([^"]+)"')


def listening() -> list[str]:
    """``proto address:port process`` of every listening TCP socket and bound UDP socket of the host."""
    out = run(["ss", "-H", "-l", "-n", "-t", "-u", "-p"], check=False).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5:
            process = _PROCESS.search(line)
            found.add(f"{parts[0]} {parts[4]} {process[1] if process else '?'}")
    return sorted(found)


def capture() -> dict[str, list[str] | dict]:
    return {"sysctls": read_sysctls(), "iptables": iptables_rules(), "links": links(), "mounts": mounts(),
            "listening": listening()}


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` (as ``ss`` prints it) is bound to a loopback address."""
    host = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    return host.startswith("127.") or host == "::1"

