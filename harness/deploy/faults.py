"""Faults injected into a release on a cluster, for the tests that prove the chart's answers to them.

:class:`FrozenContainer` stops every process of one container with SIGSTOP, so that the container
is still there but answers nothing: the situation a liveness probe exists for (a deadlock, a hung
event loop). A signal cannot do it from inside the container: its main process is PID 1 of the
container's PID namespace, and the kernel drops SIGSTOP sent to a namespace's init from within it.
So a helper pod on the same node joins the node's PID namespace (``hostPID``), finds the container's
processes by its container ID in ``/proc/<pid>/cgroup`` (the ID is in the cgroup path with
containerd, CRI-O and cri-dockerd, cgroup v1 or v2), and signals them from there. Works the same on
kind, Minikube, Docker Desktop and the local cluster (the node's processes are the pods' processes).

Who it runs as (issue 27): it used to run as the app's own user, which may read every app process's
/proc/<pid>/environ on the node, the credentials included. It now runs as root with every capability
dropped but KILL: it can signal, and it can read no other user's environ (no DAC_OVERRIDE, no
SYS_PTRACE). Seen on Docker: the app's UID read the environment; root with only KILL got
"Permission denied" and stopped the process. A non-root user cannot hold KILL (Kubernetes gives
added capabilities to root only), so root with one capability is the narrowest user that works.

Where it runs (issue 27): no Pod Security level but "privileged" admits hostPID, and the release's
namespace is "restricted". So the helper gets a namespace of its own, labelled privileged with the
reason, made through the run's namespace list (a crashed test's is still deleted at the session's
close) and deleted on exit. It needs only the node (``nodeName``), not the release's namespace.
"""

from __future__ import annotations

import time

from harness.core.names import random_suffix
from harness.core.wait import wait_for
from harness.deploy.conditions import DefaultServiceAccount
from harness.kube.pod_security import PRIVILEGED

# The helper's namespace: its Pod Security level, and why (an annotation on it, for whoever reads the cluster).
HELPER_POD_SECURITY = PRIVILEGED
HELPER_NAMESPACE_REASON = ("joins the node's PID namespace (hostPID) to SIGSTOP a container, "
                           "see harness/deploy/faults.py")
HELPER_NAMESPACE_PREFIX = "todo-fault"

# argv: CONTAINER_ID SIGNAL. Prints "SIGNALLED <pids>" or "NOT FOUND", then sleeps (the pod is
# deleted by the test); bounded so that a forgotten pod ends by itself.
SIGNAL_CONTAINER = r"""
import os, signal, sys, time
container_id, signame = sys.argv[1], sys.argv[2]
pids = []
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open("/proc/%s/cgroup" % entry) as f:
            if container_id in f.read():
                pids.append(int(entry))
    except OSError:
        pass
for pid in pids:
    try:
        os.kill(pid, getattr(signal, signame))
    except OSError as e:
        print("cannot signal %d: %s" % (pid, e), flush=True)
print(("SIGNALLED %s" % " ".join(map(str, pids))) if pids else "NOT FOUND", flush=True)
time.sleep(600)
"""


class FrozenContainer:
    """Context manager: every process of ``container`` in ``pod`` stopped (SIGSTOP) on entry.

    ``pids`` are the stopped processes, as the node sees them. On exit the helper pod and its
    namespace are deleted (processes the kubelet has not killed by then are continued with SIGCONT
    first). ``cluster`` makes and drops the helper's namespace (``new_namespace``/``drop_namespace``
    of :class:`harness.deploy.release.Cluster`) and gives the API client (``core``).
    """

    def __init__(self, cluster, pod, container: str, image: str) -> None:
        self.cluster, self.image = cluster, image
        self.core = getattr(cluster, "core", None)
        self.namespace: str | None = None  # made on entry
        status = next(s for s in pod.status.container_statuses or [] if s.name == container)
        self.container_id = status.container_id.split("://", 1)[-1]
        self.node = pod.spec.node_name
        self.target = f"{pod.metadata.name}/{container}"
        self.pids: list[int] = []
        self._pods: list[str] = []

    def manifest(self, name: str, signame: str) -> dict:
        """The helper pod: on the target's node, in the node's PID namespace, KILL its one capability."""
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "todo-chatbot-verification"}},
            "spec": {
                "nodeName": self.node, "hostPID": True, "restartPolicy": "Never",
                "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "signal", "image": self.image, "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", SIGNAL_CONTAINER, self.container_id, signame],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"], "add": ["KILL"]}},
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                }],
            },
        }

    def _signal(self, signame: str, timeout: float = 60) -> str:
        name = f"signal-{signame.lower()}-{random_suffix(5)}"
        self.core.create_namespaced_pod(self.namespace, self.manifest(name, signame))
        self._pods.append(name)

        def answer() -> str | None:
            try:
                log = self.core.read_namespaced_pod_log(name, self.namespace)
            except Exception:  # noqa: BLE001 - not started yet
                return None
            return next((line for line in log.splitlines() if line.startswith(("SIGNALLED", "NOT FOUND"))), None)

        return wait_for(answer, what=f"pod {name} to send {signame} to {self.target}", timeout=timeout, interval=1)

    def __enter__(self) -> FrozenContainer:
        try:
            self.namespace = self.cluster.new_namespace(HELPER_NAMESPACE_PREFIX, pod_security=HELPER_POD_SECURITY,
                                                        reason=HELPER_NAMESPACE_REASON)
            wait_for(DefaultServiceAccount(self.core, self.namespace), timeout=60, interval=0.5)
            answer = self._signal("SIGSTOP")
        except BaseException:
            # A start that timed out (or an interrupt) leaves the helper pod behind otherwise: a
            # hostPID pod must never outlive the test (issue 27).
            self.__exit__()
            raise
        if not answer.startswith("SIGNALLED"):
            self.__exit__()
            raise RuntimeError(f"no process of {self.target} (container {self.container_id[:12]}) found on "
                               f"node {self.node}: {answer}")
        self.pids = [int(p) for p in answer.split()[1:]]
        self.frozen_at = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.pids:
                self._signal("SIGCONT")  # harmless when the kubelet has already replaced the container
        except Exception:  # noqa: BLE001 - clean-up goes on
            pass
        if self.namespace is None:
            return  # the namespace was never made
        for name in self._pods:  # at once (grace 0): the namespace's deletion would wait for their graceful ends
            try:
                self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            except Exception:  # noqa: BLE001 - the namespace's deletion takes them anyway
                pass
        # Issued, not waited for: the session's close waits until it is gone (Cluster.leaving), and a
        # namespace whose deletion failed here is still on the run's list, deleted at the close.
        try:
            self.cluster.drop_namespace(self.namespace, background=True)
        except Exception:  # noqa: BLE001 - see above
            pass
