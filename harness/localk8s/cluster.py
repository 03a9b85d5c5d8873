"""A single-node Kubernetes cluster of host processes, built here from upstream sources (design B).

The way Kubernetes' own ``hack/local-up-cluster.sh`` runs one: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, a kubelet on a containerd instance of its own (Debian's
containerd with the CRI plugin; its own config, root, state and socket, never Docker's), Debian's
CNI plugins (bridge + host-local + portmap), kube-proxy in iptables mode and CoreDNS as a
Deployment in kube-system. No registry: the pause and CoreDNS images are one-binary images
assembled here and imported into containerd; application images come from the Docker engine
(``docker save | ctr images import``).

    python -m harness.localk8s up       # prints the kubeconfig path
    python -m harness.localk8s down     # stops everything, removes every trace
    python -m harness.localk8s status
    python -m harness.localk8s load IMAGE...
    python -m harness.localk8s unload IMAGE...  # remove images loaded that way (the mutation runner's)

Binaries: ``scripts/build-kubernetes.sh`` and ``scripts/build-cluster-tools.sh`` (cached under
~/.cache/todo-chatbot, reused when the pinned versions match). Everything the running cluster
writes lives under one run directory (``$TODO_CACHE/local-cluster``) and the cluster's own
networks (pods 10.244.0.0/16, services 10.96.0.0/16), which ``down`` removes together with the
processes, mounts, the ``todo0`` bridge, network namespaces, the iptables chains the cluster made
and the kubelet's cgroups, and puts back the kernel settings the components changed
(``hoststate``).

Safety on a developer's machine: the run directory carries a marker file (``down`` removes
nothing without it); ``up`` refuses to start beside another cluster's bridge or kube-proxy;
etcd speaks TLS with client certificates of its own CA; the API server, the kubelet and the
NodePorts listen on the node's address, which is the gateway of the cluster's own bridge (reachable
from this host and its pods, not from the machine's network), everything else on loopback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from pathlib import Path

from harness.core.processes import CommandFailed, alive, run
from harness.core.wait import network_error, wait_for
from harness.localk8s import hoststate
from harness.localk8s.components import (
    build_binaries,
    give_up_if_exited,
    our_shims,
    pid_of,
    remove_pod_cgroups,
    start,
    terminate,
)
from harness.localk8s.config import (
    BRIDGE,
    COMPONENTS,
    CONTEXT,
    ETCD_CLIENT_PORT,
    NODE_NAME,
    RUN_MARKER,
    Layout,
    coredns_manifests,
    write_configs,
)
from harness.localk8s.images import ctr, import_system_images, load_docker_image, remove_image
from harness.localk8s.network import (
    bridge_present,
    cleanup_iptables,
    cni_bin_dir,
    create_bridge,
    install_forward_rules,
    iptables_leftovers,
    node_ip,
    remove_bridge,
    remove_pod_netns,
    snapshot_netns,
)
from harness.localk8s.pki import write_pki


def log(msg: str) -> None:
    print(f"local-cluster: {msg}", file=sys.stderr, flush=True)


def kubectl(layout: Layout, *args: str, input: str | None = None, check: bool = True) -> str:
    return run(["kubectl", f"--kubeconfig={layout.kubeconfig}", f"--context={CONTEXT}", *args],
               input=input, check=check).stdout


class UnsafeHost(RuntimeError):
    """The cluster will not start or stop here; the message says why and what to do."""


def _etcd_tls(layout: Layout):
    """TLS to etcd as the API server reaches it (etcd's CA, the API server's client certificate)."""
    import ssl

    pki = layout.pki
    ctx = ssl.create_default_context(cafile=str(pki / "etcd-ca.crt"))
    ctx.load_cert_chain(str(pki / "apiserver-etcd-client.crt"), str(pki / "apiserver-etcd-client.key"))
    return ctx


def etcd_healthy(layout: Layout) -> bool:
    """etcd's /health over TLS."""
    import urllib.request

    with urllib.request.urlopen(f"https://127.0.0.1:{ETCD_CLIENT_PORT}/health", timeout=2,  # noqa: S310
                                context=_etcd_tls(layout)) as r:
        return r.status == 200


def etcd_value(layout: Layout, key: str) -> bytes | None:
    """The bytes etcd stores under ``key`` (its v3 JSON gateway), as they sit on disk; None when absent.
    For the self-test that Secrets are encrypted at rest."""
    import base64
    import json
    import urllib.request

    body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
    request = urllib.request.Request(f"https://127.0.0.1:{ETCD_CLIENT_PORT}/v3/kv/range", data=body,  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5, context=_etcd_tls(layout)) as r:  # noqa: S310
        kvs = json.loads(r.read(1_000_000)).get("kvs") or []
    return base64.b64decode(kvs[0]["value"]) if kvs else None


def _claim_run_dir(layout: Layout) -> None:
    """Make the run directory ours (the marker), refusing one that holds anything else: ``down``
    removes the whole directory, so LOCAL_CLUSTER_DIR=/tmp or $HOME must never be taken."""
    run_dir = layout.run
    if run_dir.exists() and not layout.marker.exists() and any(run_dir.iterdir()):
        raise UnsafeHost(f"LOCAL_CLUSTER_DIR={run_dir} is not empty and was not made by the local cluster "
                         f"(no {RUN_MARKER} file); 'down' removes the whole directory, so it will not use it: "
                         "choose an empty or new directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    # It holds the cluster's keys, the admin kubeconfig and etcd's data: its owner's only (the
    # cluster needs root anyway), whatever the umask made of a new directory.
    run_dir.chmod(0o700)
    layout.marker.write_text("made by `python -m harness.localk8s up`; `down` removes this directory\n")


@contextlib.contextmanager
def _exclusive(layout: Layout):
    """One ``up`` or ``down`` at a time per cluster, across processes (a CI run and a developer, or
    two pytest sessions): otherwise a second ``up`` sees the first one's half-started cluster as
    crashed and tears it down under it. The lock file sits beside the run directory (``down``
    removes that)."""
    lock = layout.run.with_name(layout.run.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another start or stop of the cluster to finish ({lock})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(layout: Layout | None = None, build: bool = True) -> Path:
    layout = layout or Layout()
    with _exclusive(layout):
        return _up(layout, build)


def _up(layout: Layout, build: bool) -> Path:
    if status(layout)["running"]:
        log("already running")
        return layout.kubeconfig
    _down(layout, quiet=True)  # a half-started or crashed cluster from before
    if other := hoststate.other_cluster():
        raise UnsafeHost(f"another Kubernetes cluster's networking is on this host ({other}): the local cluster "
                         "would share its iptables chains and could break it; stop that cluster first")
    t0 = time.monotonic()
    if build:
        build_binaries()
    ip = node_ip()
    _claim_run_dir(layout)
    hoststate.snapshot(layout)  # before any component can change a setting or add a chain
    snapshot_netns(layout)
    create_bridge()  # the node's address, where the API server is about to listen
    write_pki(layout, ip)
    write_configs(layout, cni_bin_dir(), ip)

    def wait(what: str, check, timeout: float, component: str | None = None) -> None:
        # kubectl exits non-zero (CommandFailed) while the API server is still starting; a
        # component that died is caught by give_up, not by waiting out the timeout.
        wait_for(check, what=what, timeout=timeout, interval=0.5, describe=lambda: f"logs: {layout.logs}",
                 give_up=give_up_if_exited(component, what, layout) if component else None,
                 retry_on=(network_error, CommandFailed))

    start("etcd", layout, ip)
    wait("etcd", lambda: etcd_healthy(layout), 60, "etcd")
    start("containerd", layout, ip)
    wait("containerd", lambda: ctr(layout, "version", capture_output=True).returncode == 0, 60, "containerd")
    import_system_images(layout)
    start("kube-apiserver", layout, ip)
    wait("kube-apiserver /readyz", lambda: kubectl(layout, "get", "--raw=/readyz").strip() == "ok", 120,
         "kube-apiserver")
    install_forward_rules()  # before the first pod; kube-proxy prepends its own jumps ahead of it
    for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
        start(name, layout, ip)
    wait("node Ready", lambda: "True" in kubectl(
        layout, "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"),
        120, "kubelet")
    node_ready = time.monotonic() - t0
    import yaml

    kubectl(layout, "apply", "-f", "-", input=yaml.safe_dump_all(coredns_manifests()))
    wait("CoreDNS Ready", lambda: kubectl(layout, "-n", "kube-system", "rollout", "status", "deploy/coredns",
                                          "--timeout=2s", check=False).find("successfully") >= 0, 120)
    log(f"node Ready after {node_ready:.1f}s, CoreDNS Ready after {time.monotonic() - t0:.1f}s")
    return layout.kubeconfig


# --- test sessions sharing the cluster (``--cluster=local``) ---------------------------------------
#
# A pytest session that finds no cluster starts one and stops it at its end; one that finds a
# cluster running uses it and leaves it. With several sessions at once (a CI run and a developer)
# the cluster must not be stopped under a session still using it: each session holds a lease
# (users/<pid>), and the cluster is stopped by the last session out, and only when a session
# started it (a cluster from ``make cluster-up`` is left running).


def _leases(layout: Layout) -> Path:
    return layout.run / "users"


def _started_by_session(layout: Layout) -> Path:
    return layout.run / "started-by-test-session"


def begin_session(layout: Layout, build: bool = True) -> bool:
    """Start the cluster unless running; lease it for this process. True when this call started it."""
    with _exclusive(layout):
        started = not status(layout)["running"]
        if started:
            _up(layout, build)
            _started_by_session(layout).touch()
        _leases(layout).mkdir(parents=True, exist_ok=True)
        (_leases(layout) / str(os.getpid())).touch()
        return started


def end_session(layout: Layout, keep: bool = False) -> bool:
    """Give this process's lease back; stop the cluster when a session started it and no other
    live session holds it (unless ``keep``). True when it was stopped."""
    with _exclusive(layout):
        (_leases(layout) / str(os.getpid())).unlink(missing_ok=True)
        others = [p for p in (_leases(layout).iterdir() if _leases(layout).is_dir() else [])
                  if p.name.isdigit() and alive(int(p.name))]
        if keep:
            _started_by_session(layout).unlink(missing_ok=True)  # kept: left like a `make cluster-up` cluster
        if others or not _started_by_session(layout).exists():
            if others and _started_by_session(layout).exists():
                log(f"left running for the test session(s) still using it: {', '.join(p.name for p in others)}")
            return False
        _down(layout, quiet=False)
        return True


def status(layout: Layout | None = None) -> dict:
    layout = layout or Layout()
    procs = {}
    for name in COMPONENTS:
        pid = pid_of(name, layout)
        procs[name] = pid is not None and alive(pid)
    return {"running": bool(procs) and all(procs.values()), "components": procs, "kubeconfig": str(layout.kubeconfig)}


def _our_mounts(layout: Layout) -> list[str]:
    """Mount points under the run directory (pods' volumes, netns), deepest first."""
    root = str(layout.run.resolve())
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == root or point.startswith(root + "/"):
            mounts.append(point)
    return sorted(set(mounts), key=lambda p: -p.count("/"))


def down(layout: Layout | None = None, quiet: bool = False) -> list[str]:
    """Stop every component and remove every trace; returns what was left behind (empty = clean)."""
    layout = layout or Layout()
    with _exclusive(layout):
        return _down(layout, quiet)


def _down(layout: Layout, quiet: bool) -> list[str]:
    if not layout.run.exists():
        return []
    if not layout.marker.exists():
        if not any(layout.run.iterdir()):
            return []
        raise UnsafeHost(f"{layout.run} has no {RUN_MARKER} file: it is not a local cluster's run directory, "
                         "so 'down' will not remove anything in it (LOCAL_CLUSTER_DIR points elsewhere?)")
    kubelet_pid = pid_of("kubelet", layout)
    if kubelet_pid and alive(kubelet_pid) and (pid := pid_of("kube-apiserver", layout)) and alive(pid):
        # Controllers off first so nothing comes back; then the kubelet stops every pod the normal
        # way (CRI StopPodSandbox: CNI DEL, network namespace removed).
        for name in ("kube-controller-manager", "kube-scheduler"):
            if p := pid_of(name, layout):
                terminate(p)
        kubectl(layout, "delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=false",
                check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True)
            if out.returncode != 0 or not out.stdout.strip():
                break
            time.sleep(1)
    for name in reversed(COMPONENTS):
        if name == "containerd":
            # whatever the kubelet did not stop: kill and delete the tasks, then the containers
            out = ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True).stdout.split()
            for task in out:
                ctr(layout, "tasks", "kill", "-s", "SIGKILL", task, capture_output=True)
            time.sleep(1 if out else 0)
            for task in out:
                ctr(layout, "tasks", "delete", "-f", task, capture_output=True)
        if pid := pid_of(name, layout):
            terminate(pid)
    for pid in our_shims(layout):
        terminate(pid, timeout=5)
    # Not `kube-proxy --cleanup`: it flushes every KUBE-* chain, another cluster's too. The chains
    # this cluster made are known (hoststate.snapshot) and removed one by one.
    cleanup_iptables(layout)
    remove_pod_netns(layout)
    for point in _our_mounts(layout):
        run(["umount", "-l", point], check=False)
    remove_bridge()
    remove_pod_cgroups()
    hoststate.restore(layout)
    left = leftovers(layout)
    if not left:
        shutil.rmtree(layout.run, ignore_errors=True)
    elif not quiet:
        log("left behind: " + "; ".join(left))
    return left


def leftovers(layout: Layout) -> list[str]:
    left = []
    for name in COMPONENTS:
        if (pid := pid_of(name, layout)) and alive(pid):
            left.append(f"process {name} ({pid})")
    left += [f"shim {pid}" for pid in our_shims(layout)]
    left += [f"mount {m}" for m in _our_mounts(layout)]
    if bridge_present():
        left.append(f"interface {BRIDGE}")
    left += iptables_leftovers(layout)
    left += hoststate.sysctls_changed(layout)
    return left


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except UnsafeHost as exc:
        print(f"local-cluster: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd in ("-h", "--help"):
        print(__doc__)
        return 0
    layout = Layout()
    if cmd == "up":
        print(up(layout, build="--no-build" not in argv))
        return 0
    if cmd == "down":
        left = down(layout)
        print("removed" if not left else "left behind: " + "; ".join(left))
        return 1 if left else 0
    if cmd == "status":
        print(json.dumps(status(layout), indent=2))
        return 0
    if cmd == "load":
        for image in argv[1:]:
            load_docker_image(layout, image)
        return 0
    if cmd == "unload":
        for image in argv[1:]:
            remove_image(layout, image)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
