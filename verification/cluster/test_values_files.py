"""Every values file the chart ships, installed on the cluster, a user's journey through the way that
file exposes the UI, and ``helm uninstall`` leaving nothing of it.

One namespace and one PostgreSQL serve the module; each environment file is installed into it in
turn (``helm install -f <file> -f <the test's values>``: the test's values set only the image tags
it built and the credentials), used, uninstalled and swept. ``values.yaml`` alone is the install of
``test_install.py`` (its NodePort, a real browser's sign-up and chat): not installed twice. The
journey is what a user does over HTTP: sign up, sign in, add a task and list it, and chat (not with
``values-prod.yaml``: its chat provider is OpenAI, which this machine cannot reach; its task calls
still go frontend -> backend -> database).

How each file exposes the UI, and how it is reached here (named in the evidence):

* ``values-dev.yaml``: a NodePort fixed at 30080, at a node's address.
* ``values-staging.yaml``: a LoadBalancer; through its external address when the cluster gives one
  (a cloud, ``minikube tunnel``), else through the harness's ``kubectl port-forward`` to the
  Service, named as the stand-in for the load balancer.
* ``values-prod.yaml``: an Ingress (TLS, class nginx) in front of a ClusterIP Service. Where the
  cluster has no controller for the class, the Ingress must still be accepted by the API server
  (installed, and a server-side dry-run of it passes) and the journey goes to the Service its rule
  routes to, named as such.

Uninstall leaves nothing (FR-039): after each install, ``helm uninstall`` and a sweep of every kind
the API server lists, namespaced and cluster-scoped (``harness.deploy.sweep``: discovery, not a list
written here), for anything of the release. values-prod.yaml has every optional resource of the
chart on (NetworkPolicies, the Ingress, its ServiceAccount, the ``helm test`` pod, which is run) and
reads a Secret made beforehand, which must survive the uninstall (it is the user's); values-dev.yaml
has the Secret the chart makes, which must go. Before that uninstall the same sweep must find every
object ``helm get manifest`` names, those the cluster made from them and Helm's release record: a
sweep that sees nothing then would prove nothing after.
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
from harness.deploy import access, discovery, postgres
from harness.deploy.release import RELEASE_NAME, Release, install_release, remove_release
from harness.deploy.sweep import Sweep, sweep
from harness.testkit import journey

EXISTING_SECRET = "todo-chatbot-credentials"  # the name values-staging.yaml and values-prod.yaml give
# What the cluster makes from the chart's objects, not in the manifest: the sweep must see them too.
DERIVED_KINDS = {"Pod", "ReplicaSet", "EndpointSlice"}
OPTIONAL_KINDS = {"NetworkPolicy", "Ingress", "ServiceAccount", "PodDisruptionBudget"}


@dataclass(frozen=True)
class Exposure:
    file: str
    service_type: str
    node_port: int | None = None
    existing_secret: bool = False
    ingress: bool = False
    chat: bool = True
    helm_test: bool = False  # run `helm test` before the uninstall (its hook pod must be swept too)


CASES = {
    "values-dev.yaml": Exposure("values-dev.yaml", "NodePort", node_port=30080),
    "values-staging.yaml": Exposure("values-staging.yaml", "LoadBalancer", existing_secret=True),
    "values-prod.yaml": Exposure("values-prod.yaml", "ClusterIP", existing_secret=True, ingress=True, chat=False,
                                 helm_test=True),
}
ELSEWHERE = {"values.yaml": "test_install.py"}


@pytest.fixture(scope="module")
def place(cluster, images):
    """The module's namespace and PostgreSQL, shared by the installs one after the other."""
    namespace = cluster.new_namespace("todo-values")
    try:
        database = postgres.deploy_in_cluster(cluster.apps, cluster.core, namespace, images.postgres,
                                              target=cluster.target)
        yield namespace, database
    finally:
        cluster.drop_namespace(namespace, background=True)


def _journey(base_url: str, chat: bool) -> str:
    user = journey.register_and_login(base_url, prefix="values")
    with httpx.Client(base_url=base_url, timeout=30, headers=user.headers) as http:
        made = http.post("/api/tasks", json={"title": "reached through the values file's way in"})
        assert made.status_code == 201, f"add task via {base_url}: {made.status_code} {made.text[:200]}"
    assert [t["title"] for t in journey.tasks(user)] == ["reached through the values file's way in"]
    if chat:
        assert journey.chat(user, "list my tasks").get("response"), "an empty chat answer"
        return "sign-up, sign-in, a task added and listed, a chat turn"
    return "sign-up, sign-in, a task added and listed (no chat: the file's provider is OpenAI, not reachable here)"


def _ingress_route(release: Release) -> tuple[dict, str, int]:
    ingress = next(d for d in release.manifests() if d["kind"] == "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    port = backend["port"]
    if "number" in port:
        return ingress, backend["name"], int(port["number"])
    # A named port: the Service's port of that name.
    svc = release.cluster.core.read_namespaced_service(backend["name"], release.namespace)
    return ingress, backend["name"], next(p.port for p in svc.spec.ports if p.name == port["name"])


def _ingress_problem(release: Release, ingress: dict) -> str | None:
    """None when the API server accepts the rendered Ingress again (server-side dry-run), else why not."""
    result = subprocess.run(
        release.cluster.target.kubectl_argv("apply", "--dry-run=server", "-n", release.namespace, "-f", "-"),
        input=yaml.safe_dump(ingress), capture_output=True, text=True, check=False, timeout=120)
    return None if result.returncode == 0 and "server dry run" in result.stdout else (result.stderr or result.stdout)


def _through_the_ingress(release: Release, exposure: Exposure) -> tuple[str, str]:
    cluster, namespace = release.cluster, release.namespace
    ingress, service, port = _ingress_route(release)
    class_name = ingress["spec"].get("ingressClassName")
    classes = {c.metadata.name for c in client.NetworkingV1Api(cluster.core.api_client).list_ingress_class().items}
    problem = _ingress_problem(release, ingress)
    assert problem is None, f"{exposure.file}: the API server refuses the Ingress: {problem}"
    assert service in {s.metadata.name for s in
                       cluster.core.list_namespaced_service(namespace, label_selector=release.selector).items}, (
        f"the Ingress routes to Service {service}, which the release does not have")
    reason = (f"no controller for IngressClass {class_name} on this cluster (classes: {sorted(classes) or 'none'})"
              if class_name not in classes else
              f"IngressClass {class_name} exists, but the file's host {ingress['spec']['rules'][0]['host']} is a "
              "placeholder without DNS or certificate here")
    with access.PortForward(cluster.target, namespace, f"svc/{service}", port) as forward:
        done = _journey(forward.url, exposure.chat)
    return done, (f"the Ingress's backend Service {service}:{port} through kubectl port-forward ({reason}; the "
                  "Ingress itself passed a server-side dry-run)")


def _sweep(release: Release) -> Sweep:
    found = sweep(release.cluster.core.api_client, release.namespace, release.name)
    assert found.namespaced_kinds >= 20 and found.cluster_kinds >= 10, (
        f"discovery found only {found.namespaced_kinds} namespaced and {found.cluster_kinds} cluster-scoped kinds")
    return found


def _sweep_sees_the_release(release: Release) -> str:
    """Before the uninstall: the sweep finds every object Helm installed, what the cluster made from
    them and the release record, and its discovery lists the kinds kubectl's does."""
    cluster = release.cluster
    for scope in ("true", "false"):
        kubectl_kinds = set(cluster.target.kubectl("api-resources", "--verbs=list", f"--namespaced={scope}",
                                                   "-o", "name", timeout=120).split())
        swept_kinds = {r.name if "/" not in r.group_version else f"{r.name}.{r.group_version.split('/')[0]}"
                       for r in discovery.listable_resources(cluster.core.api_client, namespaced=scope == "true")[0]}
        assert swept_kinds == kubectl_kinds, (scope, sorted(swept_kinds - kubectl_kinds), sorted(kubectl_kinds - swept_kinds))
    rendered = {f"{d['kind']}/{d['metadata']['name']}" for d in release.manifests()}
    before = _sweep(release).found
    unseen = rendered - set(before)
    assert rendered and not unseen, f"the sweep does not see objects Helm installed: {sorted(unseen)}"
    kinds = {name.split("/")[0] for name in before}
    assert DERIVED_KINDS <= kinds, f"the sweep misses {sorted(DERIVED_KINDS - kinds)} before uninstall"
    assert any(why.startswith("Helm release record") for why in before.values()), before
    return f"before it the sweep found {len(before)} objects of the release ({', '.join(sorted(kinds))})"


@pytest.mark.requirement("FR-023", "US3-3", "FR-012", "FR-039")
@pytest.mark.parametrize("case", list(CASES))
def test_each_values_file_installs_serves_a_user_through_its_way_in_and_uninstalls_to_nothing(
        place, cluster, images, tmp_path, case, record_property, record_figure):
    shipped = {p.name for p in CHART_DIR.glob("values*.yaml")}
    assert shipped == set(CASES) | set(ELSEWHERE), f"a values file without its case: {sorted(shipped)}"
    exposure = CASES[case]
    namespace, database = place
    core = cluster.core
    release = None
    try:
        if exposure.existing_secret:
            core.create_namespaced_secret(namespace, {
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": EXISTING_SECRET},
                "stringData": {"DATABASE_URL": database.url, "JWT_SECRET": secrets.token_hex(32),
                               "OPENAI_API_KEY": "sk-placeholder-not-a-real-key"}})
        # values-staging.yaml and values-prod.yaml turn NetworkPolicies on: the database's address is
        # the user's to name (issue 27), here the throwaway PostgreSQL's pod.
        release = install_release(cluster, images, tmp_path, namespace=namespace, database=database,
                                  env_values=(CHART_DIR / exposure.file,),
                                  values={"networkPolicy": {"database": {"cidr": postgres.pod_cidr(core, namespace)}}})
        record_figure(f"{exposure.file}: helm install -> every pod Ready", release.install_seconds, "s")
        svc = release.service("frontend")
        assert svc.spec.type == exposure.service_type, f"{exposure.file}: frontend Service is {svc.spec.type}"
        if exposure.node_port:
            assert svc.spec.ports[0].node_port == exposure.node_port, svc.spec.ports[0]
        # The credentials (DATABASE_URL, JWT_SECRET) come from the user's Secret or the chart's own; the
        # frontend-to-backend PROXY_TOKEN is always the chart's (made with existingSecret too).
        credential_refs = {e.value_from.secret_key_ref.name for p in release.pods("backend")
                           for e in p.spec.containers[0].env or []
                           if e.name in ("DATABASE_URL", "JWT_SECRET") and e.value_from and e.value_from.secret_key_ref}
        made = {s.metadata.name: set(s.data or {}) for s in
                core.list_namespaced_secret(namespace, label_selector=release.selector).items}
        made_credentials = {name for name, keys in made.items() if "DATABASE_URL" in keys}
        proxy_tokens = {name for name, keys in made.items() if keys == {"PROXY_TOKEN"}}
        assert len(proxy_tokens) == 1 and set(made) == made_credentials | proxy_tokens, \
            f"{exposure.file}: the chart's Secrets {made}"
        if exposure.existing_secret:
            assert credential_refs == {EXISTING_SECRET} and not made_credentials, (credential_refs, made)
        else:
            assert credential_refs == made_credentials and len(made_credentials) == 1, \
                f"the chart's own Secret: refs {credential_refs}, made {made}"

        if exposure.ingress:
            done, via = _through_the_ingress(release, exposure)
        else:
            access = release.frontend_access()
            with access as url:
                done = _journey(url, exposure.chat)
                via = access.via
            if exposure.service_type == "NodePort":
                assert via.startswith("NodePort "), f"{exposure.file}: the NodePort was not reachable: {via}"

        kinds = {d["kind"] for d in release.manifests()}
        seen = ""
        if exposure.helm_test:
            assert OPTIONAL_KINDS <= kinds, f"{exposure.file} lacks optional kinds {sorted(OPTIONAL_KINDS - kinds)}"
            release.helm("test", release.name, "--timeout", "3m")  # its hook pod, deleted on success
            seen = _sweep_sees_the_release(release) + "; "
        release.helm("uninstall", release.name, "--wait", "--timeout", "3m")
        left: dict[str, str] = {}

        def nothing_left() -> bool:
            left.clear()
            left.update(_sweep(release).found)
            return not left

        # Helm deletes what it installed; the garbage collector then removes what was made from it.
        wait_for(nothing_left, what=f"every object of release {release.name} ({exposure.file}) to be gone", timeout=120,
                 interval=3, describe=lambda: f"left: {left}")
        if exposure.existing_secret:
            assert core.read_namespaced_secret(EXISTING_SECRET, namespace).data, "helm uninstall removed the user's Secret"
        record_property("evidence", f"{exposure.file}: {done}, via {via}; helm uninstall with {', '.join(sorted(kinds))}: "
                                    f"{seen}after it the sweep of every namespaced and cluster-scoped kind found "
                                    "nothing of the release" + (f", and the Secret {EXISTING_SECRET} made beforehand "
                                                                "stays" if exposure.existing_secret else ""))
    finally:
        if release is not None:
            remove_release(release, keep_namespace=True)
        else:  # the install failed half-way: its release must not block the next file's
            cluster.target.helm("uninstall", RELEASE_NAME, "-n", namespace, "--wait", check=False, timeout=300)
        if exposure.existing_secret:
            core.delete_collection_namespaced_secret(namespace, field_selector=f"metadata.name={EXISTING_SECRET}")
