"""``python -m harness.mutation`` (``make mutate``): run the catalogue's mutants, print one line
each and the scores, write ``reports/mutation.json``.

    python -m harness.mutation                      # every mutant
    python -m harness.mutation --tier static        # the static set (static and docs mutants)
    python -m harness.mutation --only id1,id2       # named mutants
    python -m harness.mutation --list               # the catalogue, no run

Exit status: 0 when the run finished (survivors are in the report, not a failure of the run);
1 when a mutant could not be run (a catalogue edit that no longer applies, a runner error);
2 on bad arguments; with ``--strict`` (CI, ``make mutate STRICT=1``), 3 when a mutant of this run
went undetected and the catalogue does not list it as accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.mutation import report as report_lib
from harness.mutation import runner
from harness.mutation.catalogue import CATALOGUE, RUN_GROUP, load

GROUPS = ("static", "image", "runtime", "cluster")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", choices=GROUPS, help="only the mutants of this tier (static includes docs)")
    parser.add_argument("--only", default="", help="comma-separated mutant ids")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("MUTATE_WORKERS", "2")))
    parser.add_argument("--cluster", default=None, help="--cluster=… for cluster-tier mutants (e.g. local)")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the tree to mutate (copied, never edited)")
    parser.add_argument("--chart", default="chart/todo-chatbot")
    parser.add_argument("--chart-values", default="",
                        help="comma-separated values files (relative to the root) for the validity render; "
                             "default: the harness's test credentials, made per run")
    parser.add_argument("--test-root", default="verification")
    parser.add_argument("--report", type=Path, default=None, help="default: <root>/reports/mutation.json")
    parser.add_argument("--fresh-report", action="store_true", help="do not merge the previous report's other mutants")
    parser.add_argument("--refresh-baseline", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="image mutants: skip the docker build validity check")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when a mutant of this run survives (or no test covers it) unless accepted")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    known = _known_ids(root)
    catalogue = load(args.catalogue, known)
    chosen = [m for m in catalogue if (not args.tier or RUN_GROUP[m.tier] == args.tier)]
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        if unknown := sorted(set(names) - {m.id for m in catalogue}):
            parser.error(f"unknown mutant ids: {', '.join(unknown)}")
        chosen = [m for m in chosen if m.id in names]
    if args.list:
        for m in chosen:
            print(f"{m.id:48} {m.tier:8} {','.join(m.ids):24} {m.target}{'  (equivalent)' if m.equivalent else ''}")
        print(f"{len(chosen)} mutants")
        return 0
    if not chosen:
        print("no mutant selected")
        return 0
    reports = root / "reports"
    project = runner.Project(root=root, test_root=args.test_root, chart=args.chart,
                             chart_values=tuple(v for v in args.chart_values.split(",") if v), reports=reports,
                             cluster=args.cluster, fallback_path=REPO_ROOT)
    path = args.report or reports / "mutation.json"
    signal.signal(signal.SIGTERM, _interrupt)

    from verification.fingerprint import tree_fingerprint  # pytest-free

    fingerprint = tree_fingerprint(root)
    started = time.monotonic()
    tiers = sorted({t for m in chosen if not m.equivalent for stage in runner.STAGES[m.tier] for t in stage})
    tests = runner.baseline(project, tiers, refresh=args.refresh_baseline)
    baseline_s = time.monotonic() - started
    print(f"mutate: {len(chosen)} mutants, {len(tests)} tests carry spec IDs, {args.workers} workers", flush=True)
    width = len(str(len(chosen)))

    def progress(done: int, total: int, o: runner.Outcome) -> None:
        detail = o.killed_by or o.reason
        print(f"[{done:>{width}}/{total}] {o.status:11} {o.mutant.id:46} {o.mutant.tier:8} {o.seconds:6.1f} s  "
              f"{detail[:140]}", flush=True)

    previous = report_lib.load(path)
    history_file = reports / "mutation-history.json"  # mutant → the test that last killed it, any tree
    history = (json.loads(history_file.read_text()) if history_file.is_file() else {}) | report_lib.killers(previous)
    mutate_started = time.monotonic()
    try:
        outcomes = runner.run_all(chosen, project, tests, workers=args.workers, build_images=not args.no_build,
                                  progress=progress, history=history)
    except KeyboardInterrupt:
        print("\nmutate: interrupted; the running mutants' tests were stopped and their copies removed",
              file=sys.stderr)
        return 130
    mutate_s = time.monotonic() - mutate_started
    history.update({o.mutant.id: o.killed_by for o in outcomes if o.killed_by})
    reports.mkdir(parents=True, exist_ok=True)
    history_file.write_text(json.dumps(history, indent=1, sort_keys=True))
    per_tier: dict[str, float] = {}
    for o in outcomes:
        per_tier[RUN_GROUP[o.mutant.tier]] = per_tier.get(RUN_GROUP[o.mutant.tier], 0.0) + o.seconds
    timing = {"baseline_s": round(baseline_s, 1), "mutants_wall_s": round(mutate_s, 1),
              "mutant_seconds_by_tier": {k: round(v, 1) for k, v in per_tier.items()}}
    # Read again: another run (TIER=cluster beside TIER=static) may have written it meanwhile.
    previous = None if args.fresh_report else report_lib.load(path)
    if previous and previous.get("fingerprint") != fingerprint:
        previous = None  # another tree's results are not merged
    merged = report_lib.merge(previous, outcomes, catalogue)
    data = report_lib.build(merged, root, fingerprint=fingerprint, timing=timing,
                            config={"tier": args.tier, "only": args.only, "workers": args.workers})
    report_lib.write(data, path)
    _summary(outcomes, data, timing, path)
    if any(o.status == runner.ERROR for o in outcomes):
        return 1
    missed = [o.mutant.id for o in outcomes if o.status in (runner.SURVIVED, runner.NO_COVERAGE) and not o.mutant.accepted]
    if args.strict and missed:
        print(f"mutate: {len(missed)} seeded defect(s) went undetected: {', '.join(missed)}", file=sys.stderr)
        return 3
    return 0


def _known_ids(root: Path) -> set[str] | None:
    import yaml

    registry = root / "verification" / "requirements.yaml"
    if not registry.is_file():
        return None
    return set((yaml.safe_load(registry.read_text()) or {}).get("requirements", {}))


def _summary(outcomes: list[runner.Outcome], data: dict, timing: dict, path: Path) -> None:
    this_run = report_lib.score(report_lib.STRYKER_STATUS[o.status] for o in outcomes)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    print(f"\nmutate: this run {this_run['killed']}/{this_run['total']} detected"
          f" ({this_run['score']} %); " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for tier, s in data["scores"]["tiers"].items():
        print(f"  tier {tier:8} {s['killed']}/{s['total']} ({s['score']} %)")
    overall = data["scores"]["overall"]
    print(f"  report   {overall['killed']}/{overall['total']} ({overall['score']} %) over every mutant in {path}")
    print(f"  time     baseline {timing['baseline_s']} s, mutants {timing['mutants_wall_s']} s wall "
          f"({', '.join(f'{k} {v} s' for k, v in timing['mutant_seconds_by_tier'].items())} summed)")
    for o in outcomes:
        if o.status in (runner.SURVIVED, runner.NO_COVERAGE, runner.ERROR):
            accepted = f" (accepted: {o.mutant.accepted})" if o.mutant.accepted else ""
            print(f"  {o.status.upper()}: {o.mutant.id} [{','.join(o.mutant.ids)}] {o.mutant.why}{accepted}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
