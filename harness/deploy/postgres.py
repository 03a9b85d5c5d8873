"""The throwaway PostgreSQL in a cluster namespace: the in-cluster half of
``harness.testkit.postgres`` (which holds the connection facts, ``psql``, the image and the other two
places a test database runs). It lives here, beside the cluster's clients and waits it needs, so
that the test kit never imports the deploy layer.

* :func:`deploy_in_cluster` — a Deployment + Service ``postgres`` in the namespace, gone with it;
* :func:`pod_cidr` — its pod's address, for the chart's ``networkPolicy.database.cidr``;
* :func:`scale_in_cluster` — stop (0) or start (1) it, for the database-down tests;
* :func:`psql_in_cluster` — one SQL statement in its pod (``kubectl exec``).
"""

from __future__ import annotations

import secrets
from typing import Any

from harness.core.wait import wait_for
from harness.deploy import conditions
from harness.deploy.conditions import ExecSucceeds, PodsGone
from harness.testkit.postgres import Database, psql_argv


LABELS = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "todo-chatbot-verification"}
# The official image's postgres user (and the local stand-in's, images/base/postgres).
POSTGRES_UID = 999


def deployment_manifest(image: str, labels: dict[str, str] = LABELS) -> dict[str, Any]:
    """The throwaway PostgreSQL's Deployment, admitted by Pod Security "restricted" (issue 27).

    The image's entrypoint starts as root to chown the data directory, then drops to the postgres
    user; restricted admits no root start. So the pod starts as that user (999) directly: the data
    emptyDir is made group-writable for it (fsGroup), and PGDATA is a folder inside it, which the
    entrypoint creates as 999 with the 0700 initdb demands (the mount point itself it could not chmod).
    """
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "postgres", "labels": labels},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": POSTGRES_UID, "runAsGroup": POSTGRES_UID,
                                    "fsGroup": POSTGRES_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "postgres", "image": image, "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "POSTGRES_USER", "value": "todo"},
                            {"name": "POSTGRES_PASSWORD",
                             "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "POSTGRES_PASSWORD"}}},
                            {"name": "POSTGRES_DB", "value": "todo"},
                            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pg"}],
                    "ports": [{"containerPort": 5432}],
                    "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-U", "todo", "-d", "todo"]},
                                       "periodSeconds": 2},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                }],
                "volumes": [{"name": "data", "emptyDir": {}}]}},
        },
    }


def deploy_in_cluster(apps: Any, core: Any, namespace: str, image: str, timeout: float = 180,
                      target: Any = None) -> Database:
    """A throwaway PostgreSQL (Deployment + Service ``postgres``) in ``namespace``; gone with it."""
    password = secrets.token_hex(12)
    labels = LABELS
    deployment = deployment_manifest(image, labels)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "labels": labels},
               "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": 5432}]}}
    # The password in a Secret, not in the Deployment's spec (readable by whoever may list Deployments).
    core.create_namespaced_secret(namespace, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "postgres-credentials", "labels": labels},
        "type": "Opaque", "stringData": {"POSTGRES_PASSWORD": password}})
    apps.create_namespaced_deployment(namespace, deployment)
    core.create_namespaced_service(namespace, service)
    conditions.wait_pods_ready(core, namespace, "app.kubernetes.io/name=postgres", timeout=timeout, expected=1)
    host = f"postgres.{namespace}.svc.cluster.local"
    if target is not None:
        # Ready is not yet reachable: the name must resolve and kube-proxy must route the Service.
        # Until then a backend started now logs "connection refused" or a DNS failure (US1-4), so
        # wait until a pod (PostgreSQL's own, through the Service, by name) reaches it.
        pod = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items[0]
        wait_for(ExecSucceeds(target, namespace, pod.metadata.name, "pg_isready", "-h", host, "-p", "5432", "-t", "2",
                              what=f"PostgreSQL to answer through its Service as {host}"), timeout=timeout, interval=1)
    return Database(host, 5432, "todo", password, "todo")


def pod_cidr(core: Any, namespace: str) -> str:
    """The throwaway PostgreSQL's pod address as a CIDR (/32, IPv6 /128), for the chart's
    ``networkPolicy.database.cidr``: its URL names a Service (a hostname), which the chart refuses to
    guess an address for (issue 27). The pod's address, not the Service's: a CNI applies egress
    policy after the Service's address has been translated to a pod's. Valid while the pod runs
    (a restarted PostgreSQL gets a new address)."""
    pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items
    ip = next(p.status.pod_ip for p in pods if p.status.pod_ip and not p.metadata.deletion_timestamp)
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


def scale_in_cluster(apps: Any, core: Any, namespace: str, replicas: int, timeout: float = 120) -> None:
    """Stop (0) or start (1) the throwaway PostgreSQL of :func:`deploy_in_cluster`, waiting until done."""
    selector = "app.kubernetes.io/name=postgres"
    apps.patch_namespaced_deployment_scale("postgres", namespace, {"spec": {"replicas": replicas}})
    if replicas:
        conditions.wait_pods_ready(core, namespace, selector, timeout=timeout, expected=replicas)
    else:
        wait_for(PodsGone(core, namespace, selector, what=f"PostgreSQL in {namespace} to stop"), timeout=timeout, interval=1)


def psql_in_cluster(target: Any, core: Any, namespace: str, db: Database, sql: str,
                    database: str | None = None) -> str:
    """Run one SQL statement in the throwaway PostgreSQL's pod (``kubectl exec``), as its superuser.

    The password is the pod's own (its POSTGRES_PASSWORD), read inside the pod: on kubectl's command
    line it would be visible to every user of this machine in the process list."""
    pod = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items[0]
    return target.kubectl("-n", namespace, "exec", pod.metadata.name, "--",
                          "sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" exec "$@"', "psql",
                          *psql_argv(db.user, database or db.name, sql)).strip()
