"""The chart and the applications agree: ports, health paths, variable names, writable paths, image names.

The facts live in harness/contract.py; the chart cannot import Python, so its rendered
output is compared with them here (the applications' own tests compare their settings).
"""

from __future__ import annotations

import re

import pytest

from harness import contract
from harness.kube import render as r
from verification.static.cases import CASE_IDS, rendered

PORTS = {"backend": contract.BACKEND_PORT, "frontend": contract.FRONTEND_PORT}
WRITABLE = {"backend": contract.BACKEND_WRITABLE_PATHS, "frontend": contract.FRONTEND_WRITABLE_PATHS}
IMAGES = {"backend": contract.BACKEND_IMAGE, "frontend": contract.FRONTEND_IMAGE}
KNOWN_ENV = {
    "backend": set(contract.BACKEND_REQUIRED_ENV) | set(contract.BACKEND_OPTIONAL_ENV),
    "frontend": set(contract.FRONTEND_REQUIRED_ENV) | set(contract.FRONTEND_OPTIONAL_ENV),
}
REQUIRED_ENV = {"backend": contract.BACKEND_REQUIRED_ENV, "frontend": contract.FRONTEND_REQUIRED_ENV}
FEATURE_FLAG = re.compile(r"^FEATURE_[A-Z0-9_]+$")


@pytest.mark.requirement("FR-006", "FR-007", "FR-011", "FR-012")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_container_and_service_ports_equal_the_contract(component: str) -> None:
    manifests = rendered("defaults")
    ports = r.container(r.deployment(manifests, component))["ports"]
    assert ports == [{"name": "http", "containerPort": PORTS[component], "protocol": "TCP"}]
    svc_ports = r.service(manifests, component)["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in svc_ports] == [(PORTS[component], "http")]
    assert r.container_env(manifests, component)["PORT"] == str(PORTS[component])


@pytest.mark.requirement("FR-020", "FR-021", "FR-018")
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_environment_names_are_the_applications_names(case: str, component: str) -> None:
    spec = r.container(r.deployment(rendered(case), component))
    names = {e["name"] for e in spec.get("env") or []}
    cm = r.configmap(rendered(case), component)
    names |= set(cm.get("data") or {})
    unknown = {n for n in names - KNOWN_ENV[component] if not FEATURE_FLAG.match(n)}
    assert not unknown, f"{component} gets variables its application does not read: {sorted(unknown)}"
    missing = set(REQUIRED_ENV[component]) - names
    assert not missing, f"{component} lacks required variables {sorted(missing)}"


@pytest.mark.requirement("FR-018", "FR-028")
@pytest.mark.parametrize("case", CASE_IDS)
def test_frontend_backend_url_points_at_the_backend_service_by_its_templated_name(case: str) -> None:
    manifests = rendered(case)
    backend_svc = r.service(manifests, "backend")
    url = r.configmap(manifests, "frontend")["data"]["BACKEND_URL"]
    assert url == f"http://{backend_svc['metadata']['name']}:{contract.BACKEND_PORT}"


@pytest.mark.requirement("FR-008")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_writable_paths_are_emptydirs_at_the_contracts_paths(component: str) -> None:
    deploy = r.deployment(rendered("defaults"), component)
    mounts = {m["mountPath"]: m["name"] for m in r.container(deploy)["volumeMounts"]}
    assert set(mounts) == set(WRITABLE[component])
    volumes = {v["name"]: v for v in r.pod_spec(deploy)["volumes"]}
    for path, name in mounts.items():
        assert "emptyDir" in volumes[name], f"{path} is mounted from {volumes[name]}"


@pytest.mark.requirement("FR-029", "FR-025")
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_image_names_are_the_local_images_with_app_version_tag(component: str) -> None:
    import yaml

    app_version = yaml.safe_load((r.CHART_DIR / "Chart.yaml").read_text())["appVersion"]
    spec = r.container(r.deployment(rendered("defaults"), component))
    assert spec["image"] == f"{IMAGES[component]}:{app_version}"
    assert spec["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.requirement("FR-019", "FR-021")
def test_backend_credentials_come_from_the_secret_with_the_applications_names() -> None:
    manifests = rendered("defaults")
    secret = r.secret(manifests)
    assert secret is not None and secret["type"] == "Opaque"
    assert set(secret["data"]) == set(contract.BACKEND_REQUIRED_ENV)
    assert all(contract.is_sensitive(key) for key in secret["data"])
    env = r.container_env(manifests, "backend")
    fake = r.secret_data(manifests)
    assert env["DATABASE_URL"] == fake["DATABASE_URL"] and env["JWT_SECRET"] == fake["JWT_SECRET"]
