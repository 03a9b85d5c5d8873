"""Every values file the chart ships, installed on the cluster, and a user's journey through the way
that file exposes the UI.

One namespace and one PostgreSQL serve the module; each file is installed into it in turn
(``helm install -f <file> -f <the test's values>``: the test's values set only the image tags it
built and the credentials), used, and uninstalled. The journey is what a user does over HTTP: sign
up, sign in, add a task and list it, and chat (not with ``values-prod.yaml``: its chat provider is
OpenAI, which this machine cannot reach; its task calls still go frontend -> backend -> database).

How each file exposes the UI, and how it is reached here (named in the evidence):

* ``values.yaml``, ``values-dev.yaml``: a NodePort (dev's is fixed at 30080), at a node's address.
* ``values-staging.yaml``: a LoadBalancer; through its external address when the cluster gives one
  (a cloud, ``minikube tunnel``), else through the harness's ``kubectl port-forward`` to the
  Service, named as the stand-in for the load balancer.
* ``values-prod.yaml``: an Ingress (TLS, class nginx) in front of a ClusterIP Service. Where the
  cluster has no controller for the class, the Ingress must still be accepted by the API server
  (installed, and a server-side dry-run of it passes) and the journey goes to the Service its rule
  routes to, named as such.

Credentials of staging and prod come from a Secret made beforehand (``secrets.existingSecret``), as
the files say; the live backend must read them from it.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass

import httpx
import pytest
import yaml
from kubernetes import client

from harness.core.paths import CHART_DIR
from harness.core.wait import wait_for
from harness.deploy import k8s
from harness.deploy.release import install_release, remove_release
from harness.deploy.sweep import sweep
from harness.testkit import journey, postgres

EXISTING_SECRET = "todo-chatbot-credentials"  # the name values-staging.yaml and values-prod.yaml give


@dataclass(frozen=True)
class Exposure:
    file: str
    service_type: str
    node_port: int | None = None
    existing_secret: bool = False
    ingress: bool = False
    chat: bool = True


CASES = {
    "values.yaml": Exposure("values.yaml", "NodePort"),
    "values-dev.yaml": Exposure("values-dev.yaml", "NodePort", node_port=30080),
    "values-staging.yaml": Exposure("values-staging.yaml", "LoadBalancer", existing_secret=True),
    "values-prod.yaml": Exposure("values-prod.yaml", "ClusterIP", existing_secret=True, ingress=True, chat=False),
}


@pytest.fixture(scope="module")
def place(cluster, images):
    """The module's namespace and PostgreSQL, shared by the installs one after the other."""
    namespace = cluster.new_namespace("todo-values")
    try:
        database = postgres.deploy_in_cluster(cluster.apps, cluster.core, namespace, images.postgres,
                                              target=cluster.target)
        yield namespace, database
    finally:
        cluster.drop_namespace(namespace, wait=120)


def _journey(base_url: str, chat: bool) -> str:
    user = journey.register_and_login(base_url, prefix="values")
    with httpx.Client(base_url=base_url, timeout=30, headers=user.headers) as client:
        made = client.post("/api/tasks", json={"title": "reached through the values file's way in"})
        assert made.status_code == 201, f"add task via {base_url}: {made.status_code} {made.text[:200]}"
    assert [t["title"] for t in journey.tasks(user)] == ["reached through the values file's way in"]
    if chat:
        assert journey.chat(user, "list my tasks").get("response"), "an empty chat answer"
        return "sign-up, sign-in, a task added and listed, a chat turn"
    return "sign-up, sign-in, a task added and listed (no chat: the file's provider is OpenAI, not reachable here)"


def _ingress_route(release) -> tuple[dict, str, int]:
    ingress = next(d for d in release.manifests() if d["kind"] == "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    return ingress, backend["name"], int(backend["port"]["number"])


def _ingress_problem(release, ingress: dict) -> str | None:
    """None when the API server accepts the rendered Ingress again (server-side dry-run), else why not."""
    result = subprocess.run(
        release.cluster.target.kubectl_argv("apply", "--dry-run=server", "-n", release.namespace, "-f", "-"),
        input=yaml.safe_dump(ingress), capture_output=True, text=True, check=False, timeout=120)
    return None if result.returncode == 0 and "server dry run" in result.stdout else (result.stderr or result.stdout)


@pytest.mark.requirement("FR-023", "US3-3", "FR-012", "FR-039")
@pytest.mark.parametrize("case", list(CASES))
def test_each_values_file_installs_and_a_user_gets_through_its_way_in(place, cluster, images, tmp_path, case,
                                                                    record_property, record_figure):
    shipped = {p.name for p in CHART_DIR.glob("values*.yaml")}
    assert shipped == set(CASES), f"a values file without its case here: shipped {sorted(shipped)}, cases {sorted(CASES)}"
    exposure = CASES[case]
    namespace, database = place
    core = cluster.core
    if exposure.existing_secret:
        core.create_namespaced_secret(namespace, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": EXISTING_SECRET},
            "stringData": {"DATABASE_URL": database.url, "JWT_SECRET": secrets.token_hex(32),
                           "OPENAI_API_KEY": "sk-placeholder-not-a-real-key"}})
    release = install_release(cluster, images, tmp_path, namespace=namespace, database=database,
                              env_values=(CHART_DIR / exposure.file,))
    try:
        record_figure(f"{exposure.file}: helm install -> every pod Ready", release.install_seconds, "s")
        svc = release.service("frontend")
        assert svc.spec.type == exposure.service_type, f"{exposure.file}: frontend Service is {svc.spec.type}"
        if exposure.node_port:
            assert svc.spec.ports[0].node_port == exposure.node_port, svc.spec.ports[0]
        if exposure.existing_secret:
            for pod in release.pods("backend"):
                refs = {e.name: e.value_from.secret_key_ref.name for e in pod.spec.containers[0].env or []
                        if e.value_from and e.value_from.secret_key_ref}
                assert refs.get("DATABASE_URL") == EXISTING_SECRET, refs
        if exposure.ingress:
            ingress, service, port = _ingress_route(release)
            class_name = ingress["spec"].get("ingressClassName")
            classes = {c.metadata.name for c in
                       client.NetworkingV1Api(cluster.core.api_client).list_ingress_class().items}
            problem = _ingress_problem(release, ingress)
            assert problem is None, f"{exposure.file}: the API server refuses the Ingress: {problem}"
            assert any(s.metadata.name == service for s in
                       core.list_namespaced_service(namespace, label_selector=release.selector).items), (
                f"the Ingress routes to Service {service}, which the release does not have")
            reason = (f"no controller for IngressClass {class_name} on this cluster (classes: {sorted(classes) or 'none'})"
                      if class_name not in classes else
                      f"IngressClass {class_name} exists, but the file's host {ingress['spec']['rules'][0]['host']} is a "
                      "placeholder without DNS or certificate here")
            with k8s.PortForward(cluster.target, namespace, f"svc/{service}", port) as forward:
                done = _journey(forward.url, exposure.chat)
            via = (f"the Ingress's backend Service {service}:{port} through kubectl port-forward ({reason}; the "
                   "Ingress itself passed a server-side dry-run)")
        else:
            access = release.frontend_access()
            with access as url:
                done = _journey(url, exposure.chat)
                via = access.via
            if exposure.service_type == "NodePort":
                assert via.startswith("NodePort "), f"{exposure.file}: the NodePort was not reachable: {via}"
        # Uninstalled, nothing of it is left (every kind discovery lists), and a Secret made beforehand
        # is still there: it is the user's, not the release's.
        release.helm("uninstall", release.name, "--wait", "--timeout", "3m")
        left: dict[str, str] = {}

        def nothing_left() -> bool:
            left.clear()
            left.update(sweep(cluster.core.api_client, namespace, release.name).found)
            return not left

        wait_for(nothing_left, what=f"every object of release {release.name} ({exposure.file}) to be gone", timeout=120,
                 interval=3, describe=lambda: f"left: {left}")
        if exposure.existing_secret:
            assert core.read_namespaced_secret(EXISTING_SECRET, namespace).data, "helm uninstall removed the user's Secret"
        record_property("evidence", f"{exposure.file}: {done}, via {via}; after helm uninstall nothing of the release "
                                    "is left" + (f" and the Secret {EXISTING_SECRET} made beforehand stays"
                                                 if exposure.existing_secret else ""))
    finally:
        remove_release(release, keep_namespace=True)
        if exposure.existing_secret:
            core.delete_namespaced_secret(EXISTING_SECRET, namespace)
