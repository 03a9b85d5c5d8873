"""Every rendered combination of the chart passes each deployment policy (harness/kube/policy.py).

One test per policy, over every render case (defaults, values-*.yaml, the --set matrix), plus
the chart-specific facts a generic policy cannot know.
"""

from __future__ import annotations

import pytest

from harness import contract
from harness.kube import policy
from harness.kube import render as r
from verification.static.cases import CASE_IDS, rendered
from verification.static.test_policy_checker import rule_guards

COMPONENTS = ("backend", "frontend")


def findings(case: str, rule: str) -> list[str]:
    return [f.line() for f in policy.check(rendered(case)) if f.rule.name == rule]


def assert_rule_holds(case: str, rule: str) -> None:
    found = findings(case, rule)
    assert not found, (
        f"[{case}] policy '{rule}' ({', '.join(policy.RULES[rule].requirements)}):\n" + "\n".join(found)
    )


@pytest.mark.requirement("FR-013")
@pytest.mark.parametrize("case", CASE_IDS)
def test_every_container_sets_cpu_and_memory_requests_and_limits(case: str) -> None:
    assert_rule_holds(case, "resources")


@pytest.mark.requirement("FR-014", "FR-015")
@pytest.mark.parametrize("case", CASE_IDS)
def test_every_deployment_has_liveness_and_readiness_probes_on_declared_ports(case: str) -> None:
    for rule in ("liveness-probe", "readiness-probe", "probe-port"):
        assert_rule_holds(case, rule)


@pytest.mark.requirement("FR-016")
@pytest.mark.parametrize("case", CASE_IDS)
def test_deployments_roll_with_max_unavailable_0_and_max_surge_1(case: str) -> None:
    assert_rule_holds(case, "rolling-update")
    for component in COMPONENTS:
        strategy = r.deployment(rendered(case), component)["spec"]["strategy"]
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


@pytest.mark.requirement("FR-017")
@pytest.mark.parametrize("case", CASE_IDS)
def test_every_resource_carries_standard_labels_and_selectors_use_name_instance_component(case: str) -> None:
    assert_rule_holds(case, "labels")
    assert_rule_holds(case, "selector")
    for manifest in rendered(case):
        labels = manifest["metadata"]["labels"]
        assert labels.get("helm.sh/chart", "").startswith("todo-chatbot-"), policy.resource_id(manifest)
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


@pytest.mark.requirement("FR-011", "FR-012")
@pytest.mark.parametrize("case", CASE_IDS)
def test_services_select_the_component_pods_and_target_their_ports(case: str) -> None:
    assert_rule_holds(case, "service-selects-pods")


@pytest.mark.requirement("FR-021", "US3-4", "FR-020")
@pytest.mark.parametrize("case", CASE_IDS)
def test_sensitive_variables_reach_containers_only_through_secret_key_ref(case: str) -> None:
    assert_rule_holds(case, "sensitive-env")
    manifests = rendered(case)
    for workload in [*r.by_kind(manifests, "Deployment"), *r.by_kind(manifests, "Pod")]:
        for c in r.pod_spec(workload)["containers"]:
            for item in c.get("env") or []:
                if contract.is_sensitive(item["name"]):
                    assert set(item.get("valueFrom", {})) == {"secretKeyRef"}, (
                        workload["metadata"]["name"],
                        item,
                    )
            for source in c.get("envFrom") or []:
                assert set(source) == {"configMapRef"}, f"{c['name']}: envFrom {source}"


@pytest.mark.requirement("FR-018", "US3-4")
@pytest.mark.parametrize("case", CASE_IDS)
def test_no_sensitive_key_or_credential_in_any_configmap(case: str) -> None:
    assert_rule_holds(case, "configmap-no-secrets")


@pytest.mark.requirement("FR-005", "FR-029")
@pytest.mark.parametrize("case", CASE_IDS)
def test_no_image_uses_latest_or_an_implicit_tag(case: str) -> None:
    assert_rule_holds(case, "image-tag")


@pytest.mark.requirement("FR-008")
@pytest.mark.parametrize("case", CASE_IDS)
def test_every_pod_meets_pod_security_standard_restricted_with_read_only_root(case: str) -> None:
    for rule in ("non-root", "pss-restricted", "read-only-root", "service-account-token"):
        assert_rule_holds(case, rule)
    for workload in [*r.by_kind(rendered(case), "Deployment"), *r.by_kind(rendered(case), "Pod")]:
        spec = r.pod_spec(workload)
        assert spec["securityContext"]["runAsUser"] == contract.APP_UID
        assert spec["securityContext"]["runAsGroup"] == contract.APP_GID


@pytest.mark.requirement("SC-010", "FR-013", "FR-025")
@pytest.mark.parametrize("case", CASE_IDS)
def test_limits_times_replicas_stay_within_2_gib_and_2_cpu(case: str) -> None:
    assert_rule_holds(case, "resource-budget")


@pytest.mark.requirement("SC-010", "FR-013")
def test_budget_arithmetic_at_default_values() -> None:
    """The chart's limits at its defaults: 2 x (384 + 320) MiB and 2 x (0.5 + 0.2) CPU, and while a
    rollout surges one extra pod (the backend's is the larger, in memory and in CPU) strictly below
    the budget (the spec's "less than"). The load tier measures the real use with the limits lifted."""
    manifests = rendered("defaults")
    memory, cpu = policy.budget_totals(manifests)
    assert memory == 2 * (384 + 320) * 1024**2
    assert cpu == pytest.approx(1.4)
    assert policy.surge_totals(manifests) == (384 * 1024**2, pytest.approx(0.5))
    assert memory + 384 * 1024**2 < contract.BUDGET_MEMORY_BYTES and cpu + 0.5 < contract.BUDGET_CPU_CORES


@pytest.mark.harness  # the budget rule itself, not the chart
@pytest.mark.guards(*rule_guards("resource-budget"))
def test_budget_policy_flags_replicas_beyond_the_budget() -> None:
    manifests = r.render([r.TEST_SECRETS_VALUES], {"backend.replicaCount": 4, "frontend.replicaCount": 4})
    rules = {f.rule.name for f in policy.check(manifests)}
    assert "resource-budget" in rules


@pytest.mark.harness  # the budget rule itself, not the chart
@pytest.mark.guards(*rule_guards("resource-budget"))
@pytest.mark.parametrize(("values", "said"), [
    # 2 x 0.5 + 2 x 0.25 = 1.5 cores steady, 2.0 while a backend pod surges: at the budget is not below it.
    ({"frontend.resources.limits.cpu": "250m"}, "CPU limits x replicas total 1.50 cores (+0.50 while a rollout"),
    # 2 x (384 + 640) MiB = 2048 MiB steady: equal to the budget already.
    ({"frontend.resources.limits.memory": "640Mi"}, "memory limits x replicas total 2048 MiB"),
    # The defaults: 1.4 cores, 1.9 while a backend pod surges; 1.375 GiB, 1.75 GiB: below.
    ({}, None),
])
def test_budget_policy_counts_the_surge_pod_and_holds_less_than(values: dict, said: str | None) -> None:
    manifests = r.render([r.TEST_SECRETS_VALUES], values)
    found = [f.message for f in policy.check(manifests) if f.rule.name == "resource-budget"]
    if said is None:
        assert found == []
    else:
        assert any(said in message for message in found), found


@pytest.mark.requirement("FR-014", "FR-015")
@pytest.mark.parametrize("case", CASE_IDS)
def test_backend_readiness_checks_the_database_and_liveness_does_not(case: str) -> None:
    targets = r.probe_targets(rendered(case), "backend")
    assert targets["livenessProbe"] == (contract.BACKEND_LIVENESS_PATH, contract.BACKEND_PORT)
    assert targets["startupProbe"] == (contract.BACKEND_LIVENESS_PATH, contract.BACKEND_PORT)
    assert targets["readinessProbe"] == (contract.BACKEND_READINESS_PATH, contract.BACKEND_PORT)
    assert targets["livenessProbe"] != targets["readinessProbe"]


@pytest.mark.requirement("FR-014", "FR-015")
@pytest.mark.parametrize("case", CASE_IDS)
def test_frontend_probes_use_its_own_health_endpoint(case: str) -> None:
    targets = r.probe_targets(rendered(case), "frontend")
    assert set(targets) == {"startupProbe", "livenessProbe", "readinessProbe"}
    assert set(targets.values()) == {(contract.FRONTEND_HEALTH_PATH, contract.FRONTEND_PORT)}


@pytest.mark.requirement("FR-016")
@pytest.mark.parametrize("case", CASE_IDS)
def test_prestop_pause_fits_inside_the_termination_grace_period(case: str) -> None:
    for component in COMPONENTS:
        deploy = r.deployment(rendered(case), component)
        grace = r.pod_spec(deploy)["terminationGracePeriodSeconds"]
        pre_stop = (r.container(deploy).get("lifecycle") or {}).get("preStop") or {}
        pause = pre_stop.get("sleep", {}).get("seconds", 0)
        assert grace >= pause + 15, f"{component}: grace {grace}s leaves < 15 s after a {pause}s preStop"
