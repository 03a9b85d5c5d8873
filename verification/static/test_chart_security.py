"""Security issue 16, chart side: HTTPS through an Ingress with Secure cookies and HSTS, NetworkPolicies,
ephemeral-storage limits and a database pool the server can hold."""

from __future__ import annotations

import ipaddress

import pytest

from harness.kube import netpol
from harness.kube import render as r
from harness.kube.quantities import parse_memory
from verification.static.cases import CASE_IDS, rendered

SECRETS = (r.TEST_SECRETS_VALUES,)
NAMESPACE = r.DEFAULT_NAMESPACE
PROD_HOST = "todo-chatbot.example"


# --- Ingress, TLS, Secure cookies, HSTS ------------------------------------------------------------
@pytest.mark.requirement("FR-023", "FR-012", "FR-028")
def test_prod_serves_the_ui_through_an_ingress_with_tls_for_its_host() -> None:
    manifests = rendered("values-prod")
    ingress = r.one(manifests, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": [PROD_HOST], "secretName": "todo-chatbot-tls"}]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == PROD_HOST
    [path] = rule["http"]["paths"]
    frontend = r.service(manifests, "frontend")
    assert path["backend"]["service"] == {"name": frontend["metadata"]["name"], "port": {"name": "http"}}
    assert frontend["spec"]["ports"][0]["name"] == "http"


@pytest.mark.requirement("FR-023", "FR-012")
def test_prod_frontend_service_is_cluster_ip_so_the_ingress_is_the_only_way_in() -> None:
    spec = r.service(rendered("values-prod"), "frontend")["spec"]
    assert spec["type"] == "ClusterIP" and "nodePort" not in spec["ports"][0]


@pytest.mark.requirement("FR-023", "FR-018", "FR-020")
def test_prod_forces_secure_session_cookies_and_hsts() -> None:
    env = r.container_env(rendered("values-prod"), "frontend")
    assert env["SESSION_COOKIE_SECURE"] == "true"
    assert int(env["HSTS_MAX_AGE"]) >= 15552000  # at least 180 days


@pytest.mark.requirement("FR-025", "FR-023", "FR-018")
@pytest.mark.parametrize("case", ["defaults", "values-dev", "values-staging"])
def test_without_https_there_is_no_ingress_cookies_follow_the_request_and_no_hsts(case: str) -> None:
    manifests = rendered(case)
    assert r.by_kind(manifests, "Ingress") == []
    env = r.container_env(manifests, "frontend")
    assert (env["SESSION_COOKIE_SECURE"], env["HSTS_MAX_AGE"]) == ("auto", "0")


@pytest.mark.requirement("FR-025", "FR-012")
def test_dev_and_defaults_keep_the_node_port_frontend() -> None:
    assert r.service(rendered("defaults"), "frontend")["spec"]["type"] == "NodePort"
    assert r.service(rendered("values-dev"), "frontend")["spec"]["ports"][0]["nodePort"] == 30080


@pytest.mark.requirement("FR-026", "FR-028")
def test_ingress_tls_secret_defaults_to_the_release_name_and_tls_can_be_left_to_others() -> None:
    ingress = r.one(rendered("ingress-tls"), "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["todo.test"], "secretName": "todo-chatbot-tls"}]
    assert "ingressClassName" not in ingress["spec"]  # the cluster's default class
    # Left to others (TLS ends before the controller) only when said so: plain HTTP is refused otherwise.
    plain = r.one(r.render(SECRETS, {"ingress.enabled": True, "ingress.hostname": "t.test",
                                     "ingress.tls.enabled": False, "ingress.allowPlainHttp": True}), "Ingress")  # fmt: skip
    assert "tls" not in plain["spec"]


@pytest.mark.requirement("FR-038", "US4-3")
def test_ingress_without_a_hostname_fails_with_one_readable_message() -> None:
    error = r.render_error(SECRETS, {"ingress.enabled": True})
    assert error and "ingress.enabled needs ingress.hostname: --set ingress.hostname=" in error, error


@pytest.mark.parametrize(
    ("set_values", "expected"),
    [
        ({"config.sessionCookieSecure": "always"}, "at '/config/sessionCookieSecure': value must be one of"),
        ({"config.sessionCookieSecure": True}, "at '/config/sessionCookieSecure'"),
        ({"config.hstsMaxAge": -1}, "at '/config/hstsMaxAge': minimum: got -1, want 0"),
        ({"ingress.hostname": "https://todo.test"}, "at '/ingress/hostname'"),
    ],
    ids=["cookie-always", "cookie-boolean", "hsts-negative", "hostname-with-scheme"],
)
@pytest.mark.requirement("US4-3", "FR-026")
def test_schema_refuses_bad_https_values(set_values: dict, expected: str) -> None:
    error = r.render_error(SECRETS, set_values)
    assert error and expected in error, error


@pytest.mark.parametrize(
    ("set_values", "expected"),
    [({}, "echo \"http://"), ({"ingress.enabled": True, "ingress.hostname": "todo.test"}, "https://todo.test/")],
    ids=["node-port", "ingress"],
)
@pytest.mark.requirement("FR-043")
def test_notes_show_the_https_address_with_an_ingress(set_values: dict, expected: str) -> None:
    assert expected in r.render_notes(SECRETS, set_values)


# --- NetworkPolicy: who may talk to whom ----------------------------------------------------------
def pod(manifests: list[dict], component: str) -> netpol.Endpoint:
    """The endpoint of the chart's pod of ``component`` (its labels as rendered)."""
    if component == "test":
        workload = next(m for m in manifests if r.is_hook(m) and m["kind"] == "Pod")
        labels = workload["metadata"]["labels"]
    else:
        labels = r.deployment(manifests, component)["spec"]["template"]["metadata"]["labels"]
    return netpol.Endpoint(labels=labels, namespace=NAMESPACE)


STRANGER = netpol.Endpoint(labels={"app": "something-else"}, namespace=NAMESPACE)
OTHER_NS = netpol.Endpoint(labels={"app": "x"}, namespace="elsewhere")
INGRESS_NGINX = netpol.Endpoint(labels={"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx")
KUBE_DNS = netpol.Endpoint(labels={"k8s-app": "kube-dns"}, namespace="kube-system")
DATABASE = netpol.external(r.TEST_DATABASE_IP)  # external PostgreSQL (Neon or any host): the test values' one
LLM = netpol.external("198.51.100.20")


@pytest.mark.parametrize("case", ["defaults", "values-dev"])
@pytest.mark.requirement("FR-025")
def test_network_policies_are_off_for_a_local_minikube(case: str) -> None:
    assert r.by_kind(rendered(case), "NetworkPolicy") == []


@pytest.mark.parametrize("case", ["values-staging", "values-prod", "network-policy"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_every_pod_of_the_release_is_selected_by_a_policy_in_both_directions(case: str) -> None:
    manifests = rendered(case)
    policies = r.by_kind(manifests, "NetworkPolicy")
    for component in ("backend", "frontend", "test"):
        labels = pod(manifests, component).labels
        selecting = [p for p in policies if netpol._matches(p["spec"]["podSelector"], labels)]
        assert len(selecting) == 1, f"{case}: {component} pods are selected by {len(selecting)} policies"
        assert selecting[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


@pytest.mark.parametrize("case", ["values-staging", "values-prod", "network-policy"])
@pytest.mark.requirement("FR-011", "FR-023", "US4-3")
def test_backend_is_reached_only_by_the_frontend_and_the_helm_test_pod_on_its_port(case: str) -> None:
    m = rendered(case)
    backend, frontend, test = pod(m, "backend"), pod(m, "frontend"), pod(m, "test")
    assert netpol.can_connect(m, frontend, backend, 8000)
    assert netpol.can_connect(m, test, backend, 8000), "the chart's own helm test pod is blocked"
    assert not netpol.can_connect(m, frontend, backend, 22)
    for outsider in (STRANGER, OTHER_NS, INGRESS_NGINX):
        assert not netpol.ingress_allows(m, backend, outsider, 8000), outsider
    assert not netpol.ingress_allows(m, backend, netpol.external("192.0.2.1"), 8000)


@pytest.mark.requirement("FR-012", "FR-023")
def test_frontend_accepts_anyone_on_its_port_unless_an_ingress_namespace_is_named() -> None:
    staging = rendered("values-staging")
    frontend = pod(staging, "frontend")
    for source in (STRANGER, OTHER_NS, INGRESS_NGINX, netpol.external("192.0.2.1")):
        assert netpol.ingress_allows(staging, frontend, source, 3000)
    assert not netpol.ingress_allows(staging, frontend, STRANGER, 8080)
    prod = rendered("values-prod")
    frontend, test = pod(prod, "frontend"), pod(prod, "test")
    assert netpol.ingress_allows(prod, frontend, INGRESS_NGINX, 3000)
    assert netpol.can_connect(prod, test, frontend, 3000), "the chart's own helm test pod is blocked"
    for outsider in (STRANGER, OTHER_NS, netpol.external("192.0.2.1")):
        assert not netpol.ingress_allows(prod, frontend, outsider, 3000), outsider


@pytest.mark.parametrize("case", ["values-staging", "values-prod", "network-policy"])
@pytest.mark.parametrize("component", ["backend", "frontend", "test"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_every_pod_resolves_names_through_kube_dns_only(case: str, component: str) -> None:
    m = rendered(case)
    source = pod(m, component)
    assert netpol.egress_allows(m, source, KUBE_DNS, 53, "UDP")
    assert netpol.egress_allows(m, source, KUBE_DNS, 53, "TCP")
    assert not netpol.egress_allows(m, source, netpol.external("8.8.8.8"), 53, "UDP")


@pytest.mark.parametrize("case", ["values-staging", "values-prod", "network-policy"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_frontend_egress_is_the_backend_port_and_nothing_else(case: str) -> None:
    m = rendered(case)
    frontend, backend = pod(m, "frontend"), pod(m, "backend")
    assert netpol.egress_allows(m, frontend, backend, 8000)
    assert not netpol.egress_allows(m, frontend, DATABASE, 5432)
    assert not netpol.egress_allows(m, frontend, LLM, 443)
    assert not netpol.egress_allows(m, frontend, STRANGER, 8000)


@pytest.mark.parametrize("case", ["values-staging", "values-prod", "network-policy"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_backend_egress_is_the_database_and_with_openai_the_llm_api(case: str) -> None:
    m = rendered(case)
    backend, frontend = pod(m, "backend"), pod(m, "frontend")
    assert netpol.egress_allows(m, backend, DATABASE, 5432)
    assert not netpol.egress_allows(m, backend, DATABASE, 3306)
    assert not netpol.egress_allows(m, backend, frontend, 3000)
    uses_llm = r.container_env(m, "backend")["CHAT_PROVIDER"] == "openai"
    assert netpol.egress_allows(m, backend, LLM, 443) == uses_llm, case


@pytest.mark.requirement("FR-026")
def test_database_and_llm_destinations_are_configurable() -> None:
    # With secrets.existingSecret the chart has no URL to read: the values name the address and port.
    m = r.render((), {
        "secrets.existingSecret": "todo-credentials",
        "networkPolicy.enabled": True, "config.chatProvider": "openai",
        "networkPolicy.database.cidr": "10.20.0.0/16", "networkPolicy.database.port": 6543,
        "networkPolicy.llm.cidr": "198.51.100.0/24", "networkPolicy.llm.port": 8443,
    })  # fmt: skip
    backend = pod(m, "backend")
    assert netpol.egress_allows(m, backend, netpol.external("10.20.1.2"), 6543)
    assert not netpol.egress_allows(m, backend, netpol.external("10.21.1.2"), 6543)
    assert not netpol.egress_allows(m, backend, netpol.external("10.20.1.2"), 5432)
    assert netpol.egress_allows(m, backend, LLM, 8443)
    assert not netpol.egress_allows(m, backend, netpol.external("192.0.2.1"), 8443)


# --- Security issue 27: egress names its destinations (no 0.0.0.0/0 unless the user writes it) ----
def backend_egress_blocks(manifests: list[dict]) -> list[dict]:
    """The ipBlocks of the backend policy's egress rules (DNS has none)."""
    policy = next(p for p in r.by_kind(manifests, "NetworkPolicy") if p["metadata"]["name"].endswith("-backend"))
    return [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]


def with_database_url(url: str, **more: object) -> list[dict]:
    return r.render(SECRETS, {"secrets.databaseUrl": url, "networkPolicy.enabled": True, **more})


@pytest.mark.parametrize(
    ("url", "inside", "outside", "port"),
    [
        ("postgresql://u:p@203.0.113.7:6543/todo", "203.0.113.7", "203.0.113.8", 6543),
        ("postgresql://u:p@203.0.113.7/todo?sslmode=require", "203.0.113.7", "203.0.113.8", 5432),
        ("postgresql://u:p@[2001:db8::5]:5433/todo", "2001:db8::5", "2001:db8::6", 5433),
        ("postgresql://u:p@ss/w#rd@203.0.113.7:6543/todo", "203.0.113.7", "203.0.113.8", 6543),
    ],
    ids=["ipv4-with-port", "ipv4-default-port", "ipv6", "unescaped-password"],
)
@pytest.mark.requirement("FR-023", "FR-028")
def test_database_egress_is_the_ip_in_the_database_url_and_its_port(url: str, inside: str, outside: str,
                                                                    port: int) -> None:
    m = with_database_url(url)
    backend = pod(m, "backend")
    assert netpol.egress_allows(m, backend, netpol.external(inside), port)
    assert not netpol.egress_allows(m, backend, netpol.external(outside), port), "wider than the database's IP"
    assert not netpol.egress_allows(m, backend, netpol.external(inside), port + 1)
    bits = 128 if ":" in inside else 32
    assert {"cidr": f"{inside}/{bits}"} in backend_egress_blocks(m)


@pytest.mark.parametrize(
    ("files", "set_values", "why"),
    [
        (SECRETS, {"secrets.databaseUrl": "postgresql://u:p@db.example.com:5432/todo"},
         "the host of secrets.databaseUrl (db.example.com) is not an IP address"),
        ((), {"secrets.existingSecret": "todo-credentials"},
         "secrets.existingSecret holds DATABASE_URL, which the chart cannot read"),
        # A URL in the values is not the one in use beside an existing Secret: it is not read.
        (SECRETS, {"secrets.existingSecret": "todo-credentials"},
         "secrets.existingSecret holds DATABASE_URL, which the chart cannot read"),
    ],
    ids=["hostname-url", "existing-secret", "existing-secret-beside-an-ip-url"],
)
@pytest.mark.requirement("FR-038", "US4-3", "FR-023")
def test_policies_without_a_database_address_fail_with_one_readable_message(files: tuple, set_values: dict,
                                                                           why: str) -> None:
    error = r.render_error(files, {**set_values, "networkPolicy.enabled": True})
    assert error, "rendered a database egress rule without knowing the database's address"
    assert why in error, error
    assert "--set networkPolicy.database.cidr=10.0.0.5/32" in error, error
    # Without policies nothing needs the address.
    assert r.render_error(files, set_values) is None


@pytest.mark.requirement("FR-019", "FR-038")
def test_a_database_url_the_chart_cannot_parse_fails_without_showing_its_password() -> None:
    url = "postgresql://todo:pw-s3cret@db host:x/todo?password=q-s3cret"
    error = r.render_error(SECRETS, {"secrets.databaseUrl": url, "networkPolicy.enabled": True})
    assert error, "rendered a policy from a URL without a valid host"
    assert "s3cret" not in error, error


@pytest.mark.parametrize("cidr", ["10.0.0.5/32", "0.0.0.0/0"])
@pytest.mark.requirement("FR-026", "FR-023")
def test_an_explicit_database_cidr_wins_over_the_url(cidr: str) -> None:
    m = with_database_url("postgresql://u:p@db.example.com:5432/todo", **{"networkPolicy.database.cidr": cidr})
    assert backend_egress_blocks(m) == [{"cidr": cidr}]  # 0.0.0.0/0 only when written, never by default
    ip_url = with_database_url("postgresql://u:p@203.0.113.7:5432/todo", **{"networkPolicy.database.cidr": cidr})
    assert backend_egress_blocks(ip_url) == [{"cidr": cidr}]


PRIVATE_AND_METADATA = ("10.96.0.1", "10.244.1.7", "172.17.0.2", "192.168.49.2", "169.254.169.254",
                        "100.64.0.10", "127.0.0.1")


@pytest.mark.parametrize("case", ["values-prod", "network-policy-openai-no-tests"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_llm_egress_is_the_public_internet_without_private_and_link_local_ranges(case: str) -> None:
    m = rendered(case)
    backend = pod(m, "backend")
    assert netpol.egress_allows(m, backend, LLM, 443)
    for address in PRIVATE_AND_METADATA:
        assert not netpol.egress_allows(m, backend, netpol.external(address), 443), address
    # A Kubernetes ipBlock's except must lie inside its cidr, or the API server refuses the policy.
    for block in backend_egress_blocks(m):
        for excluded in block.get("except", []):
            assert ipaddress.ip_network(excluded).subnet_of(ipaddress.ip_network(block["cidr"])), block


@pytest.mark.requirement("FR-026", "FR-023")
def test_a_narrower_llm_cidr_is_taken_as_it_is() -> None:
    m = with_database_url("postgresql://u:p@203.0.113.7/todo", **{
        "config.chatProvider": "openai", "secrets.openaiApiKey": "sk-fake", "networkPolicy.llm.cidr": "10.8.0.0/16"})
    assert {"cidr": "10.8.0.0/16"} in backend_egress_blocks(m)  # no except outside the cidr
    assert netpol.egress_allows(m, pod(m, "backend"), netpol.external("10.8.3.4"), 443)


@pytest.mark.parametrize("case", ["values-staging", "network-policy"])
@pytest.mark.requirement("FR-023", "FR-028")
def test_without_openai_the_backend_has_no_llm_rule(case: str) -> None:
    m = rendered(case)
    assert r.container_env(m, "backend")["CHAT_PROVIDER"] != "openai"
    assert [b["cidr"] for b in backend_egress_blocks(m)] == [r.TEST_DATABASE_CIDR]
    assert not netpol.egress_allows(m, pod(m, "backend"), LLM, 443)


@pytest.mark.requirement("FR-028", "US4-3")
def test_without_the_helm_test_pod_there_is_no_policy_or_exception_for_it() -> None:
    m = rendered("network-policy-openai-no-tests")
    assert {p["metadata"]["name"] for p in r.by_kind(m, "NetworkPolicy")} == {
        "todo-chatbot-backend", "todo-chatbot-frontend",
    }  # fmt: skip
    test_labels = {"app.kubernetes.io/name": "todo-chatbot", "app.kubernetes.io/instance": "todo-chatbot",
                   "app.kubernetes.io/component": "test"}  # fmt: skip
    test = netpol.Endpoint(labels=test_labels, namespace=NAMESPACE)
    assert not netpol.ingress_allows(m, pod(m, "backend"), test, 8000)


# What the evaluator is the evidence for: every test above that asks it who may connect. An evaluator
# that allowed (or denied) everything would make half of them pass without looking.
NETPOL_GUARDS = ("FR-011", "FR-012", "FR-023", "FR-026", "FR-028", "US4-3")


@pytest.mark.harness  # the evaluator itself, not the chart
@pytest.mark.guards(*NETPOL_GUARDS)
def test_netpol_evaluator_follows_kubernetes_semantics() -> None:
    a = netpol.Endpoint(labels={"app": "a"}, namespace="n")
    b = netpol.Endpoint(labels={"app": "b"}, namespace="n")
    deny_all = {"kind": "NetworkPolicy", "metadata": {"namespace": "n"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}  # fmt: skip
    assert netpol.can_connect([], a, b, 80)  # no policy: open
    assert not netpol.can_connect([deny_all], a, b, 80)
    allow_b_from_a = {"kind": "NetworkPolicy", "metadata": {"namespace": "n"}, "spec": {
        "podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 80}]}]}}  # fmt: skip
    assert netpol.can_connect([allow_b_from_a], a, b, 80)
    assert not netpol.can_connect([allow_b_from_a], a, b, 81)
    assert not netpol.can_connect([allow_b_from_a], netpol.Endpoint(labels={"app": "a"}, namespace="m"), b, 80)
    assert not netpol.can_connect([allow_b_from_a, deny_all], a, b, 80)  # a's egress is denied


@pytest.mark.harness  # the peers and ports the chart's policies use: ipBlock, namespaceSelector, protocol
@pytest.mark.guards(*NETPOL_GUARDS)
def test_netpol_evaluator_judges_address_blocks_namespaces_and_protocols() -> None:
    a = netpol.Endpoint(labels={"app": "a"}, namespace="n")
    dns = netpol.Endpoint(labels={"k8s-app": "kube-dns"}, namespace="kube-system")
    fake_dns = netpol.Endpoint(labels={"k8s-app": "kube-dns"}, namespace="n")  # right labels, wrong namespace
    egress = {"kind": "NetworkPolicy", "metadata": {"namespace": "n"}, "spec": {
        "podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.9.0/24"]}}],
             "ports": [{"port": 5432}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"port": 53, "protocol": "UDP"}]},
            {"to": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 8000, "endPort": 8010}]},
        ]}}  # fmt: skip
    m = [egress]
    assert netpol.egress_allows(m, a, netpol.external("10.20.1.2"), 5432)
    assert not netpol.egress_allows(m, a, netpol.external("10.20.9.2"), 5432), "an address in 'except' got out"
    assert not netpol.egress_allows(m, a, netpol.external("10.21.1.2"), 5432), "an address outside the block got out"
    assert not netpol.egress_allows(m, a, netpol.external("10.20.1.2"), 5433), "another port got out"
    assert netpol.egress_allows(m, a, dns, 53, "UDP")
    assert not netpol.egress_allows(m, a, dns, 53, "TCP"), "a UDP-only rule let TCP out"
    assert not netpol.egress_allows(m, a, fake_dns, 53, "UDP"), "the namespaceSelector was not applied"
    assert not netpol.egress_allows(m, a, netpol.Endpoint(labels={"k8s-app": "other"}, namespace="kube-system"),
                                    53, "UDP"), "namespaceSelector with podSelector must match both"
    b = netpol.Endpoint(labels={"app": "b"}, namespace="n")
    assert netpol.egress_allows(m, a, b, 8010) and not netpol.egress_allows(m, a, b, 8011), "endPort"
    assert not netpol.egress_allows(m, a, netpol.Endpoint(labels={"app": "b"}, namespace="x"), 8000), (
        "a podSelector alone means the policy's own namespace")
    assert netpol.ingress_allows(m, a, netpol.external("10.20.1.2"), 5432)  # no Ingress policy selects a: open
    with pytest.raises(NotImplementedError):  # a selector it cannot evaluate must not pass a test by accident
        netpol.can_connect([{**egress, "spec": {**egress["spec"], "podSelector": {"matchExpressions": []}}}],
                           a, b, 8000)


@pytest.mark.harness
def test_netpol_guards_are_the_ids_of_the_tests_that_ask_the_evaluator() -> None:
    from pathlib import Path

    from verification.static import relying

    assert set(NETPOL_GUARDS) == relying.relying_ids(Path(__file__), "static", relying.using("netpol"))


# --- ephemeral storage ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.requirement("FR-013")
def test_every_container_requests_and_limits_ephemeral_storage_covering_its_empty_dirs(case: str) -> None:
    manifests = rendered(case)
    workloads = [*r.by_kind(manifests, "Deployment"), *r.by_kind(manifests, "Pod")]
    for workload in workloads:
        spec = r.pod_spec(workload)
        empty_dirs = sum(parse_memory(v["emptyDir"]["sizeLimit"]) for v in spec.get("volumes") or [] if "emptyDir" in v)
        for c in spec["containers"]:
            requests, limits = c["resources"]["requests"], c["resources"]["limits"]
            name = f"{workload['metadata']['name']}/{c['name']}"
            assert "ephemeral-storage" in requests and "ephemeral-storage" in limits, name
            request, limit = parse_memory(requests["ephemeral-storage"]), parse_memory(limits["ephemeral-storage"])
            assert 0 < request <= limit, name
            # The emptyDirs count against the container's limit, and logs need room beside them.
            assert limit >= empty_dirs + 16 * 1024**2, f"{name}: limit {limit} < emptyDirs {empty_dirs} + 16Mi"


# --- database pool --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.requirement("FR-018", "FR-020", "FR-016")
def test_pool_settings_reach_the_backend_and_fit_the_server_during_a_rollout(case: str) -> None:
    manifests = rendered(case)
    env = r.container_env(manifests, "backend")
    pool, overflow = int(env["DB_POOL_SIZE"]), int(env["DB_MAX_OVERFLOW"])
    replicas = r.deployment(manifests, "backend")["spec"]["replicas"]
    surge = r.deployment(manifests, "backend")["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert (replicas + surge) * (pool + overflow) <= 100 - 10
    assert "DB_POOL_SIZE" not in r.container_env(manifests, "frontend")


@pytest.mark.requirement("FR-025", "FR-018")
def test_pool_defaults_are_5_and_5() -> None:
    env = r.container_env(rendered("defaults"), "backend")
    assert (env["DB_POOL_SIZE"], env["DB_MAX_OVERFLOW"]) == ("5", "5")


@pytest.mark.parametrize(
    ("set_values", "expected"),
    [
        (
            {"backend.replicaCount": 9, "backend.database.poolSize": 5, "backend.database.maxOverflow": 5},
            "backend.database: (replicaCount 9 + 1 surge pod) x (poolSize 5 + maxOverflow 5) = 100 connections "
            "exceeds maxConnections 100 - reservedConnections 10 = 90",
        ),
        (
            {"backend.database.poolSize": 10, "backend.database.maxOverflow": 21},
            "(poolSize 10 + maxOverflow 21) = 93 connections exceeds maxConnections 100 - reservedConnections 10 = 90",
        ),
        (
            {"backend.database.maxConnections": 20},
            "= 30 connections exceeds maxConnections 20 - reservedConnections 10 = 10",
        ),
    ],
    ids=["too-many-replicas", "big-pool", "small-server"],
)
@pytest.mark.requirement("FR-038", "US4-3")
def test_pool_beyond_max_connections_fails_with_the_arithmetic(set_values: dict, expected: str) -> None:
    error = r.render_error(SECRETS, set_values)
    assert error and expected in error, error
    assert "raise backend.database.maxConnections to the server's max_connections" in error


@pytest.mark.requirement("FR-026")
def test_pool_exactly_at_the_limit_is_accepted() -> None:
    # (2 + 1) x (10 + 20) = 90 = 100 - 10: the backend's own defaults, on two replicas.
    assert r.render_error(SECRETS, {"backend.database.poolSize": 10, "backend.database.maxOverflow": 20}) is None
