"""Deployments that fail for a missing prerequisite say so clearly (FR-038), as a user meets them:

* the cluster does not answer (Minikube stopped, the local cluster down): ``make deploy`` with a
  kubeconfig whose server is a closed port stops with one line naming the context and the command
  that starts that kind of cluster, exits non-zero and installs nothing;
* the node has too little room (EC-1): a release whose pod fits the node but not beside what already
  runs there stays Pending, and ``make diagnose`` names "Insufficient cpu" and how to get room.

The user's kubeconfig is never touched: the stopped cluster is a throwaway copy of the tier's own
kubeconfig with its server address changed.
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest
import yaml

from harness.core.names import random_suffix
from harness.core.net import free_port
from harness.core.paths import REPO_ROOT
from harness.core.wait import wait_for
from harness.deploy import workloads
from harness.deploy.namespaces import namespace_name
from verification.cluster.failing import NOWHERE, finding_lines, make_diagnose, node_allocatable

# What starts each kind of cluster, as DEPLOYMENT.md tells a user (written here, not taken from the
# code under test).
START = {
    "local": "make cluster-up",
    "minikube": "minikube start",
    "kind": "kind create cluster",
    "docker-desktop": "Enable Kubernetes",
}
# How each kind of cluster gets more room for pods.
MORE_ROOM = {
    "local": "run the cluster on a machine with at least",
    "minikube": "minikube start --cpus=",
    "kind": "give the engine at least",
    "docker-desktop": "Settings → Resources",
}


def _stopped_copy_of(kubeconfig, context: str, path) -> str:
    """A copy of ``kubeconfig`` whose ``context`` points at a port on 127.0.0.1 where nothing listens."""
    config = yaml.safe_load(open(kubeconfig).read())
    cluster_name = next(c["context"]["cluster"] for c in config["contexts"] if c["name"] == context)
    entry = next(c for c in config["clusters"] if c["name"] == cluster_name)
    port = free_port()  # closed: found free, and nothing is started on it
    entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    config["current-context"] = context
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return f"https://127.0.0.1:{port}"


@pytest.mark.requirement("FR-038")
def test_make_deploy_to_a_cluster_that_does_not_answer_names_the_context_and_how_to_start_it(
        cluster, tmp_path, record_property):
    context = cluster.target.context
    kubeconfig = tmp_path / "kubeconfig-stopped"
    server = _stopped_copy_of(cluster.target.kubeconfig, context, kubeconfig)
    namespace, release = namespace_name("todo-deploy-stopped"), f"todo-{random_suffix(5)}"
    env = {key: value for key, value in os.environ.items() if key not in ("VALUES", "KUBECONFIG")}
    env.update(KUBECONFIG=str(kubeconfig), KUBE_CONTEXT=context, NAMESPACE=namespace, RELEASE=release,
               DATABASE_URL="postgresql://todo:unused@postgres.invalid:5432/todo", JWT_SECRET=secrets.token_hex(32))
    result = subprocess.run(["make", "--no-print-directory", "deploy"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)

    # Besides the error, deploy.sh says where the credentials came from (one line, not an error).
    said = [line for line in result.stderr.splitlines()
            if line.startswith("deploy: ") and not line.startswith("deploy: DATABASE_URL from ")]
    assert result.returncode != 0, f"make deploy succeeded against {server}:\n{result.stdout}"
    assert len(said) == 1, f"not one line of error:\n{result.stderr}"
    line = said[0]
    assert f"'{context}'" in line and "does not answer" in line, line
    start = START.get(cluster.env.provider, "kubectl config get-contexts")
    assert start in line, f"the line does not say how to start a {cluster.env.provider} cluster ({start!r}): {line}"
    assert "helm upgrade" not in result.stdout and "loading:" not in result.stdout, result.stdout

    # Nothing reached the real cluster: no namespace, no release of that name anywhere.
    assert namespace not in {n.metadata.name for n in cluster.core.list_namespace().items}
    releases = cluster.target.helm("list", "--all-namespaces", "--all", "-q", "--filter", f"^{release}$")
    assert not releases.strip(), releases
    record_property("evidence", f"make deploy KUBE_CONTEXT={context} (server {server}): exit {result.returncode}, "
                                f"'{line}'")


@pytest.mark.requirement("FR-038", "EC-1")
def test_a_pod_the_node_has_no_room_for_is_diagnosed_as_insufficient_cpu_with_how_to_get_room(
        failing_release, cluster, record_property):
    """The backend asks for all the CPU the node has: it fits the node, so a smaller request is not
    the answer, but never beside the pods already there (the release's own frontend, the cluster's
    system pods): the scheduler leaves a pod Pending with 'Insufficient cpu'."""
    allocatable, _, node = node_allocatable(cluster)
    whole_node = f"{int(allocatable * 1000)}m"
    release = failing_release("todo-no-room", database=NOWHERE, values={"backend": {
        "replicaCount": 1, "resources": {"requests": {"cpu": whole_node}, "limits": {"cpu": whole_node}}}})
    core, ns = cluster.core, release.namespace

    def pending_for_cpu() -> list:
        return [p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=release.selector).items
                if p.status.phase == "Pending" and any(
                    c.type == "PodScheduled" and c.status == "False" and "Insufficient cpu" in (c.message or "")
                    for c in p.status.conditions or [])]

    wait_for(pending_for_cpu, what="a pod of the release to be Pending with 'Insufficient cpu'", timeout=120,
             interval=2, describe=lambda: workloads.pod_states(core, ns, release.selector))
    report = make_diagnose(release)
    record_property("evidence", f"backend requests {whole_node} cpu (node {node} has {allocatable:g}): "
                                + finding_lines(report, "insufficient-resources"))
    assert "[insufficient-resources]" in report and "Insufficient cpu" in report, report
    room = MORE_ROOM.get(cluster.env.provider, "add a node or capacity")
    assert room in report, f"the diagnosis does not say how a {cluster.env.provider} cluster gets room ({room!r}):\n{report}"
    assert "lower the request:" not in report, f"the pod fits the node; the diagnosis says to shrink it:\n{report}"
