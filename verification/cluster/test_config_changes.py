"""Configuration without rebuilding: ConfigMap and Secret changes take effect after a restart,
an environment values file and an image tag override deploy with ``helm upgrade``."""

from __future__ import annotations

import base64
import secrets
import time

import pytest

from harness import contract
from harness.core.paths import CHART_DIR
from harness.deploy.release import psql
from harness.testkit import app_flow


def _process_env(release, pod, container: str, name: str, runtime: str) -> str:
    """The value of ``name`` in the environment of the container's main process (PID 1)."""
    reader = {
        "python": ["python3", "-c", "import sys;e=open('/proc/1/environ','rb').read().split(b'\\0');"
                   f"print(next((x.split(b'=',1)[1].decode() for x in e if x.startswith(b'{name}=')),''))"],
        "node": ["node", "-e", "const e=require('fs').readFileSync('/proc/1/environ','utf8').split('\\0');"
                 f"const v=e.find(x=>x.startsWith('{name}='));console.log(v?v.slice({len(name) + 1}):'')"],
    }[runtime]
    return release.cluster.target.kubectl("-n", release.namespace, "exec", pod.metadata.name, "-c", container,
                                          "--", *reader).strip()


@pytest.mark.requirement("SC-005", "US3-1", "EC-6", "FR-020")
def test_configmap_backend_url_change_takes_effect_after_restart_within_a_minute(release, record_property):
    core, ns = release.cluster.core, release.namespace
    backend = release.service("backend")
    # A second name for the same backend pods: the new BACKEND_URL must work, and be the one in use.
    alias = f"{backend.metadata.name}-alias"
    core.create_namespaced_service(ns, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": alias},
        "spec": {"selector": backend.spec.selector, "ports": [{"port": contract.BACKEND_PORT,
                                                               "targetPort": contract.BACKEND_PORT}]}})
    new_url = f"http://{alias}:{contract.BACKEND_PORT}"
    cm = release.configmap_name("frontend")
    start = time.monotonic()
    core.patch_namespaced_config_map(cm, ns, {"data": {"BACKEND_URL": new_url}})
    release.restart("frontend", timeout=contract.CONFIG_CHANGE_BUDGET_S)
    elapsed = time.monotonic() - start
    record_property("configmap_change_to_rolled_out_s", round(elapsed, 1))
    assert elapsed <= contract.CONFIG_CHANGE_BUDGET_S, f"ConfigMap change → restarted frontend took {elapsed:.0f}s"
    for pod in release.pods("frontend"):
        container = pod.spec.containers[0].name
        assert _process_env(release, pod, container, "BACKEND_URL", "node") == new_url, pod.metadata.name
    with release.frontend_access() as url:
        assert app_flow.chat_turn(url).get("response")


@pytest.mark.requirement("US3-2", "FR-021")
def test_secret_change_gives_the_backend_new_database_credentials(release):
    core, ns, db = release.cluster.core, release.namespace, release.database
    role, password = f"todo_{secrets.token_hex(3)}", secrets.token_hex(12)
    psql(release.cluster, ns, db, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    psql(release.cluster, ns, db, f"CREATE DATABASE {role} OWNER {role}")
    secret = next(s for s in core.list_namespaced_secret(ns, label_selector=release.selector).items
                  if "DATABASE_URL" in (s.data or {}))
    new_url = f"postgresql://{role}:{password}@{db.host}:5432/{role}"
    core.patch_namespaced_secret(secret.metadata.name, ns,
                                 {"data": {"DATABASE_URL": base64.b64encode(new_url.encode()).decode()}})
    release.restart("backend")
    release.wait_ready()
    sessions = psql(release.cluster, ns, db, f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'")
    assert int(sessions) > 0, f"no backend connection uses the new role {role}"
    with release.frontend_access() as url:
        assert app_flow.chat_turn(url).get("response")


@pytest.mark.requirement("US3-3", "FR-023")
def test_helm_upgrade_with_the_staging_values_file(release):
    core, ns = release.cluster.core, release.namespace
    # values-staging.yaml reads credentials from a pre-created Secret (secrets.existingSecret).
    core.create_namespaced_secret(ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "todo-chatbot-credentials"},
        "stringData": {"DATABASE_URL": release.database.url, "JWT_SECRET": secrets.token_hex(32)}})
    release.helm("upgrade", release.name, str(CHART_DIR), "-f", str(release.values_file),
                 "-f", str(CHART_DIR / "values-staging.yaml"))
    # Not `helm upgrade --wait`: it waits for a LoadBalancer address, which kind and Minikube without
    # `minikube tunnel` never give. The pods are what must roll.
    release.wait_rolled_out()
    release.wait_ready()
    for pod in release.pods("backend"):
        refs = {e.name: e.value_from.secret_key_ref.name for e in pod.spec.containers[0].env or []
                if e.value_from and e.value_from.secret_key_ref}
        assert refs.get("DATABASE_URL") == "todo-chatbot-credentials", refs
    assert release.service("frontend").spec.type == "LoadBalancer"


@pytest.mark.requirement("FR-029", "FR-026")
def test_image_tag_override_per_component(release, images):
    """Re-tag the loaded backend image, point only the backend at the new tag."""
    import subprocess

    new_tag = f"{images.tag}-override"
    image = f"{contract.BACKEND_IMAGE}:{new_tag}"
    subprocess.run(["docker", "tag", images.backend, image], check=True)
    try:
        release.cluster.provider.load_image(image)
        release.helm("upgrade", release.name, str(CHART_DIR), "--reuse-values",
                     "--set", f"backend.image.tag={new_tag}")
        release.wait_rolled_out()
        release.wait_ready()
        assert {p.spec.containers[0].image for p in release.pods("backend")} == {image}
        assert {p.spec.containers[0].image for p in release.pods("frontend")} == {images.frontend}
    finally:
        subprocess.run(["docker", "rmi", image], check=False, capture_output=True)
