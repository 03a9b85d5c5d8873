"""Self-tests of the harness machinery: the requirement registry, the verdict rules and the report."""

from __future__ import annotations

import json
import re

import pytest

from harness.core.paths import REPO_ROOT
from verification import report, tiers, verdicts
from verification.requirements import SPEC_PATH, SpecMissing, registry, spec_sentences, unknown_ids
from verification.verdicts import BenchEvidence, Evidence, bench_evidence

pytestmark = pytest.mark.harness

# The specification lives in the repository: a missing one fails these tests, it never skips them.
SPEC = SPEC_PATH


def test_the_specification_is_in_the_repository():
    assert SPEC.is_relative_to(REPO_ROOT), f"{SPEC} is outside the repository: a clone would not have it"
    assert SPEC.is_file(), f"the specification is missing: {SPEC}"


def test_a_missing_specification_is_an_error_naming_the_file(tmp_path):
    gone = tmp_path / "spec.md"
    with pytest.raises(SpecMissing, match=f"the specification is missing: {re.escape(str(gone))}"):
        spec_sentences(gone)


def test_registry_lists_every_fr_and_sc_of_the_spec_in_order():
    spec_ids = re.findall(r"\*\*((?:FR|SC)-\d{3})\*\*", SPEC.read_text())
    ours = [rid for rid in registry() if rid.startswith(("FR-", "SC-"))]
    assert ours == spec_ids


def test_registry_counts_user_story_scenarios_and_edge_cases():
    ids = list(registry())
    assert [i for i in ids if i.startswith("US")] == [
        *(f"US1-{n}" for n in range(1, 5)), *(f"US2-{n}" for n in range(1, 6)),
        *(f"US3-{n}" for n in range(1, 5)), *(f"US4-{n}" for n in range(1, 5)),
    ]
    assert [i for i in ids if i.startswith("EC")] == [f"EC-{n}" for n in range(1, 8)]


def test_unknown_ids_are_reported():
    assert unknown_ids(["FR-001", "FR-999", "XX-1"]) == ["FR-999", "XX-1"]


def test_every_registry_id_finds_its_sentence_in_the_spec():
    sentences = spec_sentences(SPEC)
    assert [rid for rid in registry() if rid not in sentences] == []
    assert sentences["US1-1"].startswith("Given a clean Minikube cluster is running")
    assert sentences["EC-7"] == "What happens when multiple developers deploy to the same Minikube cluster?"
    assert registry()["FR-005"].sentence.startswith("Docker images MUST specify explicit base image versions")


def test_manual_requirements_have_a_checklist_and_artefacts():
    manual = [req for req in registry().values() if req.manual]
    assert {r.id for r in manual} >= {"US4-1", "US4-2", "FR-030", "FR-031", "FR-032", "FR-036", "SC-007", "SC-009"}
    assert all(r.checklist and r.artefacts for r in manual)


NO_BENCH = BenchEvidence("NOT RUN", "no benchmark report")
NOW = {"chart": "c1", "images": "i1", "harness": "h1", "tests": "t1", "docs": "d1", "other": "o1"}


def _record(rid: str, outcome: str, tier: str | None = "static", **extra) -> dict:
    return {"nodeid": f"verification/{tier}/t.py::test_{rid}_{outcome}_{tier}", "ids": [rid], "tier": tier,
            "outcome": outcome, "reason": "why" if outcome != "passed" else "", "duration_s": 0.1,
            "evidence": [], "figures": [], "guards": [], "fingerprint": NOW, **extra}


def _evidence(bench: BenchEvidence = NO_BENCH, **kwargs) -> Evidence:
    return Evidence(now=NOW, bench=bench, **kwargs)


@pytest.fixture
def no_outside_evidence(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "REPORTS", tmp_path)
    monkeypatch.setattr(report, "RAW", tmp_path / "acceptance")
    return tmp_path


def _statuses(records, bench=NO_BENCH, **evidence) -> dict[str, verdicts.Verdict]:
    return {row.requirement.id: row.verdict for row in report.build_rows(records, _evidence(bench, **evidence))}


def test_status_rules_follow_the_registered_tier(no_outside_evidence):
    assert registry()["FR-014"].tier == "cluster" and registry()["FR-005"].tier == "static"
    got = _statuses([
        _record("FR-001", "passed", "image"),                                     # image ID, image test
        _record("FR-005", "passed", "cluster"),                                   # static ID, stronger test
        _record("FR-002", "passed", "image"), _record("FR-002", "failed", "static"),  # any failure fails
        _record("FR-003", "skipped", "image"),                                    # only skips
        _record("FR-014", "passed", "static"), _record("FR-014", "skipped", "cluster"),  # weaker evidence only
        _record("FR-040", "passed", "docs"),
        _record("FR-041", "passed", "static"),                                    # docs needs docs
        _record("SC-004", "passed", "runtime"),                                   # load needs load
        _record("FR-030", "passed", "docs"),                                      # manual
        _record("SC-007", "failed", "docs"),                                      # manual with a failing test
    ])
    assert got["FR-001"].status == "PASS"
    assert got["FR-005"].status == "PASS"
    assert got["FR-002"].status == "FAIL" and "test_FR-002_failed_static" in got["FR-002"].reason
    assert (got["FR-003"].status, got["FR-003"].command) == ("NOT RUN", "make test-images")
    assert got["FR-014"].status == "NOT RUN" and got["FR-014"].command.startswith("make test-cluster")
    assert "only weaker evidence passed (static)" in got["FR-014"].reason
    assert got["FR-040"].status == "PASS"
    assert (got["FR-041"].status, got["FR-041"].command) == ("NOT RUN", ".venv/bin/pytest verification/docs")
    assert got["SC-004"].status == "NOT RUN" and "make load" in got["SC-004"].command
    assert got["FR-030"].status == "MANUAL" and "awaiting a person" in got["FR-030"].reason
    assert got["SC-007"].status == "FAIL"
    assert got["FR-036"].status == "MANUAL"  # manual, no test at all
    assert got["FR-006"].status == "UNCOVERED"


@pytest.mark.parametrize(("req_tier", "accepted"), [
    ("static", {"static", "image", "runtime", "cluster"}), ("image", {"image", "runtime", "cluster"}),
    ("runtime", {"runtime", "cluster"}), ("cluster", {"cluster"}), ("load", {"load"}), ("docs", {"docs"}),
    ("bench", set()),
])
def test_which_test_tiers_prove_which_requirement_tier(req_tier, accepted):
    names = ["static", "image", "runtime", "cluster", "load", "docs", "harness", None]
    assert {t for t in names if tiers.proves(req_tier, t)} == accepted


RECIPES = {"todo-backend": "aaa", "todo-frontend": "bbb"}


def _bench(tmp_path, rows) -> BenchEvidence:
    path = tmp_path / "bench-images.json"
    path.write_text(json.dumps(rows))
    return bench_evidence(path, RECIPES, budget_s=180)


def _bench_row(image: str, fingerprint: str, cold_s: float) -> dict:
    return {"image": image, "fingerprint": fingerprint, "cold_s": cold_s, "warm_s": 9.0, "size_mb": 200.0,
            "cold_ok": cold_s < 180, "when": "2026-02-01T10:00:00Z", "bases": "official"}


def test_bench_verdict(tmp_path):
    assert bench_evidence(tmp_path / "absent.json", RECIPES).status == "NOT RUN"
    fine = _bench(tmp_path, [{"image": "local bases (cold)", "seconds": 300},
                             _bench_row("todo-backend", "aaa", 90), _bench_row("todo-frontend", "bbb", 150)])
    assert fine.status == "PASS" and "todo-frontend 150" in fine.reason
    over = _bench(tmp_path, [_bench_row("todo-backend", "aaa", 200), _bench_row("todo-frontend", "bbb", 150)])
    assert over.status == "FAIL" and "todo-backend built cold in 200" in over.reason
    stale = _bench(tmp_path, [_bench_row("todo-backend", "aaa", 90), _bench_row("todo-frontend", "old", 150)])
    assert stale.status == "NOT RUN" and "todo-frontend" in stale.reason
    stale_over = _bench(tmp_path, [_bench_row("todo-backend", "old", 400), _bench_row("todo-frontend", "bbb", 150)])
    assert stale_over.status == "NOT RUN"  # a stale figure proves nothing either way


def test_sc_002_takes_its_verdict_from_the_benchmark(no_outside_evidence, tmp_path):
    assert registry()["SC-002"].tier == "bench"
    stale = _statuses([], BenchEvidence("NOT RUN", "no benchmark report"))["SC-002"]
    assert (stale.status, stale.command) == ("NOT RUN", "make bench-images")
    passing = _bench(tmp_path, [_bench_row("todo-backend", "aaa", 90), _bench_row("todo-frontend", "bbb", 150)])
    rows = report.build_rows([], _evidence(passing))
    sc002 = next(r for r in rows if r.requirement.id == "SC-002")
    assert sc002.status == "PASS" and any("cold build 90" in e for e in sc002.evidence)
    assert any(f.name == "todo-backend cold build" for f in report.figures([], passing))
    over = _bench(tmp_path, [_bench_row("todo-backend", "aaa", 200), _bench_row("todo-frontend", "bbb", 150)])
    assert _statuses([], over)["SC-002"].status == "FAIL"


def test_markdown_table_has_status_tier_evidence_and_the_spec_sentence(no_outside_evidence, tmp_path):
    rows = report.build_rows([_record("FR-001", "passed", "image"), _record("FR-014", "passed", "static")],
                             _evidence())
    out = tmp_path / "a.md"
    report.write_markdown(rows, out, verdicts.sign_off_verdict([r.verdict for r in rows], [], None))
    text = out.read_text()
    assert "| ID | Status | Tier | Evidence | Requirement |" in text and "**NOT SIGNED OFF**" in text
    assert re.search(r"^\| FR-001 \| PASS \| image \| 1 passed \| ", text, re.M)
    assert re.search(r"^\| FR-014 \| NOT RUN \| cluster \| 1 passed, 1 only weaker evidence; .*run `make test-cluster",
                     text, re.M)
    assert len([line for line in text.splitlines() if re.match(r"^\| (FR-|SC-|US\d-|EC-)", line)]) == len(registry())


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_html_folds_evidence_embeds_images_and_lists_figures(no_outside_evidence):
    reports = no_outside_evidence
    (reports / "screenshots").mkdir()
    (reports / "screenshots" / "login.png").write_bytes(PNG)
    (reports / "load").mkdir()
    (reports / "load" / "timeline.png").write_bytes(PNG)
    (reports / "load" / "summary.json").write_text(json.dumps({
        "users": 100, "requests": 5000, "failures": 0, "rps": 27.5, "p95_ms": 310, "signed_in_p95_ms": 280,
        "peak_memory_bytes": 900 * 2**20, "peak_cpu_cores": 1.4, "restarts": 0, "passed": True}))
    records = [
        _record("US1-2", "passed", "cluster", evidence=["screenshot: screenshots/login.png"],
                figures=[{"name": "time to Ready", "value": 41.2, "unit": "s"}]),
        _record("FR-014", "passed", "static"),
    ]
    rows = report.build_rows(records, _evidence())
    report.write_all(rows, records, _evidence())
    page = (reports / "acceptance.html").read_text()
    assert "<details><summary>" in page and "<table>" in page
    assert page.count("data:image/png;base64,") == 3  # the screenshot, the load chart under SC-004 and SC-010
    assert "src='http" not in page and "<link" not in page and "<script" not in page  # self-contained
    assert "time to Ready" in page and "p95 signed-in" in page and "peak memory" in page
    assert "weaker evidence: does not prove this ID" in page
    assert "make test-cluster CLUSTER=kind|local|context:NAME" in page
    assert "<h4>Checklist</h4>" in page and "make ai-manifests" in page
    assert registry()["US1-1"].sentence in page


def test_report_builds_with_no_results_at_all(no_outside_evidence, capsys, monkeypatch):
    from verification import acceptance

    monkeypatch.setattr(acceptance, "REPORTS", no_outside_evidence)
    monkeypatch.setattr(acceptance, "RAW", no_outside_evidence / "acceptance")
    monkeypatch.setattr(verdicts, "bench_evidence", lambda *a, **k: NO_BENCH)
    monkeypatch.setattr(report, "bench_evidence", lambda *a, **k: NO_BENCH)
    assert acceptance.main(["--only-report"]) == 1  # everything UNCOVERED
    out = capsys.readouterr().out
    assert "UNCOVERED: FR-001: no test carries this ID" in out
    assert "NOT RUN: SC-002: run `make bench-images`" in out
    assert "MANUAL: US4-1: awaiting a person" in out
    assert "NOT SIGNED OFF" in out
    assert (no_outside_evidence / "acceptance.html").exists() and (no_outside_evidence / "acceptance.md").exists()
