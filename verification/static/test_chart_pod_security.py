"""The chart's pods are admitted in the harness's test namespaces, which enforce Pod Security
"restricted" (issue 27, harness.deploy.namespaces): every render case, the ``helm test`` pod included,
and the previous release's chart, which the upgrade tests install there too.

A self-test of the harness's set-up, not a proof of a spec ID (the chart's own security rules are
test_chart_policy.py's, under FR-008): a failure here means the cluster tier would be refused its
pods by admission, whatever the chart's other merits.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from harness.deploy.upgrade import CHART_YAML, previous_ref
from harness.kube import pod_security as pss
from harness.kube import render as r
from harness.kube.manifests import pod_spec
from verification.static.cases import CASE_IDS, rendered

pytestmark = pytest.mark.harness


def _refusals(manifests) -> list[str]:
    return [f"{m['kind']}/{m['metadata']['name']}: {v}"
            for m in manifests if pod_spec(m) is not None for v in pss.manifest_violations(m)]


@pytest.mark.parametrize("case", CASE_IDS)
def test_every_pod_of_the_chart_passes_restricted(case: str) -> None:
    manifests = rendered(case)
    assert any(pod_spec(m) is not None for m in manifests), f"[{case}] no pod rendered: nothing was checked"
    assert not _refusals(manifests), f"[{case}] Pod Security 'restricted' would refuse:\n" + "\n".join(_refusals(manifests))


def test_the_previous_releases_chart_passes_restricted_too(tmp_path: Path) -> None:
    """The upgrade tests install it into a restricted namespace before upgrading it."""
    try:
        ref = previous_ref(REPO_ROOT, CHART_YAML)
    except Exception as exc:  # noqa: BLE001 - no history (a shallow clone): the upgrade tests say so themselves
        pytest.skip(f"no previous release to check: {exc}")
    chart_dir = (REPO_ROOT / CHART_YAML).parent.relative_to(REPO_ROOT)
    archive = tmp_path / "chart.tar"
    archive.write_bytes(subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref.commit, str(chart_dir)],
                                       capture_output=True, check=True).stdout)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    manifests = r.render((r.TEST_SECRETS_VALUES,), chart=tmp_path / chart_dir)
    assert not _refusals(manifests), (f"the previous release {ref.name}'s chart: Pod Security 'restricted' would "
                                      f"refuse:\n" + "\n".join(_refusals(manifests)))
