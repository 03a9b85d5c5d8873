"""The chart renders with the real Helm engine, lints clean and is schema-valid for Kubernetes 1.29–1.35."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from harness.kube import render as r
from harness.kube import schema as k8s_schema
from verification.static.cases import CASE_IDS, RENDER_CASES, rendered


@pytest.mark.requirement("SC-008", "FR-024", "FR-028", "FR-026")
@pytest.mark.parametrize("case", CASE_IDS)
def test_chart_renders_deployments_services_configmaps_and_secret(case: str) -> None:
    kinds = sorted({m["kind"] for m in r.installed(rendered(case))})
    expected = {"Deployment", "Service", "ConfigMap", "ServiceAccount"}
    if not RENDER_CASES[case][1].get("secrets.existingSecret") and case not in (
        "values-staging",
        "values-prod",
    ):
        expected.add("Secret")
    assert expected <= set(kinds), f"{case}: rendered kinds {kinds}"
    assert len(r.by_kind(rendered(case), "Deployment")) == 2


@pytest.mark.requirement("SC-008", "US4-3", "FR-034")
@pytest.mark.parametrize("values", ["defaults", *[p.stem for p in r.ENVIRONMENT_VALUES]])
def test_helm_lint_strict_is_clean(values: str) -> None:
    files, set_values = RENDER_CASES[values]
    result = r.lint(files, set_values, strict=True)
    assert result.returncode == 0, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith(("[WARNING]", "[ERROR]"))]
    assert not problems, "\n".join(problems)


@pytest.mark.requirement("SC-008", "FR-034")
@pytest.mark.parametrize("version", k8s_schema.SUPPORTED_VERSIONS)
def test_every_manifest_is_valid_against_strict_kubernetes_schemas(version: str) -> None:
    """The default values and the environment files render *for* each version (the preStop action
    differs); the --set matrix renders once and is validated against every version."""
    per_version = ("defaults", *(p.stem for p in r.ENVIRONMENT_VALUES))
    errors = []
    for case in CASE_IDS:
        kube_version = f"{version}.0" if case in per_version else r.DEFAULT_KUBE_VERSION
        for manifest in rendered(case, kube_version=kube_version):
            errors += [f"[{case}] {e}" for e in k8s_schema.validate(manifest, version)]
    assert not errors, "\n".join(errors)


# What the validator and the lint are the evidence for: the tests above that ask them.
SCHEMA_GUARDS = ("FR-034",)  # test_every_manifest_is_valid_against_strict_kubernetes_schemas
LINT_GUARDS = ("US4-3", "FR-034")  # test_helm_lint_strict_is_clean


@pytest.mark.harness  # the schema validator itself, not the chart
@pytest.mark.guards(*SCHEMA_GUARDS)
def test_schema_validation_catches_an_invalid_manifest() -> None:
    deploy = r.deployment(rendered("defaults"), "backend")
    r.container(deploy)["livenessProbe"]["httpGet"]["port"] = {"not": "a port"}
    deploy["spec"]["replicas"] = "two"
    deploy["spec"]["bogusField"] = True
    errors = "\n".join(k8s_schema.validate(deploy, "1.33"))
    assert "bogusField" in errors and "replicas" in errors and "livenessProbe" in errors, errors


@pytest.mark.harness  # the lint as the tier runs it, on a copy of the chart broken on purpose
@pytest.mark.guards(*LINT_GUARDS)
@pytest.mark.parametrize("defect", ["template-syntax", "chart-version"])
def test_helm_lint_reports_a_broken_chart(defect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / r.CHART_DIR.name
    shutil.copytree(r.CHART_DIR, broken)
    if defect == "template-syntax":
        path = broken / "templates" / "configmap.yaml"
        path.write_text(path.read_text() + "\n{{ if .Values.never }}\n")  # an {{ if }} without {{ end }}
    else:
        path = broken / "Chart.yaml"
        path.write_text(re.sub(r"(?m)^version:.*$", "version: not-a-version", path.read_text()))
    monkeypatch.setattr(r, "CHART_DIR", broken)
    files, set_values = RENDER_CASES["defaults"]
    result = r.lint(files, set_values, strict=True)
    errors = [line for line in result.stdout.splitlines() if line.startswith("[ERROR]")]
    assert result.returncode != 0 and errors, f"{defect}: helm lint passed a broken chart:\n{result.stdout}{result.stderr}"


@pytest.mark.harness
def test_schema_and_lint_guards_are_the_ids_of_the_tests_that_ask_them() -> None:
    from verification.static import relying

    here = Path(__file__)
    assert set(SCHEMA_GUARDS) == relying.relying_ids(here, "static", relying.using("k8s_schema.validate"))
    assert set(LINT_GUARDS) == relying.relying_ids(here, "static", relying.using("r.lint"))


@pytest.mark.requirement("SC-008", "FR-016")
def test_prestop_uses_sleep_action_from_130_and_exec_sleep_on_129() -> None:
    for version, expected in (("1.29.0", "exec"), ("1.30.0", "sleep"), ("1.35.0", "sleep")):
        for component in ("backend", "frontend"):
            pre_stop = r.container(r.deployment(rendered("defaults", kube_version=version), component))[
                "lifecycle"
            ]["preStop"]
            assert list(pre_stop) == [expected], f"{component} @ {version}: {pre_stop}"


@pytest.mark.requirement("SC-008", "FR-027")
def test_chart_refuses_kubernetes_older_than_129() -> None:
    error = r.render_error([r.TEST_SECRETS_VALUES], kube_version="1.28.0")
    assert error and "kubeVersion" in error and ">=1.29" in error, error
