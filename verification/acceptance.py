"""`make acceptance`: run every stage, then sign the specification off requirement by requirement.

Stages run in order (set-up → images → bench-images → frontend checks → apps → one pytest stage
per stage of the tier table (verification/tiers.py: static with docs and the harness's self-tests,
then the static set of seeded defects, image, runtime, cluster, load) → the acceptance load run), each printing one progress line with its
time; a failing stage does not stop the later ones, so the report shows everything at once. Every
stage counts: one that exits non-zero (a failed build, a lint error, a test failure, a collection
error, a killed run, a load gate that failed) fails the sign-off with its name and log, and the IDs
its tests should have proved are FAIL, not NOT RUN. On a machine that can run every tier, NOT RUN
fails the sign-off too.

The report is written to ``reports/acceptance.md``, ``reports/acceptance.html`` and
``reports/junit.xml`` (verification/report.py; the verdict rules are in verification/verdicts.py).
``--only-report`` rebuilds it from the last run's results against the tree as it is now: results of
another tree are STALE.

A stage whose inputs (verification/reuse.py's table: the parts of the tree it reads, its command, the
cluster) are those of a passing run is not rerun: that run's files are kept and the report says
"reused" with its date. ``--force`` (``FORCE=1``) reruns everything.

    python -m verification.acceptance [--only-report] [--force] [--cluster auto|kind|local|context:NAME|none]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from harness.core.paths import REPO_ROOT
from harness.providers import choose_cluster
from verification import report, reuse, tiers
from verification.fingerprint import tree_fingerprint
from verification.report import LOAD_RUN_FILE, LOAD_SUMMARY, RAW, REPORTS, STAGES_FILE
from verification.requirements import SpecMissing, spec_sentences
from verification.verdicts import LOAD_RUN, STATUSES, StageResult, sign_off_verdict

ROOT = REPO_ROOT
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
MAKE = ["make", "--no-print-directory"]
MACHINE_FILE = "machine.json"  # under RAW: the tiers this machine could not run, and why
APPS = "app"  # the applications' own tests: REQUIRE_TIERS' name for them


@dataclass
class Stage:
    name: str
    argv: list[str]
    pytest: bool = False
    proves: tuple[str, ...] = ()  # the requirement tiers its tests prove
    env: dict[str, str] = field(default_factory=dict)  # set on top of this process's environment


def _pytest_stage(name: str, *args: str, proves: tuple[str, ...] = ()) -> Stage:
    return Stage(name, [*PYTEST, *args, f"--results-json={RAW / f'results-{name}.json'}",
                        f"--junitxml={RAW / f'junit-{name}.xml'}"], pytest=True, proves=proves,
                 env=tiers.LEAN_ENV if name in tiers.LEAN_STAGES else {})


def load_cluster_of(cluster: str | None) -> str:
    """Where the load tier and the acceptance load run go: where the cluster tier went (the chart on
    the cluster, pods sampled through the kubelet); the Docker stack when there is no cluster."""
    return choose_cluster(cluster).option or "none"


def stages(cluster: str | None) -> list[Stage]:
    load_cluster = load_cluster_of(cluster)
    given = {"cluster": cluster or "none", "load_cluster": load_cluster}
    tier_stages = [
        _pytest_stage(stage, "verification", "-m", expression,
                      *(arg.format(**given) for arg in tiers.stage_arguments(stage)),
                      proves=tuple(sorted(tiers.stage_proves(stage))))
        for stage, expression in tiers.stage_selections().items()
    ]
    # The static set of seeded defects (make mutate TIER=static, 2-4 minutes) right after the static
    # stage: its report of this very tree turns a PASS whose defect survived into WEAK. The other
    # tiers' mutants take minutes each and run with make mutate.
    after_static = next(n for n, stage in enumerate(tier_stages) if stage.name == tiers.TIERS["static"].stage) + 1
    tier_stages.insert(after_static, Stage("mutate-static", [*MAKE, "mutate", "TIER=static"]))
    return [
        Stage("setup", [*MAKE, "setup"]),
        Stage("images", [*MAKE, "images"], proves=("image",)),
        # Cold builds without the layer cache: reports/bench-images.json is SC-002's evidence.
        Stage("bench-images", [*MAKE, "bench-images"], proves=("bench",)),
        Stage("frontend-checks", [*MAKE, "test-frontend"]),
        _pytest_stage("apps", "images/backend/tests", "images/frontend/e2e"),
        *tier_stages,
        # The acceptance load run (load/locust.conf: 100 users, 3 minutes): its gate and summary
        # decide SC-004/SC-010; a Docker stack is taken down again after.
        Stage("load-run", [*MAKE, "load", f"CLUSTER={load_cluster}"], proves=("load",)),
        Stage("stack-down", [*MAKE, "down"]),
    ]


def run_stage(stage: Stage, cluster: str | None = None) -> StageResult:
    started = time.monotonic()
    began = time.time()
    log = RAW / f"{stage.name}.log"
    where = log.relative_to(ROOT) if log.is_relative_to(ROOT) else log
    # Said before the stage starts: some take minutes (a cold Kubernetes build, the load run).
    print(f"[acceptance] {stage.name:<16} started {time.strftime('%H:%M:%S')} (progress: tail -f {where})",
          flush=True)
    fingerprint = tree_fingerprint()
    stage_key = reuse.key(stage, fingerprint, cluster)  # what it ran on, for a later run's reuse
    with log.open("w") as out:
        try:
            code = subprocess.call(stage.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **stage.env})
        except OSError as exc:  # make or python missing: the stage failed, say why in its log
            out.write(f"acceptance: could not start {stage.argv[0]}: {exc}\n")
            code = 127
    # pytest's 5 ("no test selected") is a failure too: a stage of the tier table with no test in it
    # proves nothing, and is most likely a marker that no longer matches.
    if stage.name == "load-run":
        summary = REPORTS / LOAD_SUMMARY
        (RAW / LOAD_RUN_FILE).write_text(json.dumps({
            "exit_code": code, "fingerprint": fingerprint,
            "summary": json.loads(summary.read_text()) if summary.exists() else None}, indent=1))
    took = time.monotonic() - started
    reuse.remember(stage.name, stage_key, code == 0, began, took)
    verdict = "ok" if code == 0 else f"FAILED: exit {code} (log: {where})"
    print(f"[acceptance] {stage.name:<16} {took:7.1f}s  {verdict}", flush=True)
    return StageResult(stage.name, code, str(where), stage.proves, round(took, 1))


def reuse_stage(stage: Stage, entry: dict) -> StageResult:
    """A stage whose inputs are those of a passing run: that run's files stay, its result says so."""
    log = RAW / f"{stage.name}.log"
    where = log.relative_to(ROOT) if log.is_relative_to(ROOT) else log
    reuse.keep(stage.name, entry)
    took = entry.get("duration_s")
    print(f"[acceptance] {stage.name:<16} reused from run of {entry['date']}, inputs unchanged"
          + (f" (it took {took:.1f}s)" if took is not None else ""), flush=True)
    return StageResult(stage.name, 0, str(where), stage.proves, took, entry["date"])


def run_stages(selected: list[Stage], kept: dict[str, dict] | None = None,
               cluster: str | None = None) -> list[StageResult]:
    """Run the stages in order; a stage in ``kept`` (verification/reuse.py) is reused when its inputs
    are still those of the run it keeps (checked again at its turn: an earlier stage may edit the tree)."""
    RAW.mkdir(parents=True, exist_ok=True)
    kept = kept or {}
    results: list[StageResult] = []
    for stage in selected:
        entry = kept.get(stage.name)
        if entry is not None and entry["key"] == reuse.key(stage, tree_fingerprint(), cluster):
            results.append(reuse_stage(stage, entry))
        else:
            if entry is not None:
                reuse.discard(entry)
            results.append(run_stage(stage, cluster))
        (RAW / STAGES_FILE).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return results


def run(selected: list[Stage], cluster: str | None, force: bool = False) -> list[StageResult]:
    """The stages whose inputs are those of a passing run keep its files (unless ``force``); every
    other raw result is deleted first: a stage that fails must not leave last run's figures standing."""
    RAW.mkdir(parents=True, exist_ok=True)
    kept = {} if force else reuse.reusable(selected, cluster, tree_fingerprint())
    reuse.clean(kept)
    return run_stages(selected, kept, cluster)


def cannot_run(cluster: str | None) -> dict[str, str]:
    """Tier → why this machine cannot run it (empty: every tier can run, so NOT RUN is a failure);
    ``auto`` is decided again here, after the set-up stage installed what it could."""
    choice = choose_cluster(cluster, none_said_as="CLUSTER=none")  # acceptance runs from make
    machine = tiers.Machine(choice.option, choice.why)
    missing = {tier.name: reason for tier in tiers.marker_tiers()
               if (reason := tiers.missing_prerequisite(tier.name, machine))}
    if reason := tiers.app_missing():
        missing[APPS] = reason
    # The image benchmark needs what the image tier needs; the acceptance load run needs a cluster.
    if "image" in missing:
        missing["bench"] = missing["image"]
    if "cluster" in missing or "load" in missing:
        missing[LOAD_RUN] = missing.get("cluster") or missing["load"]
    return missing


def sign_off() -> int:
    """Write the reports from the last run's results and print the verdict and what needs attention."""
    records = report.load_records()
    evidence = report.gather_evidence()
    rows = report.build_rows(records, evidence)
    machine = RAW / MACHINE_FILE
    unable = json.loads(machine.read_text()) if machine.exists() else None
    overall = sign_off_verdict([row.verdict for row in rows], evidence.stages, unable)
    report.write_all(rows, records, evidence, overall)
    counts = Counter(row.status for row in rows)
    width = max(len(s) for s in STATUSES)
    print("\n".join(f"  {s:<{width}}  {counts.get(s, 0):3d}" for s in STATUSES))
    for status in ("FAIL", "STALE", "UNCOVERED"):
        for row in (r for r in rows if r.status == status):
            print(f"  {status}: {row.requirement.id}: {row.verdict.reason}")
    for row in (r for r in rows if r.status == "NOT RUN"):
        print(f"  NOT RUN: {row.requirement.id}: run `{row.verdict.command}` ({row.verdict.reason})")
    for row in (r for r in rows if r.status == "MANUAL"):
        print(f"  MANUAL: {row.requirement.id}: {row.verdict.reason}")
    for tier, why in (unable or {}).items():
        print(f"  this machine cannot run the {tier} tier: {why}")
    print(f"report: {REPORTS / 'acceptance.html'} (and acceptance.md, junit.xml)")
    if overall.signed:
        print("SIGNED OFF: every stage passed; every requirement PASS or MANUAL"
              + (" (NOT RUN only where this machine cannot run the tier)" if counts.get("NOT RUN") else ""))
        return 0
    print("NOT SIGNED OFF:\n" + "\n".join(f"  - {reason}" for reason in overall.reasons))
    return 1


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default=os.environ.get("CLUSTER") or "auto",
                        help="cluster tier target: auto (default: kind, else the local cluster, when this machine "
                             "can run one), kind, local, context:NAME, or none; $CLUSTER sets the default")
    parser.add_argument("--only-report", action="store_true",
                        help="rebuild the report from the last run's results (results of another tree are STALE)")
    parser.add_argument("--force", action="store_true", default=os.environ.get("FORCE", "") not in ("", "0"),
                        help="rerun every stage, reusing none (FORCE=1 from make)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        spec_sentences()  # the sign-off quotes the spec: without it nothing can be signed off
    except SpecMissing as exc:
        print(f"acceptance: {exc}", file=sys.stderr)
        return 2
    if not args.only_report:
        # The cluster stages' target with auto resolved: an input of theirs (kind is not local).
        run(stages(args.cluster), load_cluster_of(args.cluster), force=args.force)
        # After the set-up stage installed what it could: what this machine still cannot run.
        (RAW / MACHINE_FILE).write_text(json.dumps(cannot_run(args.cluster), indent=1))
    return sign_off()


if __name__ == "__main__":
    sys.exit(main())
