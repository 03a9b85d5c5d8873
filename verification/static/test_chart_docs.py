"""The chart documents itself: metadata, every value, supported Kubernetes versions, provenance of every file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from harness.kube import policy
from harness.kube import render as r
from harness.kube import schema as k8s_schema

CHART = r.CHART_DIR
AUTHORED = sorted(p for p in [*CHART.glob("*.yaml"), *CHART.rglob("templates/**/*")] if p.is_file()) + [
    CHART / "values.schema.json",
    CHART / "README.md",
]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@pytest.mark.requirement("FR-027")
def test_chart_yaml_has_semver_versions_and_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == CHART.name == "todo-chatbot"
    assert SEMVER.match(chart["version"]) and SEMVER.match(str(chart["appVersion"]))
    assert chart["type"] == "application" and len(chart["description"]) > 40
    assert chart["kubeVersion"] == f">={k8s_schema.SUPPORTED_VERSIONS[0]}.0-0"
    assert chart["home"] and chart["sources"] and chart["maintainers"][0]["name"]


def _leaves(node: object, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


@pytest.mark.requirement("US4-3", "FR-025", "FR-026")
def test_every_value_is_documented_with_a_param_line_and_every_param_exists() -> None:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    params = dict(re.findall(r"^\s*## @param (\S+) (.+)$", text, re.MULTILINE))
    leaves = set(_leaves(values))
    undocumented = sorted(
        leaf for leaf in leaves if leaf not in params and not any(leaf.startswith(p + ".") for p in params)
    )
    assert not undocumented, f"values without '## @param': {undocumented}"
    stale = sorted(
        p for p in params if p not in leaves and not any(leaf.startswith(p + ".") for leaf in leaves)
    )
    assert not stale, f"'## @param' lines for values that do not exist: {stale}"
    assert len(re.findall(r"^## @section ", text, re.MULTILINE)) >= 5


@pytest.mark.requirement("US4-3", "FR-026")
def test_values_schema_knows_every_value_in_values_yaml() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())

    def known(path: list[str], node: dict) -> bool:
        if not path:
            return True
        props = node.get("properties") or {}
        if path[0] in props:
            return known(path[1:], props[path[0]])
        return node.get("additionalProperties", True) is not False

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    unknown = [leaf for leaf in _leaves(values) if not known(leaf.split("."), schema)]
    assert not unknown, f"values.yaml keys the schema does not describe: {unknown}"


@pytest.mark.requirement("FR-033", "US4-4", "SC-009")
@pytest.mark.parametrize("path", AUTHORED, ids=[str(p.relative_to(CHART)) for p in AUTHORED])
def test_every_chart_file_starts_with_a_provenance_header_saying_how_and_why(path: Path) -> None:
    header = policy.provenance_of(path.read_text())
    assert (
        header is not None
    ), f"{path.name}: no '# provenance: generated-by=...; reviewed-by=...; reason=...' header"
    assert header.get("generated-by") in {"claude-code", "kubectl-ai", "hand"}, header
    assert header.get("reviewed-by"), header
    assert len(header.get("reason", "")) > 20, f"{path.name}: say why it was written this way: {header}"


@pytest.mark.requirement("SC-009")
def test_share_of_ai_drafted_chart_files_is_computable(record_property) -> None:
    headers = [policy.provenance_of(p.read_text()) or {} for p in AUTHORED]
    ai = sum(1 for h in headers if h.get("generated-by") in {"claude-code", "kubectl-ai"})
    share = ai / len(headers)
    record_property(
        "evidence",
        f"{ai}/{len(headers)} chart files drafted with AI tools ({share:.0%}, from their provenance headers); "
        f"kubectl-ai: {sum(1 for h in headers if h.get('generated-by') == 'kubectl-ai')} (not available on this machine)",
    )
    assert share >= 0.9


@pytest.mark.requirement("FR-016", "FR-027", "US4-3")
def test_readme_states_supported_kubernetes_versions_and_the_install_commands() -> None:
    readme = (CHART / "README.md").read_text()
    for version in k8s_schema.SUPPORTED_VERSIONS:
        assert version in readme, f"README.md does not mention Kubernetes {version}"
    assert "helm install" in readme and "secrets.existingSecret" in readme and "preStop" in readme
    params = re.findall(r"^\s*## @param (\S+)", (CHART / "values.yaml").read_text(), re.MULTILINE)
    missing = [p for p in params if f"`{p}`" not in readme]
    assert not missing, f"README.md parameter table lacks {missing[:5]}… (regenerate it from values.yaml)"


@pytest.mark.requirement("US4-3")
def test_values_schema_is_the_output_of_its_generator() -> None:
    import subprocess
    import sys

    tools = CHART.parent / "tools"
    generated = subprocess.run(
        [sys.executable, str(tools / "values_schema.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert (CHART / "values.schema.json").read_text() == generated, (
        "values.schema.json differs from chart/tools/values_schema.py: regenerate it with "
        "python chart/tools/values_schema.py > chart/todo-chatbot/values.schema.json"
    )


@pytest.mark.requirement("US4-3")
def test_readme_parameter_tables_are_the_output_of_their_generator() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_params", CHART.parent / "tools" / "readme_params.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tables = module.tables((CHART / "values.yaml").read_text())
    assert (
        tables in (CHART / "README.md").read_text()
    ), "README.md's parameter tables are stale: python chart/tools/readme_params.py, paste under '## Parameters'"
