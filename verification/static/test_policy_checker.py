"""The policy checker itself: it flags each kind of defect, and works as a command on any file (US4-1, US4-4).

The single-defect self-tests guard the IDs each rule is the evidence for (``guards``): a rule that
went blind would let the tests that rely on it find nothing and pass, so its self-test failing
makes those IDs FAIL in the sign-off.
"""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from harness.kube import policy
from harness.kube import render as r
from verification.static import relying
from verification.static.cases import rendered

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good-deployment.yaml"
BAD = FIXTURES / "bad-deployment.yaml"


def _backend(manifests: list[dict]) -> dict:
    return r.container(r.deployment(manifests, "backend"))


def _set(path: str, value: object) -> Callable[[list[dict]], None]:
    def mutate(manifests: list[dict]) -> None:
        target = _backend(manifests)
        *parents, leaf = path.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value

    return mutate


def _deploy(mutate: Callable[[dict], None]) -> Callable[[list[dict]], None]:
    return lambda manifests: mutate(r.deployment(manifests, "backend"))


# --- what each rule is the evidence for ---------------------------------------------------------
# Every rule: the chart renders with no finding (test_rendered_chart_has_no_findings: US4-1, SC-008),
# a good hand-written manifest passes the command (US4-1, US4-4, FR-034), helm template output
# passes it (US4-4). A blind rule makes each of them pass without looking.
EVERY_RULE = ("US4-1", "US4-4", "SC-008", "FR-034")
# Per rule, the IDs of the test_chart_policy.py tests that hold the rule on every render, kept to
# the IDs a static test proves (verification/requirements.yaml): the probe rules serve FR-014 and
# FR-015 only as weaker evidence (a cluster restarts the container), SC-010 is the load tier's, US3-4
# the cluster's. test_rule_guards_are_the_ids_of_the_tests_that_rely_on_each_rule keeps this in step.
RULE_GUARDS: dict[str, tuple[str, ...]] = {
    "resources": ("FR-013",),
    "liveness-probe": (),
    "readiness-probe": (),
    "probe-port": (),
    "rolling-update": ("FR-016",),
    "labels": ("FR-017",),
    "selector": ("FR-017",),
    "service-selects-pods": ("FR-011", "FR-012"),
    "sensitive-env": ("FR-020", "FR-021"),
    "configmap-no-secrets": ("FR-018",),
    "image-tag": ("FR-005", "FR-029"),
    "non-root": ("FR-008",),
    "pss-restricted": ("FR-008",),
    "read-only-root": ("FR-008",),
    "service-account-token": ("FR-008",),
    "resource-budget": ("FR-013", "FR-025"),
    # the command flags a hand-written file without its header (FR-033's test) and passes one with it
    "provenance": ("FR-033",),
}


def rule_guards(rule: str) -> tuple[str, ...]:
    """The IDs a self-test of ``rule`` guards."""
    return tuple(dict.fromkeys((*EVERY_RULE, *RULE_GUARDS[rule])))


# One defect each, applied to the rendered chart: the checker must name the rule it breaks.
MUTATIONS: dict[str, tuple[Callable[[list[dict]], None], str]] = {
    "no-memory-limit": (_set("resources.limits.memory", None), "resources"),
    "bad-cpu-quantity": (_set("resources.requests.cpu", "lots"), "resources"),
    "no-liveness-probe": (_set("livenessProbe", None), "liveness-probe"),
    "no-readiness-probe": (_set("readinessProbe", None), "readiness-probe"),
    "probe-on-undeclared-port": (_set("readinessProbe.httpGet.port", "metrics"), "probe-port"),
    "recreate-strategy": (
        _deploy(lambda d: d["spec"].update(strategy={"type": "Recreate"})),
        "rolling-update",
    ),
    "max-unavailable-1": (
        _deploy(lambda d: d["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1)),
        "rolling-update",
    ),
    "missing-part-of-label": (
        _deploy(lambda d: d["metadata"]["labels"].pop("app.kubernetes.io/part-of")),
        "labels",
    ),
    "version-in-selector": (
        _deploy(
            lambda d: d["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/version": "0.1.0"})
        ),
        "selector",
    ),
    "secret-as-literal": (_set("env", [{"name": "JWT_SECRET", "value": "x" * 40}]), "sensitive-env"),
    "secret-from-configmap": (
        _set(
            "env",
            [
                {
                    "name": "OPENAI_API_KEY",
                    "valueFrom": {
                        "configMapKeyRef": {"name": "todo-chatbot-backend", "key": "OPENAI_API_KEY"}
                    },
                }
            ],
        ),
        "sensitive-env",
    ),
    "password-in-configmap": (
        lambda m: r.configmap(m, "backend")["data"].update(DB="postgresql://u:hunter2@db:5432/x"),
        "configmap-no-secrets",
    ),
    "token-key-in-configmap": (
        lambda m: r.configmap(m, "frontend")["data"].update(API_TOKEN="t"),
        "configmap-no-secrets",
    ),
    "latest-tag": (_set("image", "todo-backend:latest"), "image-tag"),
    "no-tag": (_set("image", "todo-backend"), "image-tag"),
    "root-user": (_set("securityContext.runAsUser", 0), "non-root"),
    "privilege-escalation": (_set("securityContext.allowPrivilegeEscalation", True), "pss-restricted"),
    "capabilities-kept": (_set("securityContext.capabilities", {"add": ["NET_ADMIN"]}), "pss-restricted"),
    "writable-root": (_set("securityContext.readOnlyRootFilesystem", False), "read-only-root"),
    "host-network": (
        _deploy(lambda d: d["spec"]["template"]["spec"].update(hostNetwork=True)),
        "pss-restricted",
    ),
    "api-token-mounted": (
        _deploy(lambda d: d["spec"]["template"]["spec"].pop("automountServiceAccountToken")),
        "service-account-token",
    ),
    "service-selects-nothing": (
        lambda m: r.service(m, "backend")["spec"]["selector"].update({"app.kubernetes.io/component": "api"}),
        "service-selects-pods",
    ),
    "over-budget": (_deploy(lambda d: d["spec"].update(replicas=5)), "resource-budget"),
}


@pytest.mark.requirement("US4-1", "SC-008")
def test_rendered_chart_has_no_findings() -> None:
    assert [f.line() for f in policy.check(rendered("defaults"))] == []


@pytest.mark.harness  # the checker's own rules, not the chart
@pytest.mark.parametrize(
    "defect", [pytest.param(d, marks=pytest.mark.guards(*rule_guards(rule))) for d, (_, rule) in MUTATIONS.items()]
)
def test_policy_flags_a_single_defect_with_the_rule_it_breaks(defect: str) -> None:
    mutate, rule = MUTATIONS[defect]
    manifests = copy.deepcopy(rendered("defaults"))
    mutate(manifests)
    rules = {f.rule.name for f in policy.check(manifests)}
    assert rule in rules, f"{defect}: expected [{rule}], got {sorted(rules)}"


@pytest.mark.harness
@pytest.mark.guards(*rule_guards("provenance"))
def test_policy_flags_a_hand_written_file_without_its_provenance_header(tmp_path: Path) -> None:
    lines = GOOD.read_text().splitlines(keepends=True)
    assert policy.check_file(GOOD) == [], "the good fixture must pass, header included"
    stripped = tmp_path / "no-header.yaml"
    stripped.write_text("".join(line for line in lines if "provenance:" not in line))
    rules = [f.rule.name for f in policy.check_file(stripped)]
    assert rules == ["provenance"], f"a file without its provenance header: got {rules}"


@pytest.mark.harness
def test_every_rule_has_a_single_defect_self_test_and_guards() -> None:
    """A rule added without a case here would have no self-test, and nothing would guard its IDs."""
    mutated = {rule for _, rule in MUTATIONS.values()}
    assert set(policy.RULES) - mutated == {"provenance"}, f"rules without a single-defect case: {set(policy.RULES) - mutated}"
    assert set(RULE_GUARDS) == set(policy.RULES), set(RULE_GUARDS) ^ set(policy.RULES)


@pytest.mark.harness
def test_rule_guards_are_the_ids_of_the_tests_that_rely_on_each_rule() -> None:
    """RULE_GUARDS is what test_chart_policy.py's tests carry for the rules they hold (a rule name
    as a string in the test), kept to the IDs a static test proves."""
    expected: dict[str, set[str]] = {rule: set() for rule in policy.RULES}
    for fn in relying.tests_in(Path(__file__).parent / "test_chart_policy.py"):
        rules = {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and n.value in policy.RULES}
        for rule in rules:
            expected[rule] |= relying.proved_at(relying.requirement_ids(fn), "static")
    actual = {rule: set(ids) for rule, ids in RULE_GUARDS.items()}
    expected["provenance"] = actual["provenance"]  # no chart test holds it; the command tests above do
    assert actual == expected, {r: (sorted(actual[r]), sorted(expected[r])) for r in actual if actual[r] != expected[r]}


@pytest.mark.harness
@pytest.mark.guards("FR-013", "FR-025")  # the limits and the budget are judged in parsed quantities
@pytest.mark.parametrize(
    ("quantity", "parse", "expected"),
    [
        ("384Mi", policy.memory_bytes, 384 * 1024**2),
        ("1Gi", policy.memory_bytes, 1024**3),
        ("500M", policy.memory_bytes, 500 * 1000**2),
        (134217728, policy.memory_bytes, 134217728),
        ("400m", policy.cpu_cores, 0.4),
        ("1.5", policy.cpu_cores, 1.5),
        (2, policy.cpu_cores, 2.0),
    ],
)
def test_quantities_parse_like_kubernetes(quantity: object, parse: Callable, expected: float) -> None:
    assert parse(quantity) == pytest.approx(expected)


@pytest.mark.harness
@pytest.mark.guards("FR-013", "FR-025")  # a quantity read as 0 would pass any limit and the budget
@pytest.mark.parametrize("bad", ["lots", "1GB", "-1Mi", ""])
def test_quantities_that_kubernetes_refuses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        policy.memory_bytes(bad)


@pytest.mark.requirement("US4-1", "US4-4", "FR-034")
def test_policy_command_passes_a_good_hand_written_manifest() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.kube.policy", str(GOOD)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.requirement("US4-1", "US4-4", "FR-033")
def test_policy_command_reports_each_finding_with_rule_and_requirement_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.kube.policy", str(GOOD), str(BAD)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith("finding(s) in 2 file(s)")
    findings = lines[:-1]
    assert all(line.startswith(f"{BAD}: ") for line in findings), "the good file must have no findings"
    expected = {
        "provenance": "FR-033",
        "resources": "FR-013",
        "liveness-probe": "FR-014",
        "readiness-probe": "FR-015",
        "rolling-update": "FR-016",
        "labels": "FR-017",
        "selector": "FR-017",
        "sensitive-env": "FR-021",
        "configmap-no-secrets": "FR-018",
        "image-tag": "FR-005",
        "non-root": "FR-008",
        "pss-restricted": "FR-008",
        "read-only-root": "FR-008",
        "service-account-token": "US4-3",
        "service-selects-pods": "FR-011",
        "resource-budget": "SC-010",
    }
    for rule, requirement in expected.items():
        assert any(
            f"[{rule}]" in line and requirement in line for line in findings
        ), f"no [{rule}] ({requirement}) line"
    assert any("DATABASE_URL from a literal value" in line for line in findings)
    assert any("JWT_SECRET from configMapKeyRef" in line for line in findings)


@pytest.mark.requirement("US4-4")
def test_policy_command_checks_helm_template_output_from_stdin() -> None:
    from harness.kube.helm import find_helm

    template = subprocess.run(
        [
            find_helm(),
            "template",
            "todo-chatbot",
            str(r.CHART_DIR),
            "--kube-version",
            "1.33.0",
            "-f",
            str(r.TEST_SECRETS_VALUES),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "harness.kube.policy", "-"],
        input=template.stdout,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.requirement("US4-4")
def test_policy_command_exits_2_on_an_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    result = subprocess.run(
        [sys.executable, "-m", "harness.kube.policy", str(broken), str(tmp_path / "absent.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot read" in result.stdout


@pytest.mark.harness
def test_every_rule_names_known_requirements() -> None:
    from verification.requirements import unknown_ids

    for rule in policy.RULES.values():
        assert rule.requirements and not unknown_ids(list(rule.requirements)), rule
