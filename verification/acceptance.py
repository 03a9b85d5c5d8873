"""`make acceptance`: run every stage, then sign the specification off requirement by requirement.

Stages run in order (set-up → images → bench-images → apps → static (with docs) → image →
runtime → cluster → load), each printing one progress line with its time; a failing stage does not stop
the later ones, so the report shows everything at once. The report is written to
``reports/acceptance.md``, ``reports/acceptance.html`` and ``reports/junit.xml``
(verification/report.py; the verdict rules are in verification/verdicts.py); the exit code
is non-zero when any requirement FAILs or is UNCOVERED.

    python -m verification.acceptance [--only-report] [--cluster auto|kind|local|context:NAME|none]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

from harness.core.paths import REPO_ROOT
from harness.providers import AUTO, choose_automatically
from verification import report
from verification.report import RAW, REPORTS
from verification.verdicts import STATUSES

ROOT = REPO_ROOT
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


@dataclass
class Stage:
    name: str
    argv: list[str]
    pytest: bool = False


def stages(cluster: str | None) -> list[Stage]:
    def pytest_stage(name: str, *args: str) -> Stage:
        return Stage(name, [*PYTEST, *args, f"--results-json={RAW / f'results-{name}.json'}",
                            f"--junitxml={RAW / f'junit-{name}.xml'}"], pytest=True)

    cluster_args = [f"--cluster={cluster}"] if cluster else []
    # The load tier and the acceptance load run go where the cluster tier went (the chart on the
    # cluster, pods sampled through the kubelet); on the Docker stack when there is no cluster.
    load_cluster = cluster or "none"
    if load_cluster == AUTO:
        load_cluster = choose_automatically()[0] or "none"
    return [
        Stage("setup", ["make", "--no-print-directory", "setup"]),
        Stage("images", ["make", "--no-print-directory", "images"]),
        # Cold builds without the layer cache: reports/bench-images.json is SC-002's evidence.
        Stage("bench-images", ["make", "--no-print-directory", "bench-images"]),
        Stage("frontend-checks", ["make", "--no-print-directory", "test-frontend"]),
        pytest_stage("apps", "images/backend/tests", "images/frontend/e2e"),
        pytest_stage("static", "verification", "-m", "not (image or runtime or cluster or load)"),
        pytest_stage("image", "verification", "-m", "image"),
        pytest_stage("runtime", "verification", "-m", "runtime"),
        pytest_stage("cluster", "verification", "-m", "cluster", *cluster_args),
        pytest_stage("load", "verification", "-m", "load", f"--cluster={load_cluster}"),
        # The acceptance load run (load/locust.conf: 100 users, 3 minutes), whose summary.json
        # feeds SC-004/SC-010 below; a Docker stack is taken down again after.
        Stage("load-run", ["make", "--no-print-directory", "load", f"CLUSTER={load_cluster}"]),
        Stage("stack-down", ["make", "--no-print-directory", "down"]),
    ]


def run_stages(selected: list[Stage]) -> dict[str, int]:
    RAW.mkdir(parents=True, exist_ok=True)
    codes: dict[str, int] = {}
    for stage in selected:
        started = time.monotonic()
        log = RAW / f"{stage.name}.log"
        # Said before the stage starts: some take minutes (a cold Kubernetes build, the load run).
        print(f"[acceptance] {stage.name:<16} started {time.strftime('%H:%M:%S')} "
              f"(progress: tail -f {log.relative_to(ROOT)})", flush=True)
        with log.open("w") as out:
            code = subprocess.call(stage.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        # pytest's 5 means "no test selected": a stage with nothing to run is not a failure.
        if stage.pytest and code == 5:
            code = 0
        codes[stage.name] = code
        verdict = "ok" if code == 0 else f"exit {code} (log: {log.relative_to(ROOT)})"
        print(f"[acceptance] {stage.name:<16} {time.monotonic() - started:7.1f}s  {verdict}", flush=True)
    return codes


def sign_off() -> int:
    """Write the reports from the last run's results and print what needs a person's attention."""
    rows = report.build_rows(report.load_records())
    counts = Counter(row.verdict.status for row in rows)
    report.write_all(rows)
    width = max(len(s) for s in STATUSES)
    print("\n".join(f"  {s:<{width}}  {counts.get(s, 0):3d}" for s in STATUSES))
    for status in ("FAIL", "UNCOVERED"):
        for row in (r for r in rows if r.verdict.status == status):
            print(f"  {status}: {row.requirement.id}: {row.verdict.reason}")
    for row in (r for r in rows if r.verdict.status == "NOT RUN"):
        print(f"  NOT RUN: {row.requirement.id}: run `{row.verdict.command}` ({row.verdict.reason})")
    for row in (r for r in rows if r.verdict.status == "MANUAL"):
        print(f"  MANUAL: {row.requirement.id}: checklist in reports/acceptance.html#{row.requirement.id}")
    print(f"report: {REPORTS / 'acceptance.html'} (and acceptance.md, junit.xml)")
    return 1 if counts.get("FAIL") or counts.get("UNCOVERED") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default=os.environ.get("CLUSTER") or "auto",
                        help="cluster tier target: auto (default: kind, else the local cluster, when this machine "
                             "can run one), kind, local, context:NAME, or none; $CLUSTER sets the default")
    parser.add_argument("--only-report", action="store_true", help="rebuild the report from the last run's results")
    args = parser.parse_args(argv)
    if not args.only_report:
        for stale in [*RAW.glob("*"), *(REPORTS / "load").glob("summary.json")]:
            stale.unlink()  # a stage that fails must not leave last run's figures standing
        run_stages(stages(args.cluster))
    return sign_off()


if __name__ == "__main__":
    sys.exit(main())
