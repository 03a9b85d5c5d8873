"""The Kubernetes Pod Security Standards, "restricted" profile, as a check of one pod spec.

Pod Security Admission enforces this profile on the harness's test namespaces (issue 27,
``harness.deploy.namespaces``); this module lets a self-test prove, without a cluster, that every pod
the harness makes there would be admitted. It follows the standard's list
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, policy version "latest"):
the baseline controls first, then the restricted ones.

It is deliberately *only* the standard: the project's own, stricter rules for the chart's pods
(uid >= 10000, a read-only root file system, no API token) are ``harness.kube.policy``'s. PostgreSQL
as uid 999 passes here and would fail there, as it should: it is the harness's, not the product's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from harness.kube.manifests import effective_security, pod_spec

RESTRICTED = "restricted"
BASELINE = "baseline"
PRIVILEGED = "privileged"
LEVELS = (RESTRICTED, BASELINE, PRIVILEGED)

# Baseline: capabilities a container may add (restricted narrows this to NET_BIND_SERVICE).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# Restricted: the only volume types (no hostPath, no nfs, no in-tree cloud disks …).
RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})
SECCOMP_ALLOWED = ("RuntimeDefault", "Localhost")


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def baseline_violations(spec: Mapping[str, Any]) -> list[str]:
    """What in ``spec`` (a pod spec as a dict) the baseline profile forbids; [] when it is admitted."""
    found: list[str] = []
    pod_sc = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            found.append(f"{flag} is true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("windowsOptions.hostProcess is true")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            found.append(f"volume {volume.get('name')!r} is a hostPath")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append("the pod's seccompProfile is Unconfined")
    if unsafe := [s.get("name") for s in pod_sc.get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]:
        found.append(f"unsafe sysctls {unsafe}")
    for c in _containers(spec):
        name, sc = c.get("name"), c.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"container {name!r} is privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"container {name!r}: windowsOptions.hostProcess is true")
        if extra := sorted(set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES):
            found.append(f"container {name!r} adds capabilities {extra}")
        if ports := [p["hostPort"] for p in c.get("ports") or [] if p.get("hostPort")]:
            found.append(f"container {name!r} uses hostPort {ports}")
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"container {name!r}: procMount is {sc['procMount']!r}")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"container {name!r}: seccompProfile is Unconfined")
        for where, opts in (("pod", pod_sc.get("seLinuxOptions")), (f"container {name!r}", sc.get("seLinuxOptions"))):
            opts = opts or {}
            if opts.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t",
                                        "container_engine_t"):
                found.append(f"{where}: seLinuxOptions.type {opts['type']!r}")
            if opts.get("user") or opts.get("role"):
                found.append(f"{where}: seLinuxOptions sets user or role")
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            found.append(f"container {name!r}: appArmorProfile is {apparmor!r}")
    return found


def restricted_violations(spec: Mapping[str, Any]) -> list[str]:
    """What in ``spec`` (a pod spec as a dict) the restricted profile forbids; [] when it is admitted."""
    found = baseline_violations(spec)
    pod_sc = spec.get("securityContext") or {}
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if kinds - RESTRICTED_VOLUMES:
            found.append(f"volume {volume.get('name')!r} is of a type restricted forbids ({sorted(kinds)})")
    if pod_sc.get("runAsUser") == 0:
        found.append("the pod's runAsUser is 0")
    for c in _containers(spec):
        name, sc = c.get("name"), c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name!r}: allowPrivilegeEscalation is not false")
        if effective_security(spec, c, "runAsNonRoot") is not True:
            found.append(f"container {name!r}: runAsNonRoot is not true (pod or container)")
        if sc.get("runAsUser") == 0:
            found.append(f"container {name!r}: runAsUser is 0")
        if (effective_security(spec, c, "seccompProfile") or {}).get("type") not in SECCOMP_ALLOWED:
            found.append(f"container {name!r}: seccompProfile is not RuntimeDefault or Localhost (pod or container)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"container {name!r}: capabilities.drop does not contain ALL")
        # Those beyond baseline's list are reported above already; restricted allows NET_BIND_SERVICE only.
        if extra := sorted((set(caps.get("add") or []) & BASELINE_CAPABILITIES) - RESTRICTED_CAPABILITIES):
            found.append(f"container {name!r} adds capabilities {extra}")
    return found


def violations(spec: Mapping[str, Any], level: str = RESTRICTED) -> list[str]:
    """What ``level`` (restricted, baseline, privileged) refuses in the pod spec ``spec``."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; one of {LEVELS}")
    return {RESTRICTED: restricted_violations, BASELINE: baseline_violations}.get(level, lambda _: [])(spec)


def manifest_violations(manifest: Mapping[str, Any], level: str = RESTRICTED) -> list[str]:
    """:func:`violations` of a Pod or a workload's pod template (a Deployment, a Job …); [] for other kinds."""
    spec = pod_spec(manifest)
    return [] if spec is None else violations(spec, level)
