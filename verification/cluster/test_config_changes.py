"""Configuration without rebuilding, changed the way a user changes it: ``helm upgrade --set`` of a
setting or a credential rolls the pods by the chart's checksum annotations (no patch, no restart by
hand), and an image tag override deploys another version of one component. The values files the
chart ships are ``test_values_files.py``'s."""

from __future__ import annotations

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


def _pods_and_checksums(release) -> dict[str, tuple[set[str], str]]:
    """component -> (its pods' names, the checksum/config annotation of its Deployment's pod template)."""
    out = {}
    for component in ("backend", "frontend"):
        deployment = release.cluster.apps.read_namespaced_deployment(release.deployment_name(component),
                                                                     release.namespace)
        annotations = deployment.spec.template.metadata.annotations or {}
        out[component] = ({p.metadata.name for p in release.pods(component)}, annotations.get("checksum/config", ""))
    return out


@pytest.mark.requirement("SC-005", "US3-1", "EC-6", "FR-020", "FR-026")
def test_helm_upgrade_set_backend_url_rolls_the_pods_by_itself_and_every_pod_serves_it_within_a_minute(
        release, record_figure, record_property):
    """The change as a user makes it: ``helm upgrade --reuse-values --set config.backendUrl=…``, no
    ``kubectl`` patch and no restart by hand. The chart's checksum annotation changes with the
    ConfigMap, so both Deployments roll by themselves; timed from the command to every pod of the
    new ReplicaSets Ready, the old ones gone and every frontend process holding the new URL."""
    core, ns = release.cluster.core, release.namespace
    backend = release.service("backend")
    # A second name for the same backend pods: the new BACKEND_URL must work, and be the one in use.
    alias = f"{backend.metadata.name}-alias"
    core.create_namespaced_service(ns, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": alias},
        "spec": {"selector": backend.spec.selector, "ports": [{"port": contract.BACKEND_PORT,
                                                               "targetPort": contract.BACKEND_PORT}]}})
    new_url = f"http://{alias}:{contract.BACKEND_PORT}"
    before = _pods_and_checksums(release)
    start = time.monotonic()
    release.helm("upgrade", release.name, str(CHART_DIR), "--reuse-values", "--set", f"config.backendUrl={new_url}",
                 timeout=contract.CONFIG_CHANGE_BUDGET_S)
    release.wait_rolled_out(timeout=contract.CONFIG_CHANGE_BUDGET_S)
    serving = {pod.metadata.name: _process_env(release, pod, pod.spec.containers[0].name, "BACKEND_URL", "node")
               for pod in release.pods("frontend")}
    elapsed = time.monotonic() - start
    after = _pods_and_checksums(release)
    record_figure("configuration change: helm upgrade --set -> every pod serving it", elapsed, "s")
    record_property("evidence", f"helm upgrade --reuse-values --set config.backendUrl={new_url}: "
                                f"checksum/config {before['frontend'][1][:12]}… -> {after['frontend'][1][:12]}…, "
                                f"every pod replaced, the frontends' BACKEND_URL {set(serving.values())}")
    for component in ("backend", "frontend"):
        assert after[component][1] != before[component][1], f"{component}: the checksum/config annotation did not change"
        assert not after[component][0] & before[component][0], f"{component}: pods not replaced by the rollout"
    assert set(serving.values()) == {new_url}, serving
    assert elapsed <= contract.CONFIG_CHANGE_BUDGET_S, f"helm upgrade --set -> every pod serving it took {elapsed:.0f}s"
    with release.frontend_access() as url:
        assert app_flow.chat_turn(url).get("response")


@pytest.mark.requirement("US3-2", "FR-021", "EC-6")
def test_helm_upgrade_set_database_url_gives_the_backend_new_credentials(release):
    """New database credentials the way a user gives them (``helm upgrade --set secrets.databaseUrl``):
    the Secret's checksum rolls the backend by itself, and the new pods connect as the new role."""
    ns, db = release.namespace, release.database
    role, password = f"todo_{secrets.token_hex(3)}", secrets.token_hex(12)
    psql(release.cluster, ns, db, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    psql(release.cluster, ns, db, f"CREATE DATABASE {role} OWNER {role}")
    new_url = f"postgresql://{role}:{password}@{db.host}:5432/{role}"
    before = {p.metadata.name for p in release.pods("backend")}
    release.helm("upgrade", release.name, str(CHART_DIR), "--reuse-values", "--set", f"secrets.databaseUrl={new_url}")
    release.wait_rolled_out()
    assert not before & {p.metadata.name for p in release.pods("backend")}, "the backend pods were not replaced"
    sessions = psql(release.cluster, ns, db, f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'")
    assert int(sessions) > 0, f"no backend connection uses the new role {role}"
    with release.frontend_access() as url:
        assert app_flow.chat_turn(url).get("response")


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
