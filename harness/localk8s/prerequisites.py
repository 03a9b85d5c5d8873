"""What this machine needs to build and run the local cluster: Linux, root, Go and the host tools."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from harness.localk8s.config import CNI_BIN_DIRS

GO_FALLBACK = Path("/usr/local/go/bin/go")  # where Go's own installer (and these machines) put it
# Host tools the cluster runs or calls, with the Debian package that brings each (make setup installs them).
HOST_TOOLS = {"containerd": "docker.io (containerd)", "ctr": "docker.io (containerd)", "runc": "docker.io (runc)",
              "iptables": "iptables", "conntrack": "conntrack", "ip": "iproute2", "openssl": "openssl",
              "gcc": "gcc libc6-dev", "kubectl": "kubectl"}


def go_binary() -> str | None:
    return shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)


def missing_prerequisites(which=shutil.which, platform: str = sys.platform, euid: int | None = None) -> list[tuple[str, str]]:
    """What this machine lacks to build and run the local cluster, as (what, fix) pairs; [] when it can."""
    euid = os.geteuid() if euid is None else euid
    if not platform.startswith("linux"):
        return [("the local cluster runs only on Linux", "use --cluster=kind or a Minikube/Docker Desktop context")]
    problems = []
    if euid != 0:
        problems.append(("the local cluster needs root (it runs a kubelet, containerd and iptables rules)",
                         "run as root, or use --cluster=kind"))
    if not (which("go") or GO_FALLBACK.exists()):
        problems.append(("Go not found (the cluster's binaries are built from source)",
                         "install Go >= 1.24: https://go.dev/doc/install"))
    for tool, package in HOST_TOOLS.items():
        if not which(tool):
            problems.append((f"{tool} not found on PATH", f"make setup, or apt-get install {package.split(' (')[0]}"))
    if not any(Path(d, "bridge").exists() for d in CNI_BIN_DIRS):
        problems.append(("CNI plugins not found", "make setup, or apt-get install containernetworking-plugins"))
    return problems

