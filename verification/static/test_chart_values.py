"""Values: overridable by files and --set, validated early with readable messages."""

from __future__ import annotations

import secrets

import pytest

from harness.kube import render as r
from verification.static.cases import RENDER_CASES, rendered

SECRETS = (r.TEST_SECRETS_VALUES,)


@pytest.mark.requirement("FR-019", "FR-038")
def test_install_without_credentials_fails_naming_each_value_and_how_to_set_it() -> None:
    error = r.render_error()
    assert error is not None, "the chart rendered without any credentials"
    assert "secrets.databaseUrl is required: --set secrets.databaseUrl=" in error
    assert "secrets.jwtSecret is required: --set secrets.jwtSecret=" in error
    assert "secrets.existingSecret" in error


@pytest.mark.requirement("FR-019", "FR-038")
@pytest.mark.parametrize(
    ("set_values", "expected"),
    [
        ({"secrets.jwtSecret": "too-short"}, "secrets.jwtSecret is 9 characters; it must be at least 32"),
        ({"config.chatProvider": "openai"}, "config.chatProvider=openai needs secrets.openaiApiKey"),
        # The pod's grace period, named: the liveness probe's shorter one is checked apart (its message
        # alone must not pass for this one).
        ({"backend.preStopSleepSeconds": 30},
         "backend.preStopSleepSeconds (30) must be less than backend.terminationGracePeriodSeconds"),
        (
            {"frontend.service.type": "ClusterIP", "frontend.service.nodePorts.http": 30080},
            "frontend.service.nodePorts.http is set but frontend.service.type is ClusterIP",
        ),
    ],
    ids=["short-jwt-secret", "openai-without-key", "prestop-longer-than-grace", "nodeport-on-clusterip"],
)
def test_inconsistent_values_fail_with_one_readable_message(set_values: dict, expected: str) -> None:
    error = r.render_error(SECRETS, set_values)
    assert error is not None and expected in error, error


@pytest.mark.requirement("US4-3", "FR-026")
@pytest.mark.parametrize(
    ("set_values", "expected"),
    [
        ({"backend.replicaCount": -1}, "at '/backend/replicaCount': minimum: got -1, want 0"),
        (
            {"frontend.resources.limits.memory": "lots"},
            "at '/frontend/resources/limits/memory': 'lots' does not match",
        ),
        (
            {"backend.resources.requests.cpu": "fast"},
            "at '/backend/resources/requests/cpu': 'fast' does not match",
        ),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"backend.imag": {"tag": "1.0.0"}}, "at '/backend': additional properties 'imag' not allowed"),
        (
            {"backend.image.tag": "latest"},
            "at '/backend/image/tag': value must be 'a pinned version such as 0.1.0 (latest is refused)'",
        ),
        ({"frontend.image.tag": "latest"}, "at '/frontend/image/tag'"),
        (
            {"frontend.service.type": "Ingress"},
            "at '/frontend/service/type': value must be one of 'NodePort', 'LoadBalancer', 'ClusterIP'",
        ),
        ({"backend.service.type": "NodePort"}, "at '/backend/service/type': value must be 'ClusterIP'"),
        (
            {"frontend.service.nodePorts.http": 80},
            "at '/frontend/service/nodePorts/http': minimum: got 80, want 30,000",
        ),
        ({"backend.replicaCount": "two"}, "at '/backend/replicaCount': got string, want integer"),
        (
            {"backend.containerSecurityContext.allowPrivilegeEscalation": True},
            "allowPrivilegeEscalation': value must be false",
        ),
        (
            {"frontend.podSecurityContext.runAsUser": 0},
            "at '/frontend/podSecurityContext/runAsUser': minimum: got 0, want 10,000",
        ),
        ({"config.logLevel": "loud"}, "at '/config/logLevel': value must be one of"),
        ({"backend.image.pullPolicy": "Sometimes"}, "at '/backend/image/pullPolicy': value must be one of"),
    ],
    ids=[
        "negative-replicas",
        "memory-lots",
        "cpu-fast",
        "unknown-top-level-key",
        "misspelt-image-key",
        "backend-tag-latest",
        "frontend-tag-latest",
        "frontend-service-type",
        "backend-not-clusterip",
        "nodeport-out-of-range",
        "replicas-wrong-type",
        "privilege-escalation",
        "root-user",
        "log-level",
        "pull-policy",
    ],
)
def test_values_schema_rejects_bad_values_with_a_readable_message(set_values: dict, expected: str) -> None:
    error = r.render_error(SECRETS, set_values)
    assert error is not None, f"{set_values} was accepted"
    assert "values don't meet the specifications of the schema" in error
    assert expected in error, error


@pytest.mark.requirement("FR-009", "FR-010", "FR-026")
@pytest.mark.parametrize(("backend", "frontend"), [(1, 1), (2, 3), (0, 1)])
def test_replica_counts_are_configurable_per_component(backend: int, frontend: int) -> None:
    manifests = r.render(SECRETS, {"backend.replicaCount": backend, "frontend.replicaCount": frontend})
    assert r.deployment(manifests, "backend")["spec"]["replicas"] == backend
    assert r.deployment(manifests, "frontend")["spec"]["replicas"] == frontend


@pytest.mark.requirement("FR-029", "FR-026")
def test_image_repository_tag_and_pull_policy_are_overridable_per_component() -> None:
    manifests = r.render(SECRETS, {
        "backend.image.tag": "1.2.3", "frontend.image.repository": "registry.local/todo-frontend",
        "frontend.image.tag": "2.0.0-rc.1", "frontend.image.pullPolicy": "Always",
    })  # fmt: skip
    backend, frontend = (r.container(r.deployment(manifests, c)) for c in ("backend", "frontend"))
    assert backend["image"] == "todo-backend:1.2.3"
    assert frontend["image"] == "registry.local/todo-frontend:2.0.0-rc.1"
    assert (backend["imagePullPolicy"], frontend["imagePullPolicy"]) == ("IfNotPresent", "Always")


@pytest.mark.requirement("FR-012", "FR-011")
@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer", "ClusterIP"])
def test_frontend_service_type_is_configurable_and_backend_stays_cluster_ip(service_type: str) -> None:
    # A LoadBalancer without TLS only for one this machine alone reaches (issue 27): said explicitly.
    manifests = r.render(SECRETS, {"frontend.service.type": service_type,
                                   "frontend.service.allowPlainHttp": service_type == "LoadBalancer"})
    assert r.service(manifests, "frontend")["spec"]["type"] == service_type
    assert r.service(manifests, "backend")["spec"]["type"] == "ClusterIP"


@pytest.mark.requirement("FR-012", "FR-025")
def test_frontend_is_a_nodeport_by_default_with_an_optional_fixed_port() -> None:
    default = r.service(rendered("defaults"), "frontend")["spec"]
    assert default["type"] == "NodePort" and "nodePort" not in default["ports"][0]
    fixed = r.service(rendered("fixed-nodeport"), "frontend")["spec"]
    assert fixed["ports"][0]["nodePort"] == 30080


@pytest.mark.requirement("FR-019", "FR-021")
def test_existing_secret_replaces_the_chart_secret_in_every_reference() -> None:
    manifests = rendered("existing-secret")
    assert r.secret(manifests) is None
    refs = [e["valueFrom"]["secretKeyRef"] for e in r.container(r.deployment(manifests, "backend"))["env"]
            if e["name"] != "PROXY_TOKEN"]  # the chart's own Secret, always (proxy-token-secret.yaml)
    assert {ref["name"] for ref in refs} == {"todo-credentials"}
    assert {ref["key"] for ref in refs} == {"DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY"}
    assert [ref.get("optional", False) for ref in refs] == [False, False, True]


@pytest.mark.requirement("FR-019")
def test_openai_key_is_in_the_secret_only_when_given() -> None:
    assert "OPENAI_API_KEY" not in r.secret(rendered("defaults"))["data"]
    assert r.secret_data(rendered("openai-provider"))["OPENAI_API_KEY"] == "sk-fake-for-tests"


@pytest.mark.requirement("FR-018", "FR-026")
def test_configuration_values_reach_the_configmaps() -> None:
    manifests = r.render(
        SECRETS,
        {
            "config.logLevel": "debug",
            "config.corsOrigins": "http://a.test",
            "config.openaiBaseUrl": "http://llm.test/v1",
            "config.openaiAllowHttp": True,
            "config.openaiModel": "m1",
            "config.backendUrl": "http://elsewhere:9000",
            "config.featureFlags": {"chatHistory": True},
        },
    )
    backend = r.container_env(manifests, "backend")
    frontend = r.container_env(manifests, "frontend")
    assert backend["LOG_LEVEL"] == frontend["LOG_LEVEL"] == "debug"
    assert (backend["CORS_ORIGINS"], backend["OPENAI_BASE_URL"], backend["OPENAI_MODEL"]) == (
        "http://a.test",
        "http://llm.test/v1",
        "m1",
    )
    assert frontend["BACKEND_URL"] == "http://elsewhere:9000"
    assert backend["FEATURE_CHAT_HISTORY"] == frontend["FEATURE_CHAT_HISTORY"] == "true"


@pytest.mark.requirement("SC-005", "EC-6")
def test_changed_configuration_changes_the_pod_checksums_so_upgrade_rolls_the_pods() -> None:
    def checksums(set_values: dict) -> dict[str, dict[str, str]]:
        manifests = r.render(SECRETS, set_values)
        return {
            c: {
                k: v
                for k, v in r.deployment(manifests, c)["spec"]["template"]["metadata"]["annotations"].items()
                if k.startswith("checksum/")
            }
            for c in ("backend", "frontend")
        }

    base = checksums({})
    assert set(base["backend"]) == {"checksum/config", "checksum/secret"}
    assert set(base["frontend"]) == {"checksum/config"}
    config = checksums({"config.logLevel": "debug"})
    assert config["backend"]["checksum/config"] != base["backend"]["checksum/config"]
    assert config["frontend"]["checksum/config"] != base["frontend"]["checksum/config"]
    secret = checksums({"secrets.jwtSecret": secrets.token_hex(32)})
    assert secret["backend"]["checksum/secret"] != base["backend"]["checksum/secret"]
    assert secret["backend"]["checksum/config"] == base["backend"]["checksum/config"]
    assert checksums({}) == base, "checksums must be deterministic"


@pytest.mark.requirement("EC-2", "FR-009", "FR-010")
def test_pod_disruption_budget_exists_only_for_components_with_more_than_one_replica() -> None:
    pdbs = {r.component_of(p): p for p in r.by_kind(rendered("defaults"), "PodDisruptionBudget")}
    assert set(pdbs) == {"backend", "frontend"}
    assert all(p["spec"]["minAvailable"] == 1 for p in pdbs.values())
    assert r.by_kind(rendered("single-replica"), "PodDisruptionBudget") == []


@pytest.mark.requirement("FR-008", "US4-3")
def test_pods_run_as_a_dedicated_service_account_without_api_token() -> None:
    manifests = rendered("defaults")
    account = r.one(manifests, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    for component in ("backend", "frontend"):
        spec = r.pod_spec(r.deployment(manifests, component))
        assert spec["serviceAccountName"] == account["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False


@pytest.mark.requirement("FR-023", "US3-3")
@pytest.mark.parametrize("environment", [p.stem for p in r.ENVIRONMENT_VALUES])
def test_environment_values_change_configuration_not_images(environment: str) -> None:
    default, env = rendered("defaults"), rendered(environment)
    for component in ("backend", "frontend"):
        assert (
            r.container(r.deployment(env, component))["image"]
            == r.container(r.deployment(default, component))["image"]
        )
    assert {p.stem for p in r.ENVIRONMENT_VALUES} >= {"values-dev", "values-staging", "values-prod"}
    differs = [
        c
        for c in ("backend", "frontend")
        if r.deployment(env, c) != r.deployment(default, c) or r.configmap(env, c) != r.configmap(default, c)
    ]
    assert differs, f"{environment} changes nothing"


@pytest.mark.requirement("US4-3")
def test_helm_test_pod_checks_both_services_with_a_local_image_as_non_root() -> None:
    pod = next(m for m in rendered("defaults") if r.is_hook(m))
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = r.container(pod)
    assert spec["image"] == r.container(r.deployment(rendered("defaults"), "backend"))["image"]
    urls = {e["name"]: e["value"] for e in spec["env"]}
    assert urls["FRONTEND_HEALTH_URL"] == "http://todo-chatbot-frontend:3000/api/healthz"
    assert urls["BACKEND_READINESS_URL"] == "http://todo-chatbot-backend:8000/readyz"
    assert not [m for m in r.by_kind(rendered("no-prestop-no-tests"), "Pod")]


@pytest.mark.requirement("FR-043", "FR-012")
@pytest.mark.parametrize(
    ("service_type", "expected"),
    [
        ("NodePort", "minikube service -n todo-chatbot todo-chatbot-frontend --url"),
        ("LoadBalancer", "minikube tunnel"),
        ("ClusterIP", "port-forward service/todo-chatbot-frontend 3000:3000"),
    ],
)
def test_notes_tell_how_to_reach_the_ui_for_the_service_type(service_type: str, expected: str) -> None:
    notes = r.render_notes(SECRETS, {"frontend.service.type": service_type,
                                     "frontend.service.allowPlainHttp": service_type == "LoadBalancer"})
    assert expected in notes, notes
    assert "helm test todo-chatbot" in notes


@pytest.mark.requirement("FR-019", "FR-038")
def test_notes_warn_when_the_existing_secret_is_missing() -> None:
    notes = r.render_notes((), {"secrets.existingSecret": "todo-credentials"})
    assert 'WARNING: the Secret "todo-credentials" was not found' in notes
    assert "kubectl -n todo-chatbot create secret generic todo-credentials" in notes
    assert "WARNING" not in r.render_notes(SECRETS)


@pytest.mark.requirement("FR-026")
def test_render_cases_cover_every_environment_file() -> None:
    assert {p.stem for p in r.ENVIRONMENT_VALUES} <= set(RENDER_CASES)
