"""Test namespaces are held to Pod Security "restricted", and every pod the harness makes passes it (issue 27).

No cluster: the checks are ``harness.kube.pod_security``'s (the Pod Security Standards' list) on the
manifests the harness itself builds, and the namespace body ``create_namespace`` hands the API client.
The cluster tier proves the API server enforces the labels (verification/cluster/test_pod_security.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.deploy import faults, postgres
from harness.deploy.namespaces import NAMESPACE_LABEL, POD_SECURITY_REASON, create_namespace
from harness.kube import pod_security as pss
from harness.testkit.traffic import InClusterTraffic

PSA = "pod-security.kubernetes.io"


class RecordingCore:
    """Stands in for ``CoreV1Api``: keeps what it is given."""

    def __init__(self, fail_pods: bool = False) -> None:
        self.namespaces: list = []
        self.fail_pods = fail_pods

    def create_namespace(self, body) -> None:
        self.namespaces.append(body)

    def read_namespaced_service_account(self, name, namespace) -> object:
        return SimpleNamespace(metadata=SimpleNamespace(name=name))

    def create_namespaced_pod(self, namespace, body) -> None:
        if self.fail_pods:
            raise RuntimeError("admission refused (simulated)")


def _target_pod():
    status = SimpleNamespace(name="backend", container_id="containerd://abc123")
    return SimpleNamespace(status=SimpleNamespace(container_statuses=[status]),
                           spec=SimpleNamespace(node_name="n1"), metadata=SimpleNamespace(name="p"))


# --- the checker itself: it sees what the standard forbids ------------------------------------------
COMPLIANT = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}],
    "volumes": [{"name": "d", "emptyDir": {}}],
}


def _with(**changes):
    """COMPLIANT with ``changes``: pod-level keys, or ``container_sc``/``pod_sc`` merged into the contexts."""
    import copy

    spec = copy.deepcopy(COMPLIANT)
    spec["securityContext"].update(changes.pop("pod_sc", {}))
    spec["containers"][0]["securityContext"].update(changes.pop("container_sc", {}))
    spec.update(changes)
    return spec


def test_a_compliant_pod_passes_restricted() -> None:
    assert pss.violations(COMPLIANT) == []


@pytest.mark.parametrize("spec, expected", [
    (_with(hostPID=True), "hostPID"),
    (_with(hostNetwork=True), "hostNetwork"),
    (_with(pod_sc={"runAsUser": 0}), "runAsUser is 0"),
    (_with(container_sc={"runAsUser": 0}), "runAsUser is 0"),
    (_with(pod_sc={"runAsNonRoot": False}), "runAsNonRoot"),
    (_with(container_sc={"allowPrivilegeEscalation": True}), "allowPrivilegeEscalation"),
    (_with(container_sc={"capabilities": {"drop": ["NET_RAW"]}}), "drop does not contain ALL"),
    (_with(container_sc={"capabilities": {"drop": ["ALL"], "add": ["KILL"]}}), "adds capabilities ['KILL']"),
    (_with(container_sc={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}), "adds capabilities ['SYS_ADMIN']"),
    (_with(container_sc={"privileged": True}), "privileged"),
    (_with(pod_sc={"seccompProfile": {"type": "Unconfined"}}), "Unconfined"),
    (_with(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "hostPath"),
    (_with(volumes=[{"name": "n", "nfs": {"server": "x", "path": "/"}}]), "type restricted forbids"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_the_checker_sees_what_restricted_forbids(spec, expected) -> None:
    found = pss.violations(spec)
    assert any(expected in v for v in found), f"{expected!r} not among {found}"


def test_no_seccomp_anywhere_is_refused_and_a_containers_own_is_enough() -> None:
    spec = _with()
    del spec["securityContext"]["seccompProfile"]
    assert any("seccompProfile" in v for v in pss.violations(spec))
    spec["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert pss.violations(spec) == []


def test_baseline_admits_the_capabilities_restricted_refuses_and_privileged_admits_all() -> None:
    spec = _with(container_sc={"capabilities": {"drop": ["ALL"], "add": ["KILL"]}, "allowPrivilegeEscalation": True})
    assert pss.violations(spec, pss.BASELINE) == []
    assert pss.violations(_with(hostPID=True), pss.PRIVILEGED) == []


# --- the pods the harness makes in restricted namespaces -----------------------------------------
def test_the_throwaway_postgres_pod_passes_restricted_as_its_own_user() -> None:
    deployment = postgres.deployment_manifest("postgres:15.14-bookworm")
    assert pss.manifest_violations(deployment) == []
    spec = deployment["spec"]["template"]["spec"]
    # Started as the image's postgres user (the entrypoint cannot start as root and drop), its data
    # emptyDir writable through fsGroup, PGDATA a folder inside it that the entrypoint makes 0700.
    assert {k: spec["securityContext"].get(k) for k in ("runAsUser", "runAsGroup", "fsGroup")} == {
        "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999}
    [container] = spec["containers"]
    pgdata = next(e["value"] for e in container["env"] if e["name"] == "PGDATA")
    [mount] = container["volumeMounts"]
    assert pgdata.startswith(mount["mountPath"] + "/"), "PGDATA must be a folder inside the data emptyDir"
    assert [v for v in spec["volumes"] if v["name"] == mount["name"]][0].keys() == {"name", "emptyDir"}


def test_the_traffic_pod_passes_restricted() -> None:
    release = SimpleNamespace(images=SimpleNamespace(backend="backend:1"))
    assert pss.manifest_violations(InClusterTraffic(release, "http://frontend").manifest()) == []


def test_the_network_policy_probe_pod_passes_restricted() -> None:
    from kubernetes.client import ApiClient

    from verification.cluster.test_network_policy import probe_pod_manifest

    pod = ApiClient().sanitize_for_serialization(probe_pod_manifest("backend:1", "probe", "listener"))
    assert pss.manifest_violations(pod) == []


def test_the_fault_helper_pod_needs_privileged_and_gets_a_namespace_of_its_own_that_says_why() -> None:
    """hostPID, root and KILL: no level but privileged admits it, so it must never run in a test namespace."""
    helper = faults.FrozenContainer(None, _target_pod(), "backend", "img").manifest("signal-x", "SIGSTOP")
    assert pss.manifest_violations(helper, pss.BASELINE), "the helper pod passes baseline: then it needs no privileged"
    assert faults.HELPER_POD_SECURITY == pss.PRIVILEGED and faults.HELPER_NAMESPACE_REASON


def test_the_fault_helper_namespace_is_made_through_the_run_and_dropped_also_when_the_start_fails() -> None:
    calls: list[tuple] = []
    core = RecordingCore(fail_pods=True)
    cluster = SimpleNamespace(
        core=core,
        new_namespace=lambda prefix, pod_security, reason: calls.append(("new", prefix, pod_security, reason)) or "ns-x",
        drop_namespace=lambda name, background=False: calls.append(("drop", name, background)))
    with pytest.raises(RuntimeError, match="simulated"):
        with faults.FrozenContainer(cluster, _target_pod(), "backend", "img"):
            pass
    assert calls == [("new", faults.HELPER_NAMESPACE_PREFIX, pss.PRIVILEGED, faults.HELPER_NAMESPACE_REASON),
                     ("drop", "ns-x", True)]


# --- the namespaces' labels --------------------------------------------------------------------------
def test_a_test_namespace_enforces_warns_and_audits_restricted_by_default() -> None:
    core = RecordingCore()
    create_namespace(core, "todo-verify-abc12", "run-1")
    [body] = core.namespaces
    labels = body.metadata.labels
    assert labels[NAMESPACE_LABEL] == "run-1"
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"{PSA}/{mode}"] == "restricted"
        assert labels[f"{PSA}/{mode}-version"] == "latest"
    assert not body.metadata.annotations


def test_a_namespace_below_restricted_must_say_why_and_carries_the_reason() -> None:
    core = RecordingCore()
    with pytest.raises(ValueError, match="reason"):
        create_namespace(core, "ns-a", "run-1", pod_security=pss.PRIVILEGED)
    with pytest.raises(ValueError, match="unknown"):
        create_namespace(core, "ns-b", "run-1", pod_security="lenient", reason="x")
    create_namespace(core, "ns-c", "run-1", pod_security=pss.PRIVILEGED, reason="joins the node's PID namespace")
    [body] = core.namespaces
    assert body.metadata.labels[f"{PSA}/enforce"] == "privileged"
    assert body.metadata.annotations == {POD_SECURITY_REASON: "joins the node's PID namespace"}
