"""Pod template → Docker settings (harness/podrt/translate.py), on hand-written manifests."""

from __future__ import annotations

import base64

import pytest

from harness.kube.manifests import UnresolvedReference, expand
from harness.kube.quantities import parse_cpu, parse_memory
from harness.podrt.translate import (
    RenderedObjects,
    UnsupportedSpec,
    docker_create_kwargs,
    pod_env,
    pods_from_manifests,
    replica_spec,
)

pytestmark = pytest.mark.harness

LABELS = {"app.kubernetes.io/name": "todo", "app.kubernetes.io/component": "backend"}


def manifests(**container_overrides):
    container = {
        "name": "backend",
        "image": "todo-backend:0.1.0",
        "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "env": [
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "DATABASE_URL"}}},
            {"name": "OPENAI_API_KEY",
             "valueFrom": {"secretKeyRef": {"name": "sec", "key": "OPENAI_API_KEY", "optional": True}}},
            {"name": "GREETING", "value": "level=$(LOG_LEVEL) $$(LOG_LEVEL) $(UNDEFINED)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"limits": {"cpu": "400m", "memory": "384Mi"}, "requests": {"cpu": "100m", "memory": "192Mi"}},
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "runAsUser": 10001},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "startupProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 30},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}, "periodSeconds": 5, "timeoutSeconds": 3},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "args": ["--level", "$(LOG_LEVEL)"],
    }
    container.update(container_overrides)
    return [
        {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"LOG_LEVEL": "info", "PORT": "8000"}},
        {"kind": "Secret", "metadata": {"name": "sec"},
         "data": {"DATABASE_URL": base64.b64encode(b"postgresql://u:p@db:5432/x").decode()}},
        {"kind": "Service", "metadata": {"name": "todo-backend"},
         "spec": {"selector": {"app.kubernetes.io/component": "backend"}, "ports": [{"port": 8000}]}},
        {"kind": "Service", "metadata": {"name": "other"}, "spec": {"selector": {"app": "x"}}},
        {"kind": "Deployment", "metadata": {"name": "todo-backend"}, "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": LABELS}, "spec": {
                "terminationGracePeriodSeconds": 30,
                "securityContext": {"runAsUser": 1, "runAsGroup": 10001, "fsGroup": 10001, "runAsNonRoot": True},
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            }}}},
    ]


def objects(**overrides) -> RenderedObjects:
    return RenderedObjects.from_manifests(manifests(**overrides))


@pytest.mark.parametrize(("quantity", "cores"), [("400m", 0.4), ("1", 1.0), (2, 2.0), ("1.5", 1.5), ("250m", 0.25)])
def test_runtime_cpu_quantities(quantity, cores):
    assert parse_cpu(quantity) == pytest.approx(cores)


@pytest.mark.parametrize(("quantity", "size"), [
    ("384Mi", 384 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("128974848", 128974848), ("129e6", 129 * 10**6),
    ("64Ki", 65536), ("0.5Gi", 2**29)])
def test_runtime_memory_quantities(quantity, size):
    assert parse_memory(quantity) == size


def test_runtime_quantity_rejects_garbage():
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_memory("12 MB")


def test_runtime_env_resolution_order_sources_and_expansion():
    objs = objects()
    container = objs.deployments["todo-backend"]["spec"]["template"]["spec"]["containers"][0]
    env = {v.name: v for v in pod_env(container, objs, pod_name="todo-backend-abcde")}
    assert env["LOG_LEVEL"].source == "configmap:cfg" and env["LOG_LEVEL"].value == "info"
    assert env["DATABASE_URL"].source == "secret:sec/DATABASE_URL"
    assert env["DATABASE_URL"].value == "postgresql://u:p@db:5432/x" and env["DATABASE_URL"].from_secret
    assert "OPENAI_API_KEY" not in env  # optional key absent from the Secret: not set
    assert env["GREETING"].value == "level=info $(LOG_LEVEL) $(UNDEFINED)"
    assert env["POD"].value == "todo-backend-abcde" and env["POD"].source == "field:metadata.name"


def test_runtime_env_later_definition_wins():
    objs = objects(env=[{"name": "LOG_LEVEL", "value": "debug"}])
    container = objs.deployments["todo-backend"]["spec"]["template"]["spec"]["containers"][0]
    [level] = [v for v in pod_env(container, objs) if v.name == "LOG_LEVEL"]
    assert (level.value, level.source) == ("debug", "literal")


def test_runtime_env_missing_secret_key_is_a_config_error():
    objs = objects(env=[{"name": "JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "JWT_SECRET"}}}])
    with pytest.raises(UnresolvedReference, match="no key 'JWT_SECRET'"):
        replica_spec(objs, "todo-backend")


def test_runtime_expand_escapes():
    assert expand("$(A)-$$(A)-$(B)", {"A": "1"}) == "1-$(A)-$(B)"


def test_runtime_pod_spec_carries_security_limits_probes_and_lifecycle():
    spec = replica_spec(objects(), "todo-backend")
    assert spec.name.startswith("todo-backend-") and len(spec.name) == len("todo-backend-") + 5
    assert spec.services == ["todo-backend"] and spec.grace_seconds == 30
    [c] = spec.containers
    assert c.user == "10001:10001"  # container runAsUser wins over the pod's, pod's runAsGroup applies
    assert c.group_add == ["10001"] and c.run_as_non_root
    assert c.read_only and c.cap_drop == ["ALL"] and c.security_opt == ["no-new-privileges:true"]
    assert c.tmpfs == {"/tmp": f"rw,exec,mode=0777,size={64 * 2**20}"}
    assert c.mem_limit == 384 * 2**20 and c.mem_reservation == 192 * 2**20
    assert c.nano_cpus == 400_000_000 and c.cpu_shares == 102
    assert c.probes["startup"].port == 8000 and c.probes["startup"].failure_threshold == 30
    assert (c.probes["liveness"].path, c.probes["liveness"].period, c.probes["liveness"].timeout) == ("/healthz", 10, 1)
    assert c.probes["readiness"].timeout == 3
    assert c.pre_stop == {"sleep": {"seconds": 5}}
    assert c.entrypoint is None and c.command == ["--level", "info"]
    assert spec.ports == {8000: "backend"}


def test_runtime_replicas_are_honoured():
    assert [p.deployment for p in pods_from_manifests(objects())] == ["todo-backend", "todo-backend"]


def test_runtime_unsupported_volume_is_refused_with_its_name():
    manifest = manifests()
    manifest[-1]["spec"]["template"]["spec"]["volumes"] = [{"name": "tmp", "hostPath": {"path": "/"}}]
    with pytest.raises(UnsupportedSpec, match="hostPath"):
        replica_spec(RenderedObjects.from_manifests(manifest), "todo-backend")


def test_runtime_docker_kwargs():
    [c] = replica_spec(objects(), "todo-backend").containers
    kwargs = docker_create_kwargs(c, name="run-pod-backend", sandbox="sandbox-id", labels={"l": "v"})
    assert kwargs["network_mode"] == "container:sandbox-id"
    assert kwargs["user"] == "10001:10001" and kwargs["read_only"] is True
    assert kwargs["mem_limit"] == kwargs["memswap_limit"] == 384 * 2**20
    assert kwargs["nano_cpus"] == 400_000_000 and kwargs["cap_drop"] == ["ALL"]
    assert "DATABASE_URL=postgresql://u:p@db:5432/x" in kwargs["environment"]
    assert "entrypoint" not in kwargs and kwargs["command"] == ["--level", "info"]
    assert kwargs["tmpfs"] == c.tmpfs and "ports" not in kwargs  # ports belong to the sandbox


def test_runtime_translates_the_real_rendered_chart():
    from harness import contract
    from harness.kube import render
    from harness.kube.helm import HelmNotFound, find_helm
    from harness.podrt.translate import deployment_named

    try:
        find_helm()
    except HelmNotFound as exc:
        pytest.skip(str(exc))
    rendered = RenderedObjects.from_manifests(render.installed(render.render(values_files=[render.TEST_SECRETS_VALUES])))
    backend = replica_spec(rendered, deployment_named(rendered, "backend"))
    frontend = replica_spec(rendered, deployment_named(rendered, "frontend"))
    [b], [f] = backend.containers, frontend.containers
    assert b.user == f.user == f"{contract.APP_UID}:{contract.APP_GID}"
    assert set(b.tmpfs) == set(contract.BACKEND_WRITABLE_PATHS)
    assert set(f.tmpfs) == set(contract.FRONTEND_WRITABLE_PATHS)
    assert b.probes["readiness"].path == contract.BACKEND_READINESS_PATH
    assert b.probes["liveness"].path == contract.BACKEND_LIVENESS_PATH
    assert f.probes["readiness"].path == f.probes["liveness"].path == contract.FRONTEND_HEALTH_PATH
    assert {v.name for v in b.env if v.from_secret} >= set(contract.BACKEND_REQUIRED_ENV)
    backend_service = [s for s in rendered.services if s in backend.services]
    assert f.env_dict["BACKEND_URL"] == f"http://{backend_service[0]}:{contract.BACKEND_PORT}"
