"""The chart's NetworkPolicies enforced on a running release (security issue 16), beyond the static
evaluation of the rendered policies (``verification/static/test_chart_security.py``).

One release, installed without policies: a pod without the chart's labels, in the release's
namespace and in another one, reaches the backend on its port, so the probe is shown able to
connect. Then ``networkPolicy.enabled=true`` (``helm upgrade``, no pod restarts) and the same
probes must be refused while the product keeps working through its allowed paths: a user signs up
and lists tasks through the frontend (frontend → backend → PostgreSQL), the chart's ``helm test``
pod passes, and the backend reaches PostgreSQL but not the frontend.

It needs a cluster that enforces NetworkPolicy, and many accept policies and enforce nothing
(Minikube's default CNI, Docker Desktop, the local cluster built here: its kernel lacks nftables'
``queue`` support, which kube-network-policies needs for every rule). So the module first asks the
cluster itself: a deny-all policy around a listening pod in a namespace of its own; a connection that
still gets through skips the module and says so. kind (kindnet enforces policies) and Minikube with
``--cni=calico`` run it.
"""

from __future__ import annotations

import re
import time

import pytest

from harness.core.paths import CHART_DIR
from harness.core.wait import wait_for
from harness.deploy import conditions, postgres
from harness.deploy.release import Release, install_release, remove_release
from harness.testkit import journey

pytestmark = pytest.mark.requirement("FR-011")

POLICY_DEADLINE_S = 60  # policies applied → the first probe refused (the enforcer reacts in well under 1 s)
CONNECT_TIMEOUT_S = 3
# Connects once and says how it went; exit 0 either way, so a failed `kubectl exec` is told apart.
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout={timeout}).close()
    print("connected")
except OSError as exc:
    print(f"not connected: {{type(exc).__name__}}: {{exc}}")
""".format(timeout=CONNECT_TIMEOUT_S)


def probe_pod_manifest(image: str, name: str, role: str = "stranger",
                       command: tuple[str, ...] = ("python3", "-c", "import time; time.sleep(3600)")):
    """The probe pod (a V1Pod): the backend's image as its own non-root user, admitted by Pod Security
    "restricted" like every pod the harness makes in a test namespace (issue 27)."""
    from kubernetes import client

    container = client.V1Container(
        name="probe", image=image, image_pull_policy="IfNotPresent", command=list(command),
        resources=client.V1ResourceRequirements(requests={"cpu": "10m", "memory": "32Mi"},
                                                limits={"memory": "64Mi"}),
        security_context=client.V1SecurityContext(
            allow_privilege_escalation=False, run_as_non_root=True,
            capabilities=client.V1Capabilities(drop=["ALL"])))
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels={"role": role}),
                        spec=client.V1PodSpec(
                            containers=[container], termination_grace_period_seconds=1,
                            automount_service_account_token=False,
                            security_context=client.V1PodSecurityContext(
                                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))))


def _probe_pod(cluster, image: str, namespace: str, name: str, role: str = "stranger",
               command: tuple[str, ...] = ("python3", "-c", "import time; time.sleep(3600)")) -> str:
    """A pod of the backend's image without the chart's labels (nothing in the chart selects it),
    asleep until it is told to connect somewhere (or running ``command``)."""
    c = cluster
    c.core.create_namespaced_pod(namespace, probe_pod_manifest(image, name, role, command))
    conditions.wait_pods_ready(c.core, namespace, f"role={role}", timeout=120)
    return name


def _connect(cluster, namespace: str, pod: str, host: str, port: int, container: str | None = None) -> str:
    """``connected`` or ``not connected: …`` for one TCP connection from ``pod`` to ``host:port``."""
    argv = ["-n", namespace, "exec", pod, *(["-c", container] if container else []), "--",
            "python3", "-c", PROBE, host, str(port)]
    return cluster.target.kubectl(*argv, timeout=60).strip()


DENY_ALL_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress}
spec:
  podSelector: {matchLabels: {role: listener}}
  policyTypes: [Ingress]
"""
ENFORCEMENT_DEADLINE_S = 20  # a deny-all policy → refused, on a cluster that enforces (well under 1 s on kind)


def _enforcement_problem(cluster, image: str) -> str | None:
    """None when the cluster enforces NetworkPolicy, else what showed that it does not: a pod
    listening on 8080 behind a deny-all ingress policy, and a pod of the same namespace connecting."""
    namespace = cluster.new_namespace("todo-netpol-probe")
    try:
        listener = _probe_pod(cluster, image, namespace, "listener", role="listener",
                              command=("python3", "-m", "http.server", "8080"))
        client_pod = _probe_pod(cluster, image, namespace, "client")
        ip = cluster.core.read_namespaced_pod(listener, namespace).status.pod_ip
        first = _connect(cluster, namespace, client_pod, ip, 8080)
        if first != "connected":
            return f"even without a policy a pod could not reach another one ({first})"
        cluster.target.kubectl("-n", namespace, "apply", "-f", "-", input=DENY_ALL_INGRESS, timeout=60)
        deadline = time.monotonic() + ENFORCEMENT_DEADLINE_S
        last = first
        while time.monotonic() < deadline:
            last = _connect(cluster, namespace, client_pod, ip, 8080)
            if last != "connected":
                return None
            time.sleep(1)
        return f"a pod behind a deny-all ingress policy still accepted a connection {ENFORCEMENT_DEADLINE_S} s after it"
    finally:
        cluster.drop_namespace(namespace, background=True)


def _backend_address(release: Release) -> tuple[str, int]:
    svc = release.service("backend")
    return f"{svc.metadata.name}.{release.namespace}.svc", svc.spec.ports[0].port


@pytest.fixture(scope="module")
def enforcing(cluster, images):
    problem = _enforcement_problem(cluster, images.backend)
    if problem:
        pytest.skip(f"cluster {cluster.env.provider} does not enforce NetworkPolicy: {problem} "
                    "(the chart's policies are judged by the static tier; run this on kind or Minikube --cni=calico)")
    return cluster


@pytest.fixture(scope="module")
def open_release(enforcing, images, tmp_path_factory):
    """A release without policies (the chart's default) and two strangers: one in its namespace,
    one in a namespace of their own. Policies are turned on by the test."""
    installed = install_release(enforcing, images, tmp_path_factory.mktemp("netpol"), prefix="todo-netpol")
    other = enforcing.new_namespace("todo-netpol-other")
    try:
        strangers = {"same namespace": (installed.namespace, _probe_pod(enforcing, images.backend, installed.namespace, "stranger")),
                     "other namespace": (other, _probe_pod(enforcing, images.backend, other, "stranger"))}
        yield installed, strangers
    finally:
        remove_release(installed)
        enforcing.drop_namespace(other, wait=120)


def test_with_policies_on_only_the_frontend_and_the_helm_test_pod_reach_the_backend(open_release, record_property):
    release, strangers = open_release
    host, port = _backend_address(release)
    before = {where: _connect(release.cluster, ns, pod, host, port) for where, (ns, pod) in strangers.items()}
    assert all(v == "connected" for v in before.values()), (
        f"without policies a stranger pod must reach {host}:{port}, or the probe proves nothing: {before}")

    # The database's address is the user's to name (issue 27; its URL has a Service name): its pod's.
    database_cidr = postgres.pod_cidr(release.cluster.core, release.namespace)
    release.helm("upgrade", release.name, str(CHART_DIR), "-f", str(release.values_file), "--set", "networkPolicy.enabled=true",
                 "--set", f"networkPolicy.database.cidr={database_cidr}", "--wait", "--timeout", "3m")
    applied = time.monotonic()
    last: dict[str, str] = {}

    def all_refused() -> bool:
        last.update({where: _connect(release.cluster, ns, pod, host, port) for where, (ns, pod) in strangers.items()})
        return not any(v == "connected" for v in last.values())

    wait_for(all_refused, what=f"the stranger pods to be refused on {host}:{port} once the policies are applied",
             timeout=POLICY_DEADLINE_S, interval=0.5, describe=lambda: str(last))
    effective = time.monotonic() - applied

    # The allowed paths still work: frontend → backend → PostgreSQL, for a user through the NodePort.
    with release.frontend_access() as url:
        user = journey.register_and_login(url, prefix="netpol")
        journey.chat(user, "add a task: buy milk")
        listed = journey.tasks(user)
    assert any("milk" in t.get("title", "") for t in listed), listed

    out = release.helm("test", release.name, "--timeout", "3m")
    assert re.search(r"^Phase:\s+Succeeded$", out, re.M), f"the chart's helm test pod is blocked: {out}"

    backend = release.pods("backend")[0].metadata.name
    db = release.database
    to_db = _connect(release.cluster, release.namespace, backend, db.host, db.port, container="backend")
    frontend = release.service("frontend")
    to_frontend = _connect(release.cluster, release.namespace, backend, f"{frontend.metadata.name}.{release.namespace}.svc",
                           frontend.spec.ports[0].port, container="backend")
    assert to_db == "connected", f"the backend's egress to PostgreSQL {db.host}:{db.port}: {to_db}"
    assert to_frontend != "connected", "the backend reached the frontend: its egress is not limited to the database"
    record_property("evidence", f"before the policies: {before}; {effective:.1f}s after helm upgrade returned: "
                                f"{last}; backend → PostgreSQL: {to_db}; backend → frontend: {to_frontend}")
