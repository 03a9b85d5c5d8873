"""The policy checker itself: it flags each kind of defect, and works as a command on any file (US4-1, US4-4)."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from harness.kube import policy
from harness.kube import render as r
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
@pytest.mark.parametrize("defect", list(MUTATIONS))
def test_policy_flags_a_single_defect_with_the_rule_it_breaks(defect: str) -> None:
    mutate, rule = MUTATIONS[defect]
    manifests = copy.deepcopy(rendered("defaults"))
    mutate(manifests)
    rules = {f.rule.name for f in policy.check(manifests)}
    assert rule in rules, f"{defect}: expected [{rule}], got {sorted(rules)}"


@pytest.mark.harness
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
