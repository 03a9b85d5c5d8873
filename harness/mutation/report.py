"""The mutation score and ``reports/mutation.json``, in Stryker's mutation-testing report schema.

score = detected ÷ (valid − equivalent): detected is killed plus timed out (Stryker counts a
timeout as detected); invalid mutants (the edit broke ``helm template`` or ``docker build``:
trivially caught) and runner errors are counted apart and left out; a mutant no test covers
counts as not detected. Scores are given overall, per tier and per requirement.

The file is the schema's ``MutationTestResult`` (``schemaVersion``, ``thresholds``, ``files`` with
each mutated file's source and its mutants: ``id``, ``mutatorName``, ``replacement``,
``location``, ``status``, ``statusReason``, ``killedBy``, ``coveredBy``), so Stryker's viewer
(mutation-testing-elements) draws it, plus our own top-level keys: ``fingerprint`` (the tree it
was measured on, :func:`verification.fingerprint.tree_fingerprint`), ``scores`` and ``timing``.

For the sign-off's WEAK verdict: :func:`per_requirement` and :func:`fingerprint`.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.core.paths import REPORTS_DIR, REPO_ROOT
from harness.mutation.catalogue import Mutant
from harness.mutation.runner import (EQUIVALENT, ERROR, INVALID, KILLED, NO_COVERAGE, SURVIVED, TIMEOUT,
                                     Outcome)

REPORT = REPORTS_DIR / "mutation.json"
SCHEMA_URL = ("https://raw.githubusercontent.com/stryker-mutator/mutation-testing-elements/master/"
              "packages/report-schema/src/mutation-testing-report-schema.json")
STRYKER_STATUS = {KILLED: "Killed", SURVIVED: "Survived", TIMEOUT: "Timeout", INVALID: "CompileError",
                  EQUIVALENT: "Ignored", NO_COVERAGE: "NoCoverage", ERROR: "RuntimeError"}
DETECTED = ("Killed", "Timeout")
UNDETECTED = ("Survived", "NoCoverage")
LANGUAGES = {".yaml": "yaml", ".yml": "yaml", ".tpl": "go", ".md": "markdown", ".py": "python", ".ts": "typescript",
             ".tsx": "typescript", ".txt": "markup", ".json": "json"}


def score(statuses: Iterable[str]) -> dict[str, Any]:
    """{"killed", "total", "score"} of Stryker statuses: total = the valid, non-equivalent ones."""
    statuses = list(statuses)
    killed = sum(s in DETECTED for s in statuses)
    total = killed + sum(s in UNDETECTED for s in statuses)
    return {"killed": killed, "total": total, "score": round(100 * killed / total, 1) if total else None}


def build(outcomes: list[Outcome], root: Path = REPO_ROOT, *, fingerprint: dict[str, str] | None = None,
          timing: dict[str, float] | None = None, config: dict[str, Any] | None = None) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        m = o.mutant
        entry = files.setdefault(m.target, {"language": _language(m.target), "source": _source(root, m.target),
                                            "mutants": []})
        (sl, sc), (el, ec) = m.location(root)
        status = STRYKER_STATUS[o.status]
        mutant: dict[str, Any] = {
            "id": m.id, "mutatorName": m.category, "replacement": m.replacement(),
            "location": {"start": {"line": sl, "column": sc}, "end": {"line": el, "column": ec}},
            "status": status, "statusReason": o.reason or o.status, "description": m.why,
            "duration": round(o.seconds * 1000), "testsCompleted": o.completed,
            # ours, beside the schema's fields: what the sign-off and a reviewer need
            "requirements": list(m.ids), "tier": m.tier, "diff": m.diff(root), "validity": o.validity,
        }
        if o.killed_by:
            mutant["killedBy"] = [o.killed_by]
        if o.tests:
            mutant["coveredBy"] = o.tests
        if m.equivalent:
            mutant["equivalent"] = m.equivalent
        if m.accepted:
            mutant["accepted"] = m.accepted
        entry["mutants"].append(mutant)
    by_status = [(o.mutant, STRYKER_STATUS[o.status]) for o in outcomes]
    requirements: dict[str, dict[str, Any]] = {}
    for m, status in by_status:
        for rid in m.ids:
            req = requirements.setdefault(rid, {"statuses": [], "survivors": [], "accepted": []})
            req["statuses"].append(status)
            if status in UNDETECTED:
                survivor = {"id": m.id, "diff": m.diff(root), "why": m.why}
                if m.accepted:  # still undetected (the score says so), but not a weakness of the ID
                    req["accepted"].append(survivor | {"accepted": m.accepted})
                else:
                    req["survivors"].append(survivor)
    tiers: dict[str, list[str]] = {}
    for m, status in by_status:
        tiers.setdefault(m.tier, []).append(status)
    return {
        "$schema": SCHEMA_URL,
        "schemaVersion": "2",
        "thresholds": {"high": 95, "low": 80},
        "projectRoot": str(root),
        "files": files,
        "framework": {"name": "todo-chatbot harness.mutation", "version": "1"},
        "system": {"ci": False, "os": {"platform": platform.system().lower()}},
        "config": config or {},
        "fingerprint": fingerprint or {},
        "timing": timing or {},
        "scores": {
            "overall": score(s for _, s in by_status) | _counts(s for _, s in by_status),
            "tiers": {t: score(s) | _counts(s) for t, s in tiers.items()},
            "requirements": {rid: score(r["statuses"]) | {"survivors": r["survivors"], "accepted": r["accepted"]}
                             for rid, r in sorted(requirements.items())},
        },
    }


def _counts(statuses: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return {"statuses": counts}


def _language(path: str) -> str:
    return LANGUAGES.get(Path(path).suffix, "markup" if Path(path).name == "Dockerfile" else "text")


def _source(root: Path, path: str) -> str:
    file = root / path
    return file.read_text() if file.is_file() else ""


def merge(previous: dict[str, Any] | None, outcomes: list[Outcome], catalogue: list[Mutant]) -> list[Outcome]:
    """Outcomes of this run plus, for mutants it did not run, those of ``previous`` (same tree
    only: the caller checks the fingerprint), so ``make mutate TIER=static`` then ``TIER=image``
    adds up to one report."""
    ran = {o.mutant.id for o in outcomes}
    old = {m["id"]: m for f in (previous or {}).get("files", {}).values() for m in f["mutants"]}
    reverse = {v: k for k, v in STRYKER_STATUS.items()}
    merged = list(outcomes)
    for m in catalogue:
        if m.id not in ran and m.id in old:
            e = old[m.id]
            merged.append(Outcome(m, reverse[e["status"]], (e.get("killedBy") or [""])[0], e.get("statusReason", ""),
                                  e.get("coveredBy", []), e.get("testsCompleted", 0), e.get("duration", 0) / 1000,
                                  e.get("validity", "")))
    order = {m.id: n for n, m in enumerate(catalogue)}
    return sorted(merged, key=lambda o: order.get(o.mutant.id, len(order)))


def killers(report: dict[str, Any] | None) -> dict[str, str]:
    """Mutant id → the test that killed it in ``report`` (the next run tries it first)."""
    return {m["id"]: m["killedBy"][0] for f in (report or {}).get("files", {}).values() for m in f["mutants"]
            if m.get("killedBy")}


def write(report: dict[str, Any], path: Path = REPORT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    return path


# --- for the sign-off --------------------------------------------------------------------------------
def load(path: Path = REPORT) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def fingerprint(path: Path = REPORT) -> dict[str, str] | None:
    """The tree fingerprint the report was measured on (compare with ``tree_fingerprint()``), or
    None without a report."""
    report = load(path)
    return None if report is None else report.get("fingerprint") or {}


def per_requirement(path: Path = REPORT) -> dict[str, dict[str, Any]]:
    """Spec ID → {"killed": k, "total": n, "survivors": [{"id", "diff", "why"}], "accepted": [...]}
    from the report ({} without one). ``total`` counts the valid, non-equivalent mutants aimed at
    the ID; a survivor is a mutant no test detected (survived, or no test covers it) that the
    catalogue does not list as accepted; accepted survivors carry their reason."""
    report = load(path)
    if report is None:
        return {}
    return {rid: {"killed": r["killed"], "total": r["total"], "survivors": r["survivors"],
                  "accepted": r.get("accepted", [])}
            for rid, r in report["scores"]["requirements"].items()}
