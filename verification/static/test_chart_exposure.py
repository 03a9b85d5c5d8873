"""Security issue 27, chart side: TLS for anything published beyond the machine, the chart refuses weak and
committed JWT secrets as the backend does, the PROXY_TOKEN that lets the backend key its limits on the real
caller, and the per-user limits reaching the backend."""

from __future__ import annotations

import base64
import secrets

import pytest

from harness.kube import render as r
from verification.static.cases import rendered

SECRETS = (r.TEST_SECRETS_VALUES,)


# --- TLS beyond the machine --------------------------------------------------------------------------
@pytest.mark.requirement("FR-012", "FR-026")
@pytest.mark.parametrize(
    ("set_values", "value_to_set"),
    [
        ({"frontend.service.type": "LoadBalancer"}, "frontend.service.allowPlainHttp=true"),
        ({"ingress.enabled": True, "ingress.hostname": "t.test", "ingress.tls.enabled": False},
         "ingress.allowPlainHttp=true"),
        ({"config.openaiBaseUrl": "http://llm.test/v1"}, "config.openaiAllowHttp=true"),
    ],
    ids=["plain-loadbalancer", "ingress-without-tls", "model-over-http"],
)
def test_publishing_over_plain_http_is_refused_naming_the_value_to_set(set_values: dict, value_to_set: str) -> None:
    error = r.render_error(SECRETS, set_values)
    assert error and value_to_set in error, error
    assert "VALUES ERROR" in error


@pytest.mark.requirement("FR-025", "FR-012")
def test_the_laptop_default_stays_a_plain_http_node_port() -> None:
    assert r.service(rendered("defaults"), "frontend")["spec"]["type"] == "NodePort"
    assert r.configmap(rendered("defaults"), "frontend")["data"]["SESSION_COOKIE_SECURE"] == "auto"


@pytest.mark.requirement("FR-012", "FR-028")
def test_behind_the_tls_ingress_the_service_is_cluster_ip_and_cookies_are_secure() -> None:
    """Even with frontend.service.type NodePort asked for: no node port open beside the TLS Ingress."""
    manifests = r.render(SECRETS, {"ingress.enabled": True, "ingress.hostname": "t.test",
                                   "frontend.service.type": "NodePort", "frontend.service.nodePorts.http": 30080})
    spec = r.service(manifests, "frontend")["spec"]
    assert spec["type"] == "ClusterIP" and "nodePort" not in spec["ports"][0]
    frontend = r.configmap(manifests, "frontend")["data"]
    assert frontend["SESSION_COOKIE_SECURE"] == "true"
    assert frontend["TRUSTED_PROXY_HOPS"] == "1"  # the ingress controller's X-Forwarded-For entry
    assert r.configmap(rendered("defaults"), "frontend")["data"]["TRUSTED_PROXY_HOPS"] == "0"


# --- JWT secrets: the backend's rules, at install time -----------------------------------------------
def _weak() -> dict[str, str]:
    return {
        "a phrase": "my-very-secret-jwt-signing-key-2024",
        "a long phrase": "my-very-secret-jwt-signing-key-2024-and-some-more-words-here",
        "128 bits": secrets.token_hex(16),
        "one unit repeated": secrets.token_hex(8) * 8,
        "the old committed test secret": "fake-jwt-secret-for-tests-only-0123456789abcdef",
        ".env.example's placeholder": "replace-with-at-least-32-random-bytes-0000000000",
    }


def _strong() -> dict[str, str]:
    return {
        "openssl rand -hex 32": secrets.token_hex(32),
        "openssl rand -base64 32": base64.b64encode(secrets.token_bytes(32)).decode(),
        "token_urlsafe(48)": secrets.token_urlsafe(48),
    }


@pytest.mark.requirement("FR-019")
@pytest.mark.parametrize("name", list(_weak()))
def test_a_weak_or_committed_jwt_secret_is_refused_as_the_backend_refuses_it(name: str) -> None:
    from todo_api.secret_strength import problem  # the backend's own judgement

    value = _weak()[name]
    assert problem(value), f"the backend accepts {name}"
    error = r.render_error(SECRETS, {"secrets.jwtSecret": value})
    assert error and "secrets.jwtSecret" in error and "openssl rand -hex 32" in error, error
    assert value not in error, "the refusal quotes the secret"


@pytest.mark.requirement("FR-019")
@pytest.mark.parametrize("name", list(_strong()))
def test_random_jwt_secrets_are_accepted_by_chart_and_backend(name: str) -> None:
    from todo_api.secret_strength import problem

    for _ in range(5):
        value = _strong()[name]
        assert problem(value) is None
        assert r.render_error(SECRETS, {"secrets.jwtSecret": value}) is None


# --- the caller's address and the per-user limits ----------------------------------------------------
@pytest.mark.requirement("FR-021")
@pytest.mark.parametrize("case", ["defaults", "existing-secret", "values-prod"])
def test_both_components_get_proxy_token_from_the_charts_own_secret(case: str) -> None:
    manifests = rendered(case)
    [token_secret] = [s for s in r.by_kind(r.installed(manifests), "Secret")
                      if s["metadata"]["name"].endswith("-proxy-token")]
    assert len(base64.b64decode(token_secret["data"]["PROXY_TOKEN"])) >= 32
    for component in ("backend", "frontend"):
        env = {e["name"]: e for e in r.container(r.deployment(manifests, component))["env"]}
        ref = env["PROXY_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": token_secret["metadata"]["name"], "key": "PROXY_TOKEN"}


@pytest.mark.requirement("FR-018", "FR-020")
def test_per_user_limits_reach_the_backend() -> None:
    manifests = r.render(SECRETS, {"backend.limits.tasksPerUser": 50, "backend.limits.tasksCreatedPerMinute": 7,
                                   "backend.limits.chatTurnsPerMinute": 3})
    backend = r.configmap(manifests, "backend")["data"]
    assert (backend["TASKS_PER_USER"], backend["TASKS_CREATED_PER_MINUTE"], backend["CHAT_TURNS_PER_MINUTE"]) == \
        ("50", "7", "3")
    error = r.render_error(SECRETS, {"backend.limits.tasksPerUser": 0})
    assert error and "tasksPerUser" in error, error
