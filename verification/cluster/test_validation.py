"""The chart's manifests pass the real API server's validation: rendered with the default values and
with each values-*.yaml the chart ships, applied with ``kubectl apply --dry-run=server`` to a fresh
namespace. The server runs its schema validation, defaulting and admission on every object and
stores nothing — except the chart's ServiceAccounts, applied for real first in that throwaway
namespace: a dry run stores nothing, so the admission of the chart's own ``helm test`` Pod would
otherwise not find the ServiceAccount it runs as (Helm installs it first too).
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from harness.core.paths import CHART_DIR
from harness.kube import render

CASES = {"defaults": (render.TEST_SECRETS_VALUES,),
         **{path.stem: (render.TEST_SECRETS_VALUES, path) for path in render.ENVIRONMENT_VALUES}}
APPLIED = re.compile(r"^(?P<kind>[\w.-]+)/(?P<name>\S+) (created|configured|unchanged) \(server dry run\)$")


@pytest.mark.requirement("SC-008", "FR-034")
@pytest.mark.parametrize("case", list(CASES))
def test_the_chart_with_each_shipped_values_file_passes_a_server_side_dry_run(cluster, namespace_factory, case,
                                                                              record_property):
    assert len(CASES) >= 2, f"no values-*.yaml found beside the chart in {CHART_DIR}"
    namespace = namespace_factory("todo-dry-run")
    values = [arg for path in CASES[case] for arg in ("-f", str(path))]
    # What a user adds beside values-staging.yaml / values-prod.yaml: the database's addresses (issue 27).
    values += render.helm_args((), render.ENVIRONMENT_TEST_SET)
    rendered = cluster.target.helm("template", "todo", str(CHART_DIR), "-n", namespace, *values,
                                   "--kube-version", cluster.server_version.lstrip("v").split("+")[0])
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    assert documents, f"{case}: the chart rendered nothing"
    accounts = [d for d in documents if d["kind"] == "ServiceAccount"]
    if accounts:
        cluster.target.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(accounts), timeout=120)
    result = subprocess.run(
        cluster.target.kubectl_argv("apply", "--dry-run=server", "-n", namespace, "-f", "-"),
        input=rendered, capture_output=True, text=True, check=False, timeout=180)
    assert result.returncode == 0, f"{case}: kubectl apply --dry-run=server exited {result.returncode}:\n{result.stderr}"
    assert not result.stderr.strip(), f"{case}: the server answered with errors or warnings:\n{result.stderr}"
    applied = [m.group("kind", "name") for line in result.stdout.splitlines() if (m := APPLIED.match(line.strip()))]
    want = sorted((d["kind"].lower(), d["metadata"]["name"]) for d in documents)
    got = sorted((kind.split(".")[0], name) for kind, name in applied)
    assert got == want, f"{case}: the server accepted {got}, the chart rendered {want}:\n{result.stdout}"
    record_property("evidence", f"{case}: {len(documents)} objects accepted by the API server "
                                f"{cluster.server_version} (kubectl apply --dry-run=server), no error or warning")
