"""Reusing what did not change: a stage of ``make acceptance`` whose inputs are those of a passing run.

Each stage declares its inputs below (INPUTS): the parts of the tree its tests read (the parts of
verification/fingerprint.py), plus what is not in the tree but changes its outcome: its command line
and environment, the cluster it goes to, ``REQUIRE_TIERS`` and ``IMAGE_TAG``. After a stage passes,
the ledger (``reports/acceptance/reuse.json``) keeps that key, the run's date and duration and the
raw files the stage wrote. The next run (without ``FORCE=1`` / ``--force``) keeps those files and
does not rerun a stage whose key is identical; everything else is deleted at start as before, so a
stage that fails never leaves old figures standing. Never reused: a failed stage; a stage whose
tests skipped (what was missing then may be there now); a stage whose files are gone; the actions
(set-up, the image builds whose product lives in the Docker engine, the stack's tear-down).

The image benchmark is reused when ``reports/bench-images.json`` holds a passing row of every current
image recipe (verification/verdicts.py's bench_evidence): it reruns only when a recipe changed.

The report's STALE rule follows the same table (:func:`narrow`): a result is compared with the tree
only on its stage's input parts, so a reused static result is not STALE after an edit of nothing it
reads, and is STALE (and rerun) when one of its inputs changed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from verification.fingerprint import PARTS

ALL_PARTS = (*(part for part, _ in PARTS), "other")
BENCH = "bench-images"
# Stage → the parts of the tree it reads; None: an action, always run. When in doubt a part is an
# input. "harness" (harness/, load/, scripts/, Makefile, the lock) is an input of every stage: it is
# how each one runs. "tests" is verification/: the tests themselves, the results plugin and this file.
INPUTS: dict[str, tuple[str, ...] | None] = {
    "setup": None,  # installs things: an action, and what it installs is outside the tree
    "images": None,  # builds the images into the Docker engine, which later stages need; no file shows it
    BENCH: None,  # the image recipes' own fingerprint instead (bench_reusable)
    "frontend-checks": ("images", "harness"),  # the frontend's lint, types and unit tests: images/frontend
    "apps": ("images", "harness", "tests"),  # the apps' own tests, recorded by verification's plugin
    # The chart, the Dockerfiles (images), the docs and the harness's self-tests (which read every part,
    # the spec included): everything, "other" (.gitignore: which files count) too.
    "static": ALL_PARTS,
    "mutate-static": ALL_PARTS,  # seeds defects into the chart and images and reruns the static tests
    # The image tests build and run the images; the tag comes from the chart's appVersion.
    "image": ("chart", "images", "harness", "tests"),
    "runtime": ("chart", "images", "harness", "tests"),  # the chart's pod templates run on Docker
    "cluster": ("chart", "images", "harness", "tests"),  # helm install of the chart and images
    # The load tier and the acceptance load run both write reports/load/summary.json: the same inputs,
    # so they rerun together.
    "load": ("chart", "images", "harness", "tests"),
    "load-run": ("chart", "images", "harness", "tests"),
    "stack-down": None,  # takes the Docker stack down: an action
}
# Stage → the stage it is reused only with: both write reports/load/summary.json.
TOGETHER = {"load-run": "load", "load": "load-run"}
# Stages that go to a cluster: results of kind are not results of the local cluster.
CLUSTER_STAGES = frozenset({"cluster", "load", "load-run"})
# Settings outside the tree that change a stage's outcome.
SETTINGS = ("REQUIRE_TIERS", "IMAGE_TAG")
LEDGER = "reuse.json"  # under RAW


def inputs_of(stage: str) -> tuple[str, ...] | None:
    """A stage's input parts; a stage missing from the table reads everything."""
    return INPUTS.get(stage, ALL_PARTS)


def narrow(stage: str, fingerprint: dict[str, str]) -> dict[str, str]:
    """The part of a result's tree fingerprint that its stage reads (all of it for a stage that is not
    reused or not in the table): what the report compares with the tree now."""
    parts = INPUTS.get(stage, ALL_PARTS) or ALL_PARTS
    return {part: value for part, value in fingerprint.items() if part in parts} if fingerprint else fingerprint


def key(stage, now: dict[str, str], cluster: str | None) -> dict | None:
    """Everything a stage's outcome depends on, or None when it is never reused."""
    if stage.name == BENCH:
        from verification.verdicts import current_recipes

        return {"recipes": current_recipes(), "argv": stage.argv}
    parts = inputs_of(stage.name)
    if parts is None:
        return None
    return {"parts": {part: now.get(part) for part in parts}, "argv": stage.argv, "env": stage.env,
            "settings": {name: os.environ.get(name, "") for name in SETTINGS},
            "cluster": cluster if stage.name in CLUSTER_STAGES else None}


def _raw() -> Path:
    from verification import report

    return report.RAW


def _reports() -> Path:
    from verification import report

    return report.REPORTS


def load_ledger() -> dict[str, dict]:
    path = _raw() / LEDGER
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        return {}


def save_ledger(ledger: dict[str, dict]) -> None:
    _raw().mkdir(parents=True, exist_ok=True)
    (_raw() / LEDGER).write_text(json.dumps(ledger, indent=1))


def produced(stage: str) -> list[str]:
    """The raw files a stage wrote, relative to reports/ (kept when it is reused)."""
    from verification.report import LOAD_RUN_FILE, LOAD_SUMMARY, MUTATION_REPORT

    names = [f"{stage}.log", f"results-{stage}.json", f"junit-{stage}.xml"]
    found = [str((_raw() / name).relative_to(_reports())) for name in names if (_raw() / name).exists()]
    extra = {"load-run": [str((_raw() / LOAD_RUN_FILE).relative_to(_reports())), LOAD_SUMMARY],
             "mutate-static": [MUTATION_REPORT]}.get(stage, [])
    return found + [rel for rel in extra if (_reports() / rel).exists()]


def _skipped(files: list[str]) -> bool:
    """Whether a stage's results hold a test that did not run (skipped or never reached)."""
    for rel in files:
        if Path(rel).name.startswith("results-"):
            data = json.loads((_reports() / rel).read_text())
            if any(r["outcome"] in ("skipped", "not run") for r in data.get("records", [])):
                return True
    return False


def bench_reusable(stage_key: dict, entry: dict | None) -> dict | None:
    """The benchmark's entry when reports/bench-images.json measured every current recipe and passed."""
    from verification.verdicts import BENCH_REPORT, bench_evidence

    if entry is not None and not entry.get("passed"):
        return None  # its last run here failed
    bench = bench_evidence(_reports() / BENCH_REPORT.name, stage_key["recipes"])
    if bench.status != "PASS":
        return None
    same = entry is not None and entry.get("key") == stage_key
    return {"key": stage_key, "passed": True, "date": max(str(row.get("when", "")) for row in bench.rows),
            "duration_s": entry.get("duration_s") if same else None,
            "files": [f for f in entry.get("files", []) if (_reports() / f).exists()] if same else []}


def reusable(stages: list, cluster: str | None, now: dict[str, str]) -> dict[str, dict]:
    """Stage name → the ledger entry of the passing run it reuses."""
    ledger = load_ledger()
    found: dict[str, dict] = {}
    for stage in stages:
        stage_key = key(stage, now, cluster)
        entry = ledger.get(stage.name)
        if stage_key is None:
            continue
        if stage.name == BENCH:
            if (bench := bench_reusable(stage_key, entry)) is not None:
                found[stage.name] = bench
            continue
        if (entry and entry.get("passed") and entry.get("key") == stage_key and entry.get("files")
                and all((_reports() / f).exists() for f in entry["files"]) and not _skipped(entry["files"])):
            found[stage.name] = entry
    names = {stage.name for stage in stages}
    for stage, partner in TOGETHER.items():
        if partner in names and partner not in found:
            found.pop(stage, None)
    return found


def clean(kept: dict[str, dict]) -> None:
    """Delete last run's raw results but the files of the stages reused (and the ledger)."""
    from verification.report import LOAD_SUMMARY

    keep = {(_reports() / f).resolve() for entry in kept.values() for f in entry.get("files", [])}
    for path in [*_raw().glob("*"), _reports() / LOAD_SUMMARY]:
        if path.is_file() and path.name != LEDGER and path.resolve() not in keep:
            path.unlink()  # a stage that fails must not leave last run's figures standing
    ledger = load_ledger()
    save_ledger({name: entry for name, entry in ledger.items() if name in kept})


def discard(entry: dict) -> None:
    """A kept stage that reruns after all: its old files go first."""
    for rel in entry.get("files", []):
        (_reports() / rel).unlink(missing_ok=True)


def remember(stage: str, stage_key: dict | None, passed: bool, started: float, duration_s: float) -> None:
    """After a stage ran: its key, date, duration and files when it passed; that it failed otherwise."""
    ledger = load_ledger()
    ledger.pop(stage, None)
    if stage_key is not None:
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        ledger[stage] = {"key": stage_key, "passed": passed, "date": date,
                         "duration_s": round(duration_s, 1), "files": produced(stage)}
    save_ledger(ledger)


def keep(stage: str, entry: dict) -> None:
    """A reused stage stays in the ledger as it was (its original run's date and duration)."""
    ledger = load_ledger()
    ledger[stage] = entry
    save_ledger(ledger)
