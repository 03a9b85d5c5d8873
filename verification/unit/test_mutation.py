"""Self-tests of the mutation runner (harness/mutation) and its catalogue (verification/mutants.yaml).

The runner is run for real on a tiny chart made here: one mutant a tiny test kills, one it
misses, one marked equivalent; the score, the report (Stryker's schema) and the clean-up are
checked. The catalogue is checked against the requirement registry: every spec ID a repository
file can break has a mutant aimed at it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.core.paths import REPO_ROOT
from harness.mutation import catalogue, report, scratch
from verification.requirements import registry

# IDs no file of this repository can break in a way a test run of a mutant could see, each with
# the reason. Anything else in the registry needs a mutant aimed at it.
NOT_BREAKABLE_BY_A_FILE = {
    "US4-1": "manual (kubectl-ai drafts a Deployment): the repository's part is the policy checker, harness "
             "code guarded by its own self-tests (test_policy_checker.py), not a product file",
    "US4-2": "manual (kagent on a failing pod): the repository's part is make diagnose, harness code guarded "
             "by test_diagnose_rules.py",
    "EC-1": "the cause and fix come from harness/diagnose's rules (harness code, unit-tested and run live); "
            "the docs' Pending row is mutated under FR-042, whose test also finds the symptom in the edge-case list",
    "EC-5": "as EC-1: the diagnosis is harness code; the ImagePullBackOff row is named twice in Troubleshooting",
    "FR-036": "manual (Docker Desktop): a person runs the cluster tier there; its docs section is under FR-040",
    "SC-002": "bench evidence (make bench-images times cold builds), no test a mutant could fail",
    "SC-004": "the load tier's 100-user run on a cluster takes minutes per run: not run per mutant; the chart "
              "settings it depends on (probes, limits, replicas) are mutated under FR-013/FR-014/FR-015/SC-010",
}

# The part of Stryker's mutation-testing report schema (mutation-testing-report-schema, schemaVersion 2)
# that a viewer needs: required keys and the status values.
STRYKER_SUBSET = {
    "type": "object",
    "required": ["schemaVersion", "thresholds", "files"],
    "properties": {
        "schemaVersion": {"type": "string", "pattern": r"^2"},
        "thresholds": {"type": "object", "required": ["high", "low"]},
        "files": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["language", "source", "mutants"],
            "properties": {"mutants": {"type": "array", "items": {
                "type": "object", "required": ["id", "mutatorName", "location", "status"],
                "properties": {
                    "status": {"enum": ["Killed", "Survived", "NoCoverage", "CompileError", "RuntimeError",
                                        "Timeout", "Ignored", "Pending"]},
                    "location": {"type": "object", "required": ["start", "end"]},
                    "killedBy": {"type": "array", "items": {"type": "string"}},
                }}}}}},
    },
}


def test_every_spec_id_a_file_can_break_has_a_mutant_aimed_at_it() -> None:
    mutants = catalogue.load(catalogue.CATALOGUE, set(registry()))
    aimed = {rid for m in mutants if not m.equivalent for rid in m.ids}
    missing = sorted(set(registry()) - aimed - set(NOT_BREAKABLE_BY_A_FILE))
    assert not missing, f"no mutant aimed at {missing}: add one to verification/mutants.yaml"
    assert set(NOT_BREAKABLE_BY_A_FILE) <= set(registry())
    stale = sorted(set(NOT_BREAKABLE_BY_A_FILE) & aimed)
    assert not stale, f"{stale} now have mutants: drop them from NOT_BREAKABLE_BY_A_FILE"


def test_catalogue_has_80_mutants_each_edit_applying_exactly_once() -> None:
    mutants = catalogue.load(catalogue.CATALOGUE, set(registry()))
    assert len([m for m in mutants if not m.equivalent]) >= 80
    for m in mutants:
        if m.kind == "text":
            count = (REPO_ROOT / m.target).read_text().count(str(m.find))
            assert count == 1, f"{m.id}: its text occurs {count} times in {m.target}"


def test_catalogue_refuses_malformed_entries(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    entry = {"id": "x", "category": "c", "ids": ["FR-011"], "tier": "static", "why": "w"}
    for bad, message in (({**entry, "tier": "someday", "values": {"a": 1}}, "tier"),
                         ({**entry, "ids": ["FR-999"], "values": {"a": 1}}, "unknown spec IDs"),
                         ({**entry, "values": {"a": 1}, "file": "f", "find": "a", "replace": "b"}, "either"),
                         ({**entry, "file": "f", "find": "a", "replace": "a"}, "equals"),
                         ({**entry, "values": {"a": 1}, "accepted": "fine"}, "reason"),
                         ({**entry, "values": {"a": 1}, "accepted": "a reason long enough to read",
                           "equivalent": "another reason long enough"}, "not both")):
        path.write_text(yaml.safe_dump({"mutants": [bad]}))
        with pytest.raises(catalogue.CatalogueError, match=message):
            catalogue.load(path, set(registry()))


TINY_TEST = '''
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.kube.helm import find_helm

CHART = Path(__file__).resolve().parents[1] / "chart" / "tiny"


@pytest.mark.static
@pytest.mark.requirement("FR-011")
def test_the_service_listens_on_8080():
    out = subprocess.run([find_helm(), "template", "t", str(CHART)], capture_output=True, text=True, check=True)
    service = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Service")
    assert service["spec"]["ports"][0]["port"] == 8080
'''

TINY_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: tiny
  annotations:
    replicas: {{ .Values.replicas | quote }}
spec:
  # the one port
  ports:
    - port: {{ .Values.port }}
"""


def _tiny_tree(root: Path) -> None:
    (root / "chart" / "tiny" / "templates").mkdir(parents=True)
    (root / "chart" / "tiny" / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (root / "chart" / "tiny" / "values.yaml").write_text("port: 8080\nreplicas: 1\n")
    (root / "chart" / "tiny" / "templates" / "service.yaml").write_text(TINY_SERVICE)
    (root / "tests").mkdir()
    (root / "tests" / "test_tiny.py").write_text(TINY_TEST)
    (root / "conftest.py").write_text('pytest_plugins = ["verification.plugin", "verification.results"]\n')
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-ra"\n')


def test_runner_kills_one_mutant_of_a_tiny_chart_misses_one_and_leaves_nothing(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tiny_tree(tree)
    mutants = tmp_path / "mutants.yaml"
    mutants.write_text(yaml.safe_dump({"mutants": [
        {"id": "port-9090", "category": "wiring", "ids": ["FR-011"], "tier": "static", "why": "wrong port",
         "file": "chart/tiny/values.yaml", "find": "port: 8080", "replace": "port: 9090"},
        {"id": "port-7070-by-values", "category": "wiring", "ids": ["FR-011"], "tier": "static",
         "why": "wrong port, as a values override (reaches the test's helm through the wrapper)", "values": {"port": 7070}},
        {"id": "three-replicas", "category": "rollout", "ids": ["FR-011"], "tier": "static", "why": "no test looks",
         "values": {"replicas": 3}},
        {"id": "comment", "category": "docs", "ids": ["FR-011"], "tier": "static", "why": "a comment",
         "file": "chart/tiny/templates/service.yaml", "find": "# the one port", "replace": "# the port",
         "equivalent": "a comment: helm drops it, nothing rendered changes"},
        {"id": "five-replicas-accepted", "category": "rollout", "ids": ["FR-011"], "tier": "static",
         "why": "no test looks either", "values": {"replicas": 5},
         "accepted": "an annotation no consumer reads: a reviewer accepts it (here: to test the field)"},
    ]}))
    out = tmp_path / "mutation.json"
    # The runner's scratch copies go to a temporary folder of this test's own, so another run of the
    # runner on the machine (make mutate) cannot make the check below pass or fail.
    scratch_base = tmp_path / "scratch"
    scratch_base.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "harness.mutation", "--root", str(tree), "--catalogue", str(mutants),
         "--chart", "chart/tiny", "--chart-values", "", "--test-root", "tests", "--report", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "TMPDIR": str(scratch_base)})
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, STRYKER_SUBSET)
    found = {m["id"]: m for f in data["files"].values() for m in f["mutants"]}
    assert found["port-9090"]["status"] == "Killed"
    assert found["port-9090"]["killedBy"] == ["tests/test_tiny.py::test_the_service_listens_on_8080"]
    assert found["port-7070-by-values"]["status"] == "Killed"
    assert found["three-replicas"]["status"] == "Survived"
    assert found["comment"]["status"] == "Ignored"
    assert found["five-replicas-accepted"]["status"] == "Survived"
    assert found["five-replicas-accepted"]["accepted"].startswith("an annotation")
    # An accepted survivor still counts against the score, but is not a survivor of the ID.
    assert data["scores"]["overall"]["killed"] == 2 and data["scores"]["overall"]["total"] == 4
    assert data["scores"]["overall"]["score"] == 50.0
    assert report.per_requirement(out) == {"FR-011": {"killed": 2, "total": 4, "survivors": [
        {"id": "three-replicas", "diff": "extra values file:\nreplicas: 3", "why": "no test looks"}], "accepted": [
        {"id": "five-replicas-accepted", "diff": "extra values file:\nreplicas: 5", "why": "no test looks either",
         "accepted": "an annotation no consumer reads: a reviewer accepts it (here: to test the field)"}]}}
    assert report.fingerprint(out) and set(report.fingerprint(out)) >= {"chart", "tests"}
    assert "port: 8080" in (tree / "chart" / "tiny" / "values.yaml").read_text()  # the tree itself untouched
    assert list(scratch_base.glob(scratch.PREFIX + "*")) == [], "a scratch copy outlived its run"
    lines = [line for line in run.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 5, run.stdout  # one progress line per mutant


def test_the_ci_sample_names_catalogue_mutants_one_per_heavier_tier() -> None:
    """.ci/run's sample must keep naming real mutants (a renamed one would make `make mutate` refuse
    the run), one of each tier the static set does not cover."""
    text = (REPO_ROOT / ".ci" / "run").read_text()
    sample = re.search(r"ONLY=([\w,-]+)", text)
    assert sample and "TIER=static STRICT=1" in text, ".ci/run runs the static set and a sample, strictly"
    by_id = {m.id: m for m in catalogue.load(catalogue.CATALOGUE, set(registry()))}
    named = sample.group(1).split(",")
    assert set(named) <= set(by_id), f"unknown mutants in .ci/run: {sorted(set(named) - set(by_id))}"
    assert sorted(by_id[n].tier for n in named) == ["cluster", "image", "runtime"]
    assert not any(by_id[n].equivalent or by_id[n].accepted for n in named)
