"""Self-tests of the harness machinery: the requirement registry and the sign-off logic."""

from __future__ import annotations

import re

import pytest

from harness.core.paths import REPO_ROOT
from verification import acceptance
from verification.requirements import registry, unknown_ids

pytestmark = pytest.mark.harness

SPEC = REPO_ROOT.parent / "shared" / "spec" / "phase-iv-infrastructure-spec.md"


def test_registry_lists_every_fr_and_sc_of_the_spec_in_order():
    if not SPEC.exists():
        pytest.skip(f"the specification is not beside the checkout ({SPEC})")
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


def _record(rid: str, outcome: str) -> dict:
    return {"nodeid": f"t.py::test_{rid}_{outcome}", "ids": [rid], "tier": "static", "outcome": outcome,
            "reason": "why" if outcome != "passed" else "", "duration_s": 0.1, "evidence": []}


def test_status_rules(monkeypatch):
    monkeypatch.setattr(acceptance, "extra_evidence", lambda: {})
    records = [
        _record("FR-001", "passed"),
        _record("FR-002", "passed"), _record("FR-002", "failed"),
        _record("FR-003", "skipped"),
        _record("FR-004", "passed"), _record("FR-004", "skipped"),
        _record("FR-030", "passed"),  # a manual (process) requirement
    ]
    status = {row.requirement.id: row.status for row in acceptance.build_rows(records)}
    assert status["FR-001"] == "PASS"
    assert status["FR-002"] == "FAIL"
    assert status["FR-003"] == "NOT RUN"
    assert status["FR-004"] == "PASS"
    assert status["FR-030"] == "MANUAL"
    assert status["FR-005"] == "UNCOVERED"


def test_markdown_table_has_the_three_leading_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(acceptance, "extra_evidence", lambda: {})
    rows = acceptance.build_rows([_record("FR-001", "passed")])
    out = tmp_path / "a.md"
    acceptance.write_markdown(rows, acceptance.Counter(r.status for r in rows), out)
    text = out.read_text()
    assert "| ID | Status | Evidence |" in text
    assert re.search(r"^\| FR-001 \| PASS \| ✔ `test_FR-001_passed`", text, re.M)
    assert len([line for line in text.splitlines() if re.match(r"^\| (FR-|SC-|US\d-|EC-)", line)]) == len(registry())
