"""A requirement's verdict from the tests that carry its ID: the one place for the tier rules.

An ID is proved only by evidence of its registered tier or a stronger one: a chart that
renders a liveness probe (static) does not show that a cluster restarts the container
(cluster). So a passing test counts as proof when its tier is accepted for the ID's tier;
otherwise it is shown as weaker evidence and the ID stays NOT RUN, with the command that
runs the missing tier.

* FAIL      a test carrying the ID failed (any tier, weaker ones too), or its benchmark is over budget
* MANUAL    a person signs it off with its checklist (``kind: manual``); its tests only support
* PASS      a test of an accepted tier passed (for ``bench``: the benchmark report, below)
* NOT RUN   evidence only from weaker tiers, or only skips, or no current benchmark
* UNCOVERED no test carries the ID at all
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness import contract
from harness.core.paths import REPO_ROOT
from verification.requirements import Requirement

STATUSES = ("PASS", "FAIL", "NOT RUN", "MANUAL", "UNCOVERED")

# The test tiers whose passing evidence proves an ID of the registered tier (the key).
ACCEPTED_TIERS: dict[str, tuple[str, ...]] = {
    "static": ("static", "image", "runtime", "cluster"),
    "image": ("image", "runtime", "cluster"),
    "runtime": ("runtime", "cluster"),
    "cluster": ("cluster",),
    "load": ("load",),
    "docs": ("docs",),
    "bench": (),  # only the benchmark report proves it
}

# What a person runs to get the evidence of each tier.
RUN_COMMANDS = {
    "static": "make static",
    "image": "make test-images",
    "runtime": "make test-runtime",
    "cluster": "make test-cluster CLUSTER=kind|local|context:NAME",
    "load": "make load  (or: .venv/bin/pytest -m load)",
    "docs": ".venv/bin/pytest verification/docs",
    "bench": "make bench-images",
}

BENCH_REPORT = REPO_ROOT / "reports" / "bench-images.json"


def proves(requirement_tier: str, test_tier: str | None) -> bool:
    """Whether a passing test of ``test_tier`` proves an ID registered at ``requirement_tier``."""
    return test_tier in ACCEPTED_TIERS[requirement_tier]


@dataclass(frozen=True)
class BenchEvidence:
    """The verdict of ``reports/bench-images.json`` on the current image recipes."""

    status: str  # PASS | FAIL | NOT RUN
    reason: str
    rows: list[dict] = field(default_factory=list)  # the rows that match the current recipes


def current_recipes() -> dict[str, str]:
    """Image name -> fingerprint of everything its cold build reads (build context and local base recipes)."""
    from harness.images.build import APPS, recipe_fingerprint

    return {app.image: recipe_fingerprint(name) for name, app in APPS.items()}


def bench_evidence(path: Path = BENCH_REPORT, recipes: dict[str, str] | None = None,
                   budget_s: float = contract.IMAGE_COLD_BUILD_BUDGET_S) -> BenchEvidence:
    """PASS when every image has a row for its current recipe built cold under the budget; FAIL
    when such a row is over it; NOT RUN when the report is absent or measured another recipe."""
    recipes = current_recipes() if recipes is None else recipes
    where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    if not path.exists():
        return BenchEvidence("NOT RUN", f"no benchmark report ({where})")
    try:
        rows = json.loads(path.read_text())
    except ValueError as exc:
        return BenchEvidence("NOT RUN", f"{where} is not readable JSON ({exc})")
    latest = {row["image"]: row for row in rows if isinstance(row, dict) and "fingerprint" in row}
    current = [row for image, row in latest.items() if recipes.get(image) == row["fingerprint"]]
    if over := [row for row in current if float(row["cold_s"]) >= budget_s]:
        said = ", ".join(f"{row['image']} built cold in {row['cold_s']} s" for row in over)
        return BenchEvidence("FAIL", f"{said}: over the {budget_s:.0f} s budget ({where})", current)
    if stale := [image for image in recipes if image not in {row["image"] for row in current}]:
        return BenchEvidence("NOT RUN", f"no benchmark of the current recipe of {', '.join(stale)} "
                                        f"(its build context or local base recipes changed since {where})", current)
    said = ", ".join(f"{row['image']} {row['cold_s']} s" for row in current)
    return BenchEvidence("PASS", f"cold builds {said} (budget {budget_s:.0f} s; {where}, "
                                 f"{max(str(row.get('when', '')) for row in current)})", current)


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str  # one line: why this status
    command: str | None = None  # NOT RUN: what runs the missing evidence


def _name(test: dict) -> str:
    return test["nodeid"].split("::", 1)[-1]


def verdict(requirement: Requirement, tests: list[dict], bench: BenchEvidence | None = None) -> Verdict:
    """The verdict of ``requirement`` from the test records carrying its ID (see the module doc)."""
    if failed := [t for t in tests if t["outcome"] == "failed"]:
        first = failed[0]
        return Verdict("FAIL", f"{_name(first)} ({first.get('tier') or 'no tier'}) failed: {first.get('reason', '')}")
    if requirement.manual:
        return Verdict("MANUAL", "a person signs it off: follow its checklist in reports/acceptance.html")
    tier = requirement.tier
    if tier == "bench":
        bench = bench or bench_evidence()
        return Verdict(bench.status, bench.reason, RUN_COMMANDS["bench"] if bench.status == "NOT RUN" else None)
    if not tests:
        return Verdict("UNCOVERED", "no test carries this ID")
    passed = [t for t in tests if t["outcome"] == "passed"]
    if proof := [t for t in passed if proves(tier, t.get("tier"))]:
        return Verdict("PASS", f"{len(proof)} test(s) of the {tier} tier or stronger passed")
    reasons = []
    if passed:
        weaker = sorted({t.get("tier") or "no tier" for t in passed})
        reasons.append(f"only weaker evidence passed ({', '.join(weaker)})")
    skipped = [t for t in tests if t["outcome"] != "passed" and proves(tier, t.get("tier"))]
    if skipped and skipped[0].get("reason"):
        reasons.append(f"skipped: {skipped[0]['reason']}")
    reasons.append(f"the {tier} tier did not run")
    return Verdict("NOT RUN", "; ".join(reasons), RUN_COMMANDS[tier])
