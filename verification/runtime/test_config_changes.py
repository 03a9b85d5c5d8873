"""Configuration and credentials change through the rendered ConfigMap/Secret and a restart.

A "restart" is what ``kubectl rollout restart`` does with the chart's strategy
(maxUnavailable 0, maxSurge 1): a pod from the new rendering is started and must be Ready
before the old one is deleted (preStop, SIGTERM, grace period).
"""

from __future__ import annotations

import secrets
import time

import psycopg
import pytest

from harness import contract
from harness.podrt.translate import RenderedObjects, replica_spec
from harness.testkit import journey


def rolling_restart(stack, objects: RenderedObjects, component: str, timeout: float = 120) -> list:
    """Replace every pod of ``component`` by one of ``objects``, one at a time; returns the new pods."""
    deployment = stack.deployment(component, objects)
    new_pods = []
    for old in list(stack.pods(component)):
        new = stack.runtime.run_pod(replica_spec(objects, deployment))
        stack.runtime.wait_ready([new], timeout=timeout)
        stack.runtime.delete_pod(old)
        new_pods.append(new)
    return new_pods


def _service(objects: RenderedObjects, component: str) -> tuple[str, dict]:
    name = next(n for n, s in objects.services.items()
                if s["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    return name, objects.services[name]


@pytest.mark.requirement("US3-1", "SC-005", "EC-6", "FR-023")
def test_new_backend_url_in_the_configmap_takes_effect_after_a_frontend_restart(make_stack, record_property):
    stack = make_stack(set_values={"backend.replicaCount": 1})
    # A second backend (another release of the chart) with a database of its own.
    stack.postgres.psql("CREATE DATABASE todo_alt OWNER todo")
    alt = stack.render(release="todo-alt", database_url=stack.database_url(database="todo_alt"))
    alt_service, manifest = _service(alt, "backend")
    ports = {int(p["port"]): p.get("targetPort", p["port"]) for p in manifest["spec"]["ports"]}
    stack.runtime.add_service(alt_service, manifest["spec"]["selector"], ports)
    alt_pods = stack.runtime.run_deployment(alt, stack.deployment("backend", alt), replicas=1)
    stack.runtime.wait_ready(alt_pods, timeout=120)

    started = time.monotonic()
    new_url = f"http://{alt_service}:{contract.BACKEND_PORT}"
    changed = stack.render({"config.backendUrl": new_url})
    frontend = stack.deployment("frontend", changed)
    assert changed.configmaps[frontend]["BACKEND_URL"] == new_url
    assert stack.objects.configmaps[frontend]["BACKEND_URL"] != new_url
    rolling_restart(stack, changed, "frontend")
    elapsed = time.monotonic() - started
    record_property("evidence", f"ConfigMap BACKEND_URL change → frontend restarted and Ready in {elapsed:.1f} s")
    assert elapsed < contract.CONFIG_CHANGE_BUDGET_S, (
        f"the configuration change took {elapsed:.0f} s (SC-005: under {contract.CONFIG_CHANGE_BUDGET_S} s)")

    user = journey.register_and_login(stack.ui_url, prefix="configchange")
    count = "SELECT count(*) FROM users WHERE email = '{}'".format(user.email)
    assert stack.postgres.psql(count, database="todo_alt") == "1", "the user did not land in the new backend's database"
    assert stack.postgres.psql(count, database="todo") == "0", "the frontend still talks to the old backend"


@pytest.mark.requirement("US3-2", "FR-021")
def test_rotated_database_password_in_the_secret_takes_effect_after_a_backend_restart(make_stack, record_property):
    stack = make_stack(set_values={"backend.replicaCount": 1})
    user = journey.register_and_login(stack.backend_url, prefix="rotation", via_frontend=False)
    old_password, new_password = stack.postgres.password, secrets.token_hex(16)
    stack.postgres.psql(f"ALTER ROLE todo PASSWORD '{new_password}'")
    stack.postgres.password = new_password
    rotated = stack.render(database_url=stack.database_url(password=new_password))
    secret_name = next(n for n, data in rotated.secrets.items() if "DATABASE_URL" in data)  # not the PROXY_TOKEN one
    assert new_password in rotated.secrets[secret_name]["DATABASE_URL"]
    assert rotated.secrets[secret_name]["DATABASE_URL"] != stack.objects.secrets[secret_name]["DATABASE_URL"]

    started = time.monotonic()
    [new_pod] = rolling_restart(stack, rotated, "backend")
    record_property("evidence", f"password rotated (ALTER ROLE + Secret) → backend restarted and Ready in "
                                f"{time.monotonic() - started:.1f} s")
    assert new_password in new_pod.env()["DATABASE_URL"]
    assert new_pod.container().restart_count == 0
    # The new pod is Ready only when its database answers (readiness checks it), and it serves.
    assert journey.login(user).token
    # The old credentials are really gone (checked from outside the container, by password).
    port = stack.postgres.host_port
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="todo", password=old_password, dbname="todo",
                        connect_timeout=5).close()
    psycopg.connect(host="127.0.0.1", port=port, user="todo", password=new_password, dbname="todo",
                    connect_timeout=5).close()
