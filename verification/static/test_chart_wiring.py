"""What the rendered manifests do together, as Kubernetes would wire them: which pods a Service
or a PodDisruptionBudget selects, where BACKEND_URL leads, what the API server would refuse,
what two releases in one namespace share. Written to kill mutants that passed every other static
test (``make mutate TIER=static``, verification/mutants.yaml); each asserts the behaviour, not
the template's text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from harness import contract
from harness.kube import quantities
from harness.kube import render as r
from harness.kube.manifests import pod_labels, pod_spec
from verification.static.cases import CASE_IDS, rendered

COMPONENTS = ("backend", "frontend")


def _selects(selector: dict[str, str], workload: dict[str, Any]) -> bool:
    labels = pod_labels(workload) or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _workloads(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in r.installed(manifests) if m.get("kind") == "Deployment"]


def _selected(selector: dict[str, str], manifests: list[dict[str, Any]]) -> list[str]:
    return sorted(r.component_of(w) or w["metadata"]["name"] for w in _workloads(manifests) if _selects(selector, w))


def _container_port(deploy: dict[str, Any], target: str | int) -> int | None:
    """The container port a Service's targetPort reaches in this Deployment's pods, or None."""
    for container in pod_spec(deploy)["containers"]:
        for port in container.get("ports") or []:
            if target in (port.get("name"), port.get("containerPort")):
                return port["containerPort"]
    return None


@pytest.mark.requirement("FR-011", "FR-012")
@pytest.mark.parametrize("case", CASE_IDS)
def test_each_service_reaches_only_its_own_components_pods_on_their_listening_port(case: str) -> None:
    manifests = rendered(case)
    for component in COMPONENTS:
        svc = r.service(manifests, component)
        assert _selected(svc["spec"]["selector"], manifests) == [component], (
            f"[{case}] the {component} Service selects the pods of {_selected(svc['spec']['selector'], manifests)}")
        deploy = r.deployment(manifests, component)
        listening = int(r.container_env(manifests, component)["PORT"])
        for port in svc["spec"]["ports"]:
            reached = _container_port(deploy, port.get("targetPort", port["port"]))
            assert reached == listening, (
                f"[{case}] the {component} Service's port {port['port']} reaches container port {reached}, "
                f"but the {component} listens on {listening}")


@pytest.mark.requirement("FR-018", "FR-011")
@pytest.mark.parametrize("case", CASE_IDS)
def test_backend_url_leads_through_the_backend_service_to_the_backends_listening_port(case: str) -> None:
    manifests = rendered(case)
    url = urlsplit(r.container_env(manifests, "frontend")["BACKEND_URL"])
    services = {s["metadata"]["name"]: s for s in r.by_kind(r.installed(manifests), "Service")}
    assert url.hostname in services, f"[{case}] BACKEND_URL host {url.hostname} is no Service of the release"
    svc = services[url.hostname]
    port = next((p for p in svc["spec"]["ports"] if p["port"] == url.port), None)
    assert port is not None, f"[{case}] BACKEND_URL port {url.port} is not a port of Service {url.hostname}"
    assert _selected(svc["spec"]["selector"], manifests) == ["backend"], (
        f"[{case}] BACKEND_URL's Service selects {_selected(svc['spec']['selector'], manifests)}, not the backend")
    reached = _container_port(r.deployment(manifests, "backend"), port.get("targetPort", port["port"]))
    assert reached == int(r.container_env(manifests, "backend")["PORT"]), (
        f"[{case}] BACKEND_URL reaches container port {reached}, not the backend's PORT")


@pytest.mark.requirement("EC-2")
@pytest.mark.parametrize("case", CASE_IDS)
def test_each_disruption_budget_protects_its_own_component_and_lets_a_drain_proceed(case: str) -> None:
    manifests = rendered(case)
    for pdb in r.by_kind(r.installed(manifests), "PodDisruptionBudget"):
        component = r.component_of(pdb)
        selected = _selected(pdb["spec"]["selector"]["matchLabels"], manifests)
        assert selected == [component], f"[{case}] the {component} PodDisruptionBudget selects {selected}"
        replicas = r.deployment(manifests, component)["spec"]["replicas"]
        assert int(pdb["spec"]["minAvailable"]) < replicas, (
            f"[{case}] minAvailable {pdb['spec']['minAvailable']} of {replicas} {component} pods: "
            "a node drain can never evict one")


@pytest.mark.requirement("FR-017", "EC-7")
def test_two_releases_in_one_namespace_select_only_their_own_pods() -> None:
    one = r.render([r.TEST_SECRETS_VALUES], release="alpha", namespace="shared")
    other = r.render([r.TEST_SECRETS_VALUES], release="beta", namespace="shared")
    for mine, theirs, name in ((one, other, "alpha"), (other, one, "beta")):
        for m in r.installed(mine):
            selector = (m.get("spec") or {}).get("selector") or {}
            selector = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
            if m.get("kind") in ("Service", "Deployment", "PodDisruptionBudget") and selector:
                stolen = [w["metadata"]["name"] for w in _workloads(theirs) if _selects(selector, w)]
                assert not stolen, f"{name}'s {m['kind']} {m['metadata']['name']} selects the other release's {stolen}"


@pytest.mark.requirement("FR-013", "FR-034")
@pytest.mark.parametrize("case", CASE_IDS)
def test_no_request_exceeds_its_limit_as_the_api_server_requires(case: str) -> None:
    for m in r.installed(rendered(case)):
        spec = pod_spec(m)
        for container in (spec or {}).get("containers", []):
            requests = (container.get("resources") or {}).get("requests") or {}
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource, requested in requests.items():
                if resource in limits:
                    assert quantities.quantity(requested) <= quantities.quantity(limits[resource]), (
                        f"[{case}] {m['metadata']['name']}/{container['name']}: {resource} request {requested} "
                        f"above its limit {limits[resource]} (the API server refuses the pod)")


@pytest.mark.requirement("FR-014", "FR-034")
@pytest.mark.parametrize("case", CASE_IDS)
def test_liveness_survives_one_failed_probe_and_needs_one_success(case: str) -> None:
    manifests = rendered(case)
    for component in COMPONENTS:
        container = r.container(r.deployment(manifests, component))
        for kind in ("livenessProbe", "startupProbe"):
            probe = container.get(kind)
            if probe is None:
                continue
            assert probe.get("successThreshold", 1) == 1, (
                f"[{case}] {component} {kind}.successThreshold must be 1 (the API server refuses anything else)")
        liveness = container.get("livenessProbe") or {}
        assert liveness.get("failureThreshold", 3) >= 2, (
            f"[{case}] {component}: one failed liveness probe (a CPU-throttled second) restarts the container")


@pytest.mark.requirement("FR-015")
@pytest.mark.parametrize("case", CASE_IDS)
def test_backend_readiness_probe_waits_longer_than_the_backends_database_check(case: str) -> None:
    from todo_api.readiness import CHECK_TIMEOUT_SECONDS  # the backend's own limit for /readyz

    probe = r.container(r.deployment(rendered(case), "backend"))["readinessProbe"]
    assert probe["timeoutSeconds"] > CHECK_TIMEOUT_SECONDS, (
        f"[{case}] the readiness probe gives up after {probe['timeoutSeconds']} s, before /readyz answers "
        f"'not ready' ({CHECK_TIMEOUT_SECONDS} s): a slow database makes the probe time out on every replica")


@pytest.mark.requirement("US3-3", "FR-023", "FR-019")
@pytest.mark.parametrize("environment", ["values-staging.yaml", "values-prod.yaml"])
def test_shared_environments_install_without_credentials_on_the_command_line(environment: str) -> None:
    # No secrets values (they live in a pre-created Secret); the database's addresses, as a user adds them.
    manifests = r.render([r.CHART_DIR / environment], r.ENVIRONMENT_TEST_SET)
    assert r.secret(manifests) is None, f"{environment} makes the chart render a Secret of its own"
    refs = {ref["secretKeyRef"]["name"] for ref in (e.get("valueFrom") or {} for e in
            r.container(r.deployment(manifests, "backend")).get("env", [])) if "secretKeyRef" in ref}
    assert refs and all(refs), f"{environment}: the backend reads no credentials from a Secret"
    assert contract.SENSITIVE_NAMES <= {e["name"] for e in r.container(r.deployment(manifests, "backend"))["env"]}
