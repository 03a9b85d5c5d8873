"""Outside judges: kube-score and Checkov on the rendered chart for every values file, against the allowlist.

The project's own policy (test_chart_policy.py) states what the chart must do; these scanners,
written by others, are second opinions. A finding that verification/static/scanner-allowlist.yaml
does not accept fails the tier, and so does an entry that no longer matches anything (stale), so the
allowlist stays the exact list of accepted findings, each with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kube import render as r
from harness.kube import scanners
from verification import tiers
from verification.static.scans import RENDERS, ScannerRuns

ALLOWLIST = Path(__file__).with_name("scanner-allowlist.yaml")


# The runs themselves, once per session and in the background: verification/static/scans.py.
@pytest.fixture(scope="module")
def kube_score_findings(scanner_runs: ScannerRuns) -> dict[str, list[scanners.Finding]]:
    if reason := tiers.scanner_missing("kube-score"):
        tiers.skip_or_fail("static", reason)
    return scanner_runs.findings("kube-score")


@pytest.fixture(scope="module")
def checkov_findings(scanner_runs: ScannerRuns) -> dict[str, list[scanners.Finding]]:
    if reason := tiers.scanner_missing("checkov"):
        tiers.skip_or_fail("static", reason)
    return scanner_runs.findings("checkov")


@pytest.fixture(scope="module")
def allowlist() -> list[scanners.Accepted]:
    return scanners.load_allowlist(ALLOWLIST)


def assert_judged(tool: str, found: dict[str, list[scanners.Finding]], allowlist, record_figure) -> None:
    for case, items in found.items():
        record_figure(f"{tool} findings ({case})", len(items), "findings")
    verdict = scanners.judge(found, allowlist, tool)
    new = [f"  [{case}] {f.line()}" for case, f in verdict.new]
    assert not new, (
        f"{tool} reports {len(new)} finding(s) the allowlist does not accept: fix the chart, or add an entry "
        f"with its reason to {ALLOWLIST.relative_to(r.CHART_DIR.parents[1])}\n" + "\n".join(new)
    )


def assert_not_stale(tool: str, found: dict[str, list[scanners.Finding]], allowlist) -> None:
    stale = [f"  {e.check} {obj} [{case}]" for e, case, obj in scanners.judge(found, allowlist, tool).stale]
    assert not stale, f"allowlisted {tool} findings that no longer occur (remove them):\n" + "\n".join(stale)


@pytest.mark.requirement("SC-008", "US4-3")
def test_kube_score_finds_nothing_beyond_the_allowlist_for_any_values_file(
    kube_score_findings, allowlist, record_figure
) -> None:
    assert_judged("kube-score", kube_score_findings, allowlist, record_figure)


@pytest.mark.requirement("SC-008", "US4-3")
def test_checkov_finds_nothing_beyond_the_allowlist_for_any_values_file(
    checkov_findings, allowlist, record_figure
) -> None:
    assert_judged("checkov", checkov_findings, allowlist, record_figure)


@pytest.mark.requirement("SC-008", "US4-3")
def test_no_kube_score_allowlist_entry_is_stale(kube_score_findings, allowlist) -> None:
    assert_not_stale("kube-score", kube_score_findings, allowlist)


@pytest.mark.requirement("SC-008", "US4-3")
def test_no_checkov_allowlist_entry_is_stale(checkov_findings, allowlist) -> None:
    assert_not_stale("checkov", checkov_findings, allowlist)


@pytest.mark.requirement("US4-4", "SC-008")
def test_every_allowlist_entry_names_its_check_objects_renders_and_reason(allowlist) -> None:
    assert allowlist
    for entry in allowlist:
        assert len(entry.reason) >= 40, f"{entry.check}: the reason must say why, not just that"
        assert all("/" in obj for obj in entry.objects), f"{entry.check}: objects are Kind/name"
        assert entry.renders is None or set(entry.renders) <= set(RENDERS), entry.renders


# What the scanners are the evidence for: the four tests above (SC-008, US4-3) pass when a scanner
# finds nothing beyond the allowlist, which a blind scanner or a judge that accepts everything does too.
SCANNER_GUARDS = ("US4-3",)


@pytest.mark.harness  # the scanner sees real problems: an empty answer must not pass as "clean"
@pytest.mark.guards(*SCANNER_GUARDS)
def test_kube_score_reports_the_bad_fixture(scanner_runs: ScannerRuns) -> None:
    if reason := tiers.scanner_missing("kube-score"):
        tiers.skip_or_fail("static", reason)
    checks = {f.check for f in scanner_runs.bad("kube-score")}
    assert {"container-resources", "container-security-context-user-group-id"} <= checks, checks


@pytest.mark.harness  # the scanner sees real problems: an empty answer must not pass as "clean"
@pytest.mark.guards(*SCANNER_GUARDS)
def test_checkov_reports_the_bad_fixture(scanner_runs: ScannerRuns) -> None:
    if reason := tiers.scanner_missing("checkov"):
        tiers.skip_or_fail("static", reason)
    found = scanner_runs.bad("checkov")
    assert {"CKV_K8S_8", "CKV_K8S_20", "CKV_K8S_28"} <= {f.check for f in found}, found


@pytest.mark.harness  # the judging, without the tools
@pytest.mark.guards(*SCANNER_GUARDS)
def test_judge_reports_new_findings_and_stale_entries() -> None:
    entry = scanners.Accepted("checkov", "CKV_K8S_43", ("Deployment/a", "Deployment/b"), ("prod",), "why " * 20)
    found = {
        "prod": [scanners.Finding("checkov", "CKV_K8S_43", "Deployment/a")],
        "dev": [scanners.Finding("checkov", "CKV_K8S_43", "Deployment/a")],
    }
    verdict = scanners.judge(found, [entry], "checkov")
    assert [(case, f.object) for case, f in verdict.new] == [("dev", "Deployment/a")]
    assert [(e.check, case, obj) for e, case, obj in verdict.stale] == [("CKV_K8S_43", "prod", "Deployment/b")]
    assert verdict.accepted == 1


@pytest.mark.harness
def test_scanner_guards_are_the_ids_of_the_tests_that_read_the_scanners() -> None:
    from verification.static import relying

    uses = relying.using("kube_score_findings", "checkov_findings")
    assert set(SCANNER_GUARDS) == relying.relying_ids(Path(__file__), "static", uses)
