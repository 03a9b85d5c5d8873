"""`make acceptance`: run every stage, then sign the specification off requirement by requirement.

Stages run in order (set-up → images → apps → static → image → runtime → cluster →
load), each printing one progress line with its time; a failing stage does not stop
the later ones, so the report shows everything at once. The report is written to
``reports/acceptance.md``, ``reports/acceptance.html`` and ``reports/junit.xml``;
the exit code is non-zero when any requirement FAILs or is UNCOVERED.

    python -m verification.acceptance [--only-report] [--cluster auto|kind|local|context:NAME|none]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.paths import REPO_ROOT
from verification.requirements import Requirement, registry

ROOT = REPO_ROOT
REPORTS = ROOT / "reports"
RAW = REPORTS / "acceptance"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

STATUSES = ("PASS", "FAIL", "NOT RUN", "MANUAL", "UNCOVERED")


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
    return [
        Stage("setup", ["make", "--no-print-directory", "setup"]),
        Stage("images", ["make", "--no-print-directory", "images"]),
        Stage("frontend-checks", ["make", "--no-print-directory", "test-frontend"]),
        pytest_stage("apps", "images/backend/tests", "images/frontend/e2e"),
        pytest_stage("static", "verification", "-m", "not (image or runtime or cluster or load)"),
        pytest_stage("image", "verification", "-m", "image"),
        pytest_stage("runtime", "verification", "-m", "runtime"),
        pytest_stage("cluster", "verification", "-m", "cluster", *cluster_args),
        pytest_stage("load", "verification", "-m", "load"),
        # The acceptance load run (load/locust.conf: 100 users, 3 minutes) on the Docker stack,
        # whose summary.json feeds SC-004/SC-010 below; the stack is taken down again after.
        Stage("load-run", ["make", "--no-print-directory", "load"]),
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


# --- the report ---------------------------------------------------------------------
@dataclass
class Row:
    requirement: Requirement
    status: str
    tests: list[dict] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def load_records() -> list[dict]:
    records: list[dict] = []
    for path in sorted(RAW.glob("results-*.json")):
        records.extend(json.loads(path.read_text()))
    return records


def extra_evidence() -> dict[str, list[str]]:
    """Figures and artefacts that live outside the tests: load summary, screenshots."""
    extra: dict[str, list[str]] = {}
    summary = REPORTS / "load" / "summary.json"
    if summary.exists():
        data = json.loads(summary.read_text())
        line = (f"load: {data.get('users')} users, {data.get('requests')} requests, {data.get('failures')} failures, "
                f"p95 {data.get('p95_ms')} ms (signed-in {data.get('signed_in_p95_ms')} ms), "
                f"gate {'PASS' if data.get('passed') else 'FAIL'}, peak {int(data.get('peak_memory_bytes', 0)) / 2**20:.0f} MiB / "
                f"{data.get('peak_cpu_cores')} cores, restarts {data.get('restarts')} "
                f"(reports/load/summary.json)")
        for rid in ("SC-004", "SC-010"):
            extra.setdefault(rid, []).append(line)
    for shot in sorted((REPORTS / "screenshots").glob("*.png")):
        rel = str(shot.relative_to(REPORTS))
        rid = "US1-2" if "login" in shot.name else "US1-3"
        extra.setdefault(rid, []).append(f"screenshot: {rel}")
    return extra


def build_rows(records: list[dict]) -> list[Row]:
    by_id: dict[str, list[dict]] = {}
    for record in records:
        for rid in record["ids"]:
            by_id.setdefault(rid, []).append(record)
    extra = extra_evidence()
    rows = []
    for rid, req in registry().items():
        tests = by_id.get(rid, [])
        outcomes = {t["outcome"] for t in tests}
        if not tests:
            status = "UNCOVERED"
        elif "failed" in outcomes:
            status = "FAIL"
        elif "passed" in outcomes:
            status = "MANUAL" if req.manual else "PASS"
        else:
            status = "NOT RUN"
        evidence = [e for t in tests for e in t.get("evidence", [])] + extra.get(rid, [])
        rows.append(Row(req, status, tests, evidence))
    return rows


def _test_line(test: dict) -> str:
    name = test["nodeid"].split("::", 1)[-1]
    where = test["nodeid"].split("::", 1)[0]
    mark = {"passed": "✔", "failed": "✘", "skipped": "–"}.get(test["outcome"], "?")
    reason = f" ({test['reason']})" if test["outcome"] in ("failed", "skipped") and test["reason"] else ""
    return f"{mark} `{name}` in {where}{reason}"


def write_markdown(rows: list[Row], counts: Counter, path: Path) -> None:
    lines = [
        "# Acceptance report: Phase IV infrastructure specification",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by `make acceptance`.",
        "",
        "| Status | Count |", "|---|---|",
        *[f"| {s} | {counts.get(s, 0)} |" for s in STATUSES],
        "",
        "| ID | Status | Evidence | Requirement |",
        "|---|---|---|---|",
    ]
    for row in rows:
        evidence = [_test_line(t) for t in row.tests] + row.evidence
        cell = "<br>".join(e.replace("|", "\\|") for e in evidence) or "no test maps to this requirement"
        lines.append(f"| {row.requirement.id} | {row.status} | {cell} | {row.requirement.summary} |")
    path.write_text("\n".join(lines) + "\n")


def write_html(rows: list[Row], counts: Counter, path: Path) -> None:
    colours = {"PASS": "#1a7f37", "FAIL": "#cf222e", "NOT RUN": "#9a6700", "MANUAL": "#0969da",
               "UNCOVERED": "#8250df"}
    body = []
    for row in rows:
        items = []
        for test in row.tests:
            items.append(html.escape(_test_line(test).replace("`", "")))
        for e in row.evidence:
            if e.startswith("screenshot: "):
                src = html.escape(e.removeprefix("screenshot: "))
                items.append(f'<a href="{src}"><img src="{src}" alt="{src}" width="240"></a>')
            else:
                items.append(html.escape(e))
        body.append(
            f"<tr><td>{row.requirement.id}</td>"
            f"<td style='color:{colours[row.status]};font-weight:bold'>{row.status}</td>"
            f"<td>{'<br>'.join(items) or 'no test maps to this requirement'}</td>"
            f"<td>{html.escape(row.requirement.summary)}</td></tr>"
        )
    summary = " · ".join(f"{s}: {counts.get(s, 0)}" for s in STATUSES)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>Acceptance report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top;font-size:14px}table{border-collapse:collapse}</style>"
        f"<h1>Acceptance report</h1><p>{summary}</p><table><tr><th>ID</th><th>Status</th>"
        f"<th>Evidence</th><th>Requirement</th></tr>{''.join(body)}</table>"
    )


def merge_junit(path: Path) -> None:
    merged = ET.Element("testsuites")
    for part in sorted(RAW.glob("junit-*.xml")):
        root = ET.parse(part).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        for suite in suites:
            suite.set("name", f"{part.stem.removeprefix('junit-')}")
            merged.append(suite)
    ET.ElementTree(merged).write(path, encoding="utf-8", xml_declaration=True)


def report() -> int:
    rows = build_rows(load_records())
    counts = Counter(row.status for row in rows)
    REPORTS.mkdir(exist_ok=True)
    write_markdown(rows, counts, REPORTS / "acceptance.md")
    write_html(rows, counts, REPORTS / "acceptance.html")
    merge_junit(REPORTS / "junit.xml")
    width = max(len(s) for s in STATUSES)
    print("\n".join(f"  {s:<{width}}  {counts.get(s, 0):3d}" for s in STATUSES))
    for row in rows:
        if row.status in ("FAIL", "UNCOVERED"):
            print(f"  {row.status}: {row.requirement.id} {row.requirement.summary}")
    print(f"report: {REPORTS / 'acceptance.md'} (and acceptance.html, junit.xml)")
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
    return report()


if __name__ == "__main__":
    sys.exit(main())
