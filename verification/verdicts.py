"""A requirement's verdict from its evidence: the one place for the sign-off's rules.

An ID is proved only by evidence of its registered tier or a stronger one (the tier table,
verification/tiers.py): a chart that renders a liveness probe (static) does not show that a
cluster restarts the container (cluster). Every way of being green while something did not hold
is closed here, in this order:

* STALE     a result (or a person's signature) was measured on another tree than this one
* FAIL      a test carrying the ID failed (any tier, weaker ones too); a checker's self-test that
            guards the ID failed (a blind checker signs nothing off); a stage whose tests prove the
            ID's tier exited non-zero and left it unproved; its benchmark or load gate failed; a
            person signed it off as failed
* MANUAL    a person signs it off with its checklist (``kind: manual``): awaiting, or signed
* NOT RUN   a test of the ID's tier did not pass (skipped, deselected, never reached: *every*
            test of that tier must pass, one passing sibling is not enough), only weaker evidence
            passed, a guarding self-test did not run, or the benchmark / load run is missing
* WEAK      all of the above held, but a seeded defect aimed at the ID survived its tests (a current
            mutation report, ``make mutate``): the tests pass on a broken chart or app too
* PASS      all of the above held, for each tier the ID names
* UNCOVERED no test carries the ID at all
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness import contract
from harness.core.paths import REPO_ROOT
from verification.fingerprint import changed_parts
from verification.requirements import Requirement
from verification.tiers import proves, run_command

STATUSES = ("PASS", "WEAK", "FAIL", "STALE", "NOT RUN", "MANUAL", "UNCOVERED")
GREEN = ("PASS", "MANUAL")  # MANUAL is green only for the exit code: the report lists what awaits a person

BENCH_REPORT = REPO_ROOT / "reports" / "bench-images.json"
REFRESH = "make acceptance"


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str  # one line: why this status
    command: str | None = None  # NOT RUN / STALE: what runs the missing evidence
    missing: str | None = None  # NOT RUN: the tier (or "bench", "load-run") whose evidence is missing


# --- evidence outside the tests ------------------------------------------------------------------
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
class LoadRun:
    """The acceptance load run (`make load` on the cluster, 3 minutes): its exit code, the tree it
    ran on and load/budget_gate.py's summary (None when it wrote none)."""

    exit_code: int
    fingerprint: dict[str, str]
    summary: dict | None


LOAD_RUN_COMMAND = "make load CLUSTER=local|kind|context:NAME"
LOAD_RUN = "load-run"  # what a load ID misses when the acceptance load run on a cluster is missing


def load_run_verdict(rid: str, run: LoadRun | None, now: dict[str, str]) -> Verdict | None:
    """What the acceptance load run says of a load-tier ID (None: it holds). The gate's exit code
    is the verdict: a summary that exists proves nothing by itself. Only a run on a cluster is a
    deployment; the Docker stack's run is weaker evidence. SC-010's budget must be *measured*: a
    run under the chart's limits is capped by them, so the summed real peak of a run with the
    limits lifted must be below the budget."""
    if run is None:
        return Verdict("NOT RUN", "the acceptance load run did not run", LOAD_RUN_COMMAND, LOAD_RUN)
    if parts := changed_parts(run.fingerprint, now):
        return Verdict("STALE", f"the load run measured another tree ({', '.join(parts)} changed since)", REFRESH)
    summary = run.summary
    if summary is None:
        return Verdict("FAIL", f"the load run exited {run.exit_code} and wrote no summary "
                               "(log: reports/acceptance/load-run.log)")
    if summary.get("sampled_from") != "kubelet":
        return Verdict("NOT RUN", f"the load run went to the {summary.get('sampled_from') or 'Docker'} stack, "
                                  "not a deployment on a cluster (weaker evidence)", LOAD_RUN_COMMAND, LOAD_RUN)
    criteria = summary.get("criteria") or {}
    per_id = summary.get("requirements")
    if per_id is not None:  # the gate says which criteria decide which requirement
        if rid not in per_id:
            return Verdict("NOT RUN", f"the load run did not measure {rid}", LOAD_RUN_COMMAND, LOAD_RUN)
        failed = [name for name in per_id[rid].get("criteria", ()) if not criteria.get(name)]
        held = bool(per_id[rid].get("passed")) and not failed
    else:
        failed = [name for name, ok in criteria.items() if not ok]
        held = bool(summary.get("passed")) and not failed and run.exit_code == 0
    if not held:
        return Verdict("FAIL", f"the load gate failed for {rid} (exit {run.exit_code}; failed: "
                               f"{', '.join(failed) or '?'}; reports/load/summary.json)")
    if rid == "SC-010":
        budget = summary.get("budget") or {}
        if not budget.get("limits_lifted"):
            return Verdict("NOT RUN", "the budget was not measured with the chart's limits lifted (usage under "
                                      "limits is capped by them: it proves nothing)", LOAD_RUN_COMMAND, LOAD_RUN)
        if not budget.get("within"):
            return Verdict("FAIL", f"measured peak {(budget.get('peak_memory_bytes') or 0) / 2**20:.0f} MiB / "
                                   f"{budget.get('peak_cpu_cores')} cores is not below the budget")
    return None


@dataclass(frozen=True)
class StageResult:
    """One stage of a `make acceptance` run: a non-zero exit fails the sign-off."""

    name: str
    exit_code: int
    log: str
    proves: tuple[str, ...] = ()  # the requirement tiers its tests prove
    duration_s: float | None = None  # how long it ran (the reused run's time when reused)
    reused: str | None = None  # reused: the date of the passing run whose results it kept (verification/reuse.py)

    @property
    def failed(self) -> bool:
        return self.exit_code != 0


@dataclass
class Evidence:
    """Everything besides the ID's own test records that its verdict reads."""

    now: dict[str, str]  # the tree's fingerprint now
    bench: BenchEvidence = field(default_factory=lambda: BenchEvidence("NOT RUN", "no benchmark report"))
    load_run: LoadRun | None = None
    stages: list[StageResult] = field(default_factory=list)
    signatures: dict = field(default_factory=dict)  # ID → verification.signoff.Signature
    # ID → {"killed", "total", "survivors": [{"id", "diff", "why"}]} of a mutation report of this
    # very tree (harness.mutation.report.per_requirement); None: no current report
    mutants: dict[str, dict] | None = None


# --- the verdict --------------------------------------------------------------------------------
def _name(test: dict) -> str:
    return test["nodeid"].split("::", 1)[-1]


def _said(test: dict) -> str:
    reason = f": {test['reason']}" if test.get("reason") else ""
    return f"{_name(test)} ({test.get('tier') or 'no tier'}) {test['outcome']}{reason}"


def verdict(requirement: Requirement, tests: list[dict], evidence: Evidence,
            guards: list[dict] | None = None) -> Verdict:
    """The verdict of ``requirement`` from the test records carrying its ID, the self-tests of the
    checkers that guard it and the evidence beside them (see the module doc for the order)."""
    guards = guards or []
    if stale := [t for t in [*tests, *guards] if changed_parts(t.get("fingerprint"), evidence.now)]:
        parts = sorted({p for t in stale for p in changed_parts(t.get("fingerprint"), evidence.now)})
        return Verdict("STALE", f"{len(stale)} result(s) of another tree ({', '.join(parts)} changed since "
                                f"the run, e.g. {_name(stale[0])})", REFRESH)
    if failed := [t for t in tests if t["outcome"] == "failed"]:
        return Verdict("FAIL", f"{_said(failed[0])}")
    if blind := [t for t in guards if t["outcome"] == "failed"]:
        return Verdict("FAIL", f"the checker this ID relies on is blind: its self-test {_said(blind[0])}")
    if requirement.manual:
        from verification.signoff import signature_verdict

        return signature_verdict(requirement.id, evidence.signatures.get(requirement.id), evidence.now)
    found = _tier_verdicts(requirement, tests, evidence)
    if unrun := [t for t in guards if t["outcome"] != "passed"]:
        found.append(Verdict("NOT RUN", f"the self-test of the checker it relies on did not pass: {_said(unrun[0])}",
                             ".venv/bin/pytest verification -m harness", "harness"))
    for status in ("FAIL", "STALE", "NOT RUN", "UNCOVERED"):
        worst = next((v for v in found if v.status == status), None)
        if worst is not None and status in ("NOT RUN", "UNCOVERED"):
            return _stage_failure(requirement, evidence) or worst
        if worst is not None:
            return worst
    passed = [t for t in tests if t["outcome"] == "passed" and any(proves(tier, t.get("tier"))
                                                                     for tier in requirement.tiers)]
    said = [f"{len(passed)} test(s) of the {requirement.tier} tier or stronger passed, none skipped"] if passed else []
    if guards:
        said.append(f"the self-tests of the checkers it relies on passed ({len(guards)})")
    said.extend(v.reason for v in found if v.status == "PASS")
    scored = (evidence.mutants or {}).get(requirement.id)
    if scored and scored["survivors"]:
        first = scored["survivors"][0]
        return Verdict("WEAK", f"mutants killed {scored['killed']}/{scored['total']}: {first['id']} survived "
                               f"({first['why']}); " + "; ".join(said), "make mutate ONLY=" + ",".join(
                                   m["id"] for m in scored["survivors"]))
    if scored:
        said.append(f"mutants killed {scored['killed']}/{scored['total']}")
        said.extend(f"accepted survivor {m['id']}: {m['accepted']}" for m in scored.get("accepted", []))
    return Verdict("PASS", "; ".join(said))


def _tier_verdicts(requirement: Requirement, tests: list[dict], evidence: Evidence) -> list[Verdict]:
    """One verdict per tier the ID names (PASS with a reason, or what is missing)."""
    found: list[Verdict] = []
    for tier in requirement.tiers:
        if tier == "bench":
            bench = evidence.bench
            found.append(Verdict(bench.status, bench.reason, run_command("bench") if bench.status == "NOT RUN" else None,
                                 "bench"))
            continue
        proving = [t for t in tests if proves(tier, t.get("tier"))]
        # The tests of exactly the ID's tier are the ones that must all pass; a stronger tier's
        # test that skipped is extra evidence missing, not proof missing (unless it is all there is).
        siblings = [t for t in proving if t.get("tier") == tier] or proving
        unrun = [t for t in siblings if t["outcome"] != "passed"]
        weaker = sorted({t.get("tier") or "no tier" for t in tests
                         if t["outcome"] == "passed" and not proves(tier, t.get("tier"))})
        said = [f"only weaker evidence passed ({', '.join(weaker)})"] if weaker and (unrun or not siblings) else []
        if not tests:
            found.append(Verdict("UNCOVERED", "no test carries this ID", run_command(tier)))
        elif unrun:
            more = f" (and {len(unrun) - 1} more)" if len(unrun) > 1 else ""
            said.append(f"{_said(unrun[0])}{more}: every test of the {tier} tier must pass")
            found.append(Verdict("NOT RUN", "; ".join(said), run_command(tier), tier))
        elif not siblings:
            said.append(f"no test of the {tier} tier carries it")
            found.append(Verdict("NOT RUN", "; ".join(said), run_command(tier), tier))
        if tier == "load" and (held := load_run_verdict(requirement.id, evidence.load_run, evidence.now)):
            found.append(held)
    return found


def _stage_failure(requirement: Requirement, evidence: Evidence) -> Verdict | None:
    """An ID left unproved by a stage that failed (killed, a collection error, a crash before the
    results were written) is a FAIL of that stage, not a NOT RUN."""
    for stage in evidence.stages:
        if stage.failed and set(requirement.tiers) & set(stage.proves):
            return Verdict("FAIL", f"stage {stage.name} exited {stage.exit_code} and left it unproved (log: {stage.log})")
    return None


# --- the sign-off as a whole ------------------------------------------------------------------------
@dataclass(frozen=True)
class SignOff:
    """The verdict of the whole run: signed off only when no stage failed and every requirement is
    PASS or MANUAL (NOT RUN too, but only where this machine cannot run the missing tier)."""

    signed: bool
    reasons: list[str]  # why not, one line each


def sign_off_verdict(verdicts: list[Verdict], stages: list[StageResult], cannot_run: dict[str, str] | None) -> SignOff:
    """``cannot_run``: what this machine cannot run (a tier, ``bench``, ``load-run``) → why, as the
    acceptance run's preflight found (None: unknown, as for a report rebuilt without a run). A NOT
    RUN whose missing evidence this machine could have produced fails the sign-off: there it is a
    failure, not a limitation of the machine."""
    reasons = [f"stage {s.name} exited {s.exit_code} (log: {s.log})" for s in stages if s.failed]
    counts = {status: sum(v.status == status for v in verdicts) for status in STATUSES}
    for status in ("FAIL", "STALE", "UNCOVERED", "WEAK"):
        if counts[status]:
            reasons.append(f"{counts[status]} requirement(s) {status}")
    if cannot_run is not None:
        runnable = [v for v in verdicts if v.status == "NOT RUN" and v.missing not in cannot_run]
        if runnable:
            tiers = sorted({v.missing or "?" for v in runnable})
            reasons.append(f"{len(runnable)} requirement(s) NOT RUN although this machine can run what they miss "
                           f"({', '.join(tiers)})")
    return SignOff(not reasons, reasons)
