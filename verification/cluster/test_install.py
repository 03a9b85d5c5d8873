"""One ``helm install`` into a fresh namespace: timing, Services, the UI, a chat turn, clean logs,
live pod specs equal to what Helm installed, credentials only from Secrets, ``helm test``,
server-side dry run; then, on the same release (it is the values.yaml install of
``test_values_files.py``'s list), another developer's release beside it.

Several developers on one cluster: a second release of the same name in another namespace, with
its own PostgreSQL, comes, is used and goes while the first one is in use.

What would show interference, each checked on the running releases: data written through one
release visible through the other (users and tasks live in each release's own database, so a
frontend forwarding to the other namespace's backend, or a backend on the other database, shows up
as a user who can sign in where they never signed up); the first release's pods restarted or
replaced; a Service of the first release routing to a pod of the second; the first release
failing once the second is uninstalled.
"""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from harness import contract
from harness.core.names import random_suffix
from harness.core.paths import CHART_DIR
from harness.deploy import workloads
from harness.deploy.release import install_release, remove_release
from harness.kube.quantities import quantity
from harness.testkit import app_flow, journey
from harness.testkit import browser as ui
from harness.testkit.logcheck import error_lines


@pytest.mark.requirement("US1-1", "SC-003", "FR-035")
def test_one_helm_install_brings_every_pod_ready_within_two_minutes(release, record_property):
    record_property("pods_ready_after_install_s", round(release.ready_seconds, 1))
    record_property("install_to_ready_s", round(release.install_seconds, 1))
    assert release.install_seconds <= contract.READY_BUDGET_S, (
        f"helm install → every pod Ready took {release.install_seconds:.0f}s (budget {contract.READY_BUDGET_S}s)")
    pods = release.pods()
    assert {p.metadata.labels["app.kubernetes.io/component"] for p in pods} >= {"backend", "frontend"}
    assert all(p.status.phase == "Running" for p in pods), [(p.metadata.name, p.status.phase) for p in pods]


@pytest.mark.requirement("SC-001", "FR-037")
def test_deploy_including_image_load_within_five_minutes(release, images, record_property):
    total = images.load_seconds + release.install_seconds
    record_property("image_load_s", round(images.load_seconds, 1))
    assert total <= contract.DEPLOY_BUDGET_S, (
        f"image load {images.load_seconds:.0f}s + install to Ready {release.install_seconds:.0f}s = {total:.0f}s "
        f"(budget {contract.DEPLOY_BUDGET_S}s)")


@pytest.mark.requirement("FR-011", "FR-012")
def test_backend_is_cluster_internal_and_frontend_is_node_port(release):
    assert release.service("backend").spec.type == "ClusterIP"
    frontend = release.service("frontend")
    assert frontend.spec.type == "NodePort"
    assert frontend.spec.ports[0].node_port, "the frontend Service has no node port"


@pytest.mark.requirement("US1-2", "US1-3")
def test_a_person_signs_up_and_chats_in_a_real_browser_from_outside_the_cluster(release, record_property, request):
    """The user's path, in Chromium: the frontend's address from outside the cluster (its NodePort,
    as the chart's NOTES tell), the login page, sign-up, a chat turn whose tool adds a task, the
    task list refreshed from the backend. Screenshots go to the report; the address used is named
    in the evidence (a ``kubectl port-forward`` only when this host cannot reach the NodePort)."""
    if reason := ui.missing():
        pytest.fail(reason, pytrace=False)
    from playwright.sync_api import expect

    chromium = request.getfixturevalue("chromium")  # the session's one browser (verification/fixtures.py)

    access = release.frontend_access()
    email, password = f"browser-{random_suffix(6)}@example.com", "correct horse battery"
    with access as url:
        context = chromium.new_context(base_url=url, viewport={"width": 1280, "height": 860})
        try:
            context.set_default_timeout(30_000)
            page = context.new_page()
            response = page.goto("/")
            assert response is not None and response.ok, f"{access.via}: GET / answered {response and response.status}"
            expect(page).to_have_url(re.compile(r"/login$"))
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            login_shot = ui.screenshot(page, "cluster-login.png")
            ui.register(page, email, password)
            expect(page.get_by_role("heading", name="Chat with your assistant")).to_be_visible()
            ui.chat(page, "Add a task to buy oat milk")
            expect(page.get_by_role("list", name="Conversation").locator('li[data-role="assistant"]')).to_have_count(1)
            expect(ui.task_item(page, "buy oat milk")).to_have_count(1)
            chat_shot = ui.screenshot(page, "cluster-chat.png")
        finally:
            context.close()
    record_property("evidence", f"Chromium reached the frontend via {access.via}")
    for shot in (login_shot, chat_shot):
        record_property("evidence", f"screenshot: {shot.relative_to(shot.parents[1])}")


@pytest.mark.requirement("US1-3")
def test_chat_turn_through_the_frontend_reaches_the_backend(release, record_property):
    access = release.frontend_access()
    with access as url:
        answer = app_flow.chat_turn(url)
    assert answer.get("response"), f"empty chat answer: {answer}"
    assert answer.get("conversation_id"), answer
    record_property("evidence", f"register, login and a chat turn over HTTP via {access.via}")


@pytest.mark.requirement("US1-4")
def test_no_error_line_in_any_pod_log(release):
    bad = {}
    for pod in release.pods():
        for status in pod.status.container_statuses or []:
            log = release.cluster.core.read_namespaced_pod_log(pod.metadata.name, release.namespace,
                                                               container=status.name)
            lines = error_lines(log)
            if lines:
                bad[f"{pod.metadata.name}/{status.name}"] = lines[:5]
            assert status.restart_count == 0, f"{pod.metadata.name}/{status.name} restarted {status.restart_count}×"
    assert not bad, f"error lines in pod logs: {bad}"


def _rendered_deployments(release) -> dict[str, dict]:
    return {(d["metadata"].get("labels") or {}).get("app.kubernetes.io/component"): d
            for d in release.manifests() if d.get("kind") == "Deployment"}


def _same_quantities(a: dict | None, b: dict | None) -> bool:
    a, b = a or {}, b or {}
    return a.keys() == b.keys() and all(quantity(a[k]) == quantity(b[k]) for k in a)


# What runs is what Helm says it installed: no admission webhook, LimitRange or other controller
# changed the pods on their way (FR-035, one helm install deploys the application as rendered). The
# probes and limits themselves are the static tier's (their content) and the failure tests' (their
# behaviour: test_failures.py, test_rollout.py): this comparison proves neither.
@pytest.mark.requirement("FR-035")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_live_pods_are_what_helm_installed(release, component):
    rendered = _rendered_deployments(release)[component]
    template = rendered["spec"]["template"]
    want = {c["name"]: c for c in template["spec"]["containers"]}
    pods = release.pods(component)
    assert len(pods) == rendered["spec"].get("replicas", 1)
    for pod in pods:
        labels = pod.metadata.labels or {}
        missing = {k: v for k, v in template["metadata"]["labels"].items() if labels.get(k) != v}
        assert not missing, f"{pod.metadata.name} lacks the rendered labels {missing}"
        for c in pod.spec.containers:
            spec = want[c.name]
            for kind, live in (("readinessProbe", c.readiness_probe), ("livenessProbe", c.liveness_probe)):
                assert live is not None, f"{pod.metadata.name}/{c.name} has no {kind}"
                if "httpGet" in spec[kind]:
                    assert (live.http_get.path, str(live.http_get.port)) == (
                        spec[kind]["httpGet"]["path"], str(spec[kind]["httpGet"]["port"])), kind
            res = spec.get("resources") or {}
            assert res.get("limits") and res.get("requests"), f"{component}: the chart renders no limits/requests"
            assert _same_quantities(c.resources.limits, res.get("limits")), (c.resources.limits, res.get("limits"))
            assert _same_quantities(c.resources.requests, res.get("requests")), (c.resources.requests, res.get("requests"))


@pytest.mark.requirement("US3-4", "FR-021")
def test_every_sensitive_env_var_of_every_live_container_comes_from_a_secret(release, record_property):
    """The live pods' environment, as ``kubectl describe`` shows it: every sensitive variable is a
    secretKeyRef into a Secret that exists and has the key, none comes from a ConfigMap or a
    literal, and the backend really gets the credentials it needs (a check that found no
    sensitive variable at all would prove nothing)."""
    core = release.cluster.core
    wrong, from_secrets = [], {}
    for pod in release.pods():
        component = pod.metadata.labels.get("app.kubernetes.io/component")
        for c in list(pod.spec.containers) + list(pod.spec.init_containers or []):
            for var in c.env or []:
                if not contract.is_sensitive(var.name):
                    continue
                ref = var.value_from.secret_key_ref if var.value_from else None
                if ref is None:
                    wrong.append(f"{pod.metadata.name}/{c.name}: {var.name} is not a secretKeyRef")
                    continue
                data = core.read_namespaced_secret(ref.name, release.namespace).data or {}
                if ref.key not in data and not ref.optional:
                    wrong.append(f"{pod.metadata.name}/{c.name}: {var.name} → Secret {ref.name} has no key {ref.key}")
                from_secrets.setdefault(component, set()).add(var.name)
            for source in c.env_from or []:
                if source.config_map_ref is not None:
                    data = core.read_namespaced_config_map(source.config_map_ref.name, release.namespace).data or {}
                    wrong += [f"{pod.metadata.name}/{c.name}: {k} comes from ConfigMap {source.config_map_ref.name}"
                              for k in data if contract.is_sensitive((source.prefix or "") + k)]
                if source.secret_ref is not None:
                    data = core.read_namespaced_secret(source.secret_ref.name, release.namespace).data or {}
                    from_secrets.setdefault(component, set()).update(
                        (source.prefix or "") + k for k in data if contract.is_sensitive((source.prefix or "") + k))
    assert not wrong, wrong
    assert {"DATABASE_URL", "JWT_SECRET"} <= from_secrets.get("backend", set()), (
        f"the backend's credentials do not come from a Secret: {from_secrets}")
    record_property("evidence", "sensitive variables from Secrets: " + "; ".join(
        f"{component}: {', '.join(sorted(names))}" for component, names in sorted(from_secrets.items())))


@pytest.mark.requirement("FR-035", "US1-1")
def test_helm_test_passes(release):
    # No --logs: the hook pod is deleted once it succeeds (hook-succeeded), so there are no
    # logs to fetch then; a failed test pod stays for `kubectl logs` and `make diagnose`.
    out = release.helm("test", release.name, "--timeout", "3m")
    assert re.search(r"^TEST SUITE:.*-test-connection$", out, re.M), out
    assert re.search(r"^Phase:\s+Succeeded$", out, re.M), out


@pytest.mark.harness
def test_the_releases_namespace_enforces_pod_security_restricted_and_refuses_a_privileged_pod(release,
                                                                                             record_property):
    """Issue 27, black box: the namespace the harness made for the release is labelled restricted, and
    the API server's Pod Security admission refuses a pod there that joins the node's PID namespace as
    root (403, PodSecurity named). A self-test of the harness's namespaces: it proves no spec ID.
    Dry run: had the label not been enforced, nothing would have been created either."""
    from kubernetes.client.exceptions import ApiException

    core, ns = release.cluster.core, release.namespace
    labels = core.read_namespace(ns).metadata.labels or {}
    for mode in ("enforce", "warn", "audit"):
        assert labels.get(f"pod-security.kubernetes.io/{mode}") == "restricted", f"{ns} labels: {labels}"
    name = f"privileged-{random_suffix(5)}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"hostPID": True, "restartPolicy": "Never", "automountServiceAccountToken": False,
                    "securityContext": {"runAsUser": 0},
                    "containers": [{"name": "c", "image": release.images.backend, "command": ["true"]}]}}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(ns, pod, dry_run="All")
    body = refused.value.body or ""
    assert refused.value.status == 403 and "PodSecurity" in body and "restricted" in body, (
        f"expected a 403 from Pod Security admission, got {refused.value.status}: {body[:600]}")
    record_property("evidence", f"namespace {ns} enforce/warn/audit=restricted; a hostPID root pod refused: "
                                f"{refused.value.status} {body[:300]}")


@pytest.mark.requirement("FR-034")
def test_rendered_manifests_pass_server_side_dry_run(release):
    rendered = release.cluster.target.helm(
        "template", release.name, str(CHART_DIR), "-n", release.namespace, "-f", str(release.values_file),
        "--kube-version", release.cluster.server_version.lstrip("v").split("+")[0])
    result = subprocess.run(
        release.cluster.target.kubectl_argv("apply", "--dry-run=server", "-n", release.namespace, "-f", "-"),
        input=rendered, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr


# --- several developers on one cluster (EC-7): last, on the same release --------------------------


def _pod_lives(release) -> dict[str, tuple[str, int]]:
    """name -> (uid, restarts of all its containers): a replaced or restarted pod changes it."""
    return {p.metadata.name: (p.metadata.uid, sum(s.restart_count for s in p.status.container_statuses or []))
            for p in release.pods()}


def _endpoint_ips(release, component: str) -> set[str]:
    """Every address the component's Service sends traffic to (its EndpointSlices, ready or not)."""
    from kubernetes import client

    name = release.service(component).metadata.name
    slices = client.DiscoveryV1Api(release.cluster.core.api_client).list_namespaced_endpoint_slice(
        release.namespace, label_selector=f"kubernetes.io/service-name={name}").items
    return {address for s in slices for e in s.endpoints or [] for address in e.addresses or []}


def _add_task(user: journey.User, title: str) -> dict:
    with httpx.Client(base_url=user.base_url, timeout=30, headers=user.headers) as client:
        response = client.post(user.path("tasks"), json={"title": title})
    assert response.status_code == 201, f"add task via {user.base_url}: {response.status_code} {response.text[:300]}"
    return response.json()


def _login_status(base_url: str, user: journey.User) -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return client.post("/api/auth/login", json={"email": user.email, "password": user.password}).status_code


def _titles(user: journey.User) -> list[str]:
    return sorted(t["title"] for t in journey.tasks(user))


@pytest.mark.requirement("EC-7")
def test_two_releases_in_two_namespaces_do_not_interfere(release, cluster, images, tmp_path, record_property):
    a_lives = _pod_lives(release)
    with release.frontend_access() as a_url:
        alice = journey.register_and_login(a_url, prefix="isolation-a")
        _add_task(alice, "written through release A")

    other = install_release(cluster, images, tmp_path, prefix="todo-second")  # same name, own PostgreSQL
    try:
        with other.frontend_access() as b_url:
            bob = journey.register_and_login(b_url, prefix="isolation-b")
            _add_task(bob, "written through release B")
            assert _titles(bob) == ["written through release B"], "release B lists tasks it was never given"
            assert _login_status(b_url, alice) == 401, "A's user signs in through release B"
        with release.frontend_access() as a_url:
            assert _login_status(a_url, bob) == 401, "B's user signs in through release A: they share data"
            alice.base_url = a_url  # the same address, unless it is a new port-forward
            journey.login(alice)
            assert _titles(alice) == ["written through release A"], "release A shows tasks it was never given"
            # B's e-mail address is free in A: B's sign-up is not in A's database.
            twin = journey.User(a_url, bob.email, bob.password, via_frontend=True)
            with httpx.Client(base_url=a_url, timeout=30) as client:
                answer = client.post("/api/auth/register", json={"email": bob.email, "password": bob.password})
            assert answer.status_code == 201, f"B's address is taken in A: {answer.status_code} {answer.text[:200]}"
            assert journey.tasks(journey.login(twin)) == [], "B's tasks are visible through release A"

        b_ips = {p.status.pod_ip for p in other.pods()}
        for component in ("backend", "frontend"):
            a_ips = {p.status.pod_ip for p in release.pods(component)}
            routed = _endpoint_ips(release, component)
            assert routed == a_ips, (f"release A's {component} Service routes to {sorted(routed)}, its pods are "
                                     f"{sorted(a_ips)} (release B's: {sorted(b_ips)})")
        assert _pod_lives(release) == a_lives, "release A's pods were replaced or restarted while B installed"
    finally:
        remove_release(other)

    assert _pod_lives(release) == a_lives, "release A's pods were replaced or restarted while B came and went"
    for component in ("backend", "frontend"):
        assert workloads.service_routes_to_ready_pods(release.cluster.core, release.namespace,
                                                release.service(component).metadata.name), component
    with release.frontend_access() as a_url:
        alice.base_url = a_url
        journey.login(alice)
        assert _titles(alice) == ["written through release A"], "release A lost its data when B was uninstalled"
        assert journey.chat(alice, "list my tasks").get("response"), "release A does not chat after B is gone"
    record_property("evidence", f"release {release.name} in {release.namespace} and {other.namespace}: users "
                                "and tasks of each invisible through the other, A's pods untouched "
                                f"({len(a_lives)}), A's Services route to A's pods only, A serves after B is gone")
