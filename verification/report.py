"""The sign-off report: one row per requirement, from the results files of ``make acceptance``.

``reports/acceptance.html`` is the report a person reads: a summary by tier and verdict,
the measured figures, then each requirement with its verdict, the spec's own sentence and
the evidence folded underneath (tests, weaker evidence, figures, screenshots, the command
that runs a missing tier, a manual requirement's checklist). It is one self-contained file:
images are embedded, so it can be mailed or archived as it is. ``reports/acceptance.md`` is
the compact table; ``reports/junit.xml`` merges the stages' JUnit files for CI.

Evidence strings ``screenshot: <path under reports/>`` (or ``chart: …``), recorded by any
test with ``record_property("evidence", …)``, are shown as images.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.paths import REPO_ROOT
from verification.environment import environment_line
from verification.fingerprint import changed_parts, tree_fingerprint
from verification.reuse import narrow
from verification.requirements import REGISTRY_TIERS, Requirement, registry
from verification.tiers import proves
from verification.verdicts import (
    STATUSES,
    BenchEvidence,
    Evidence,
    LoadRun,
    SignOff,
    StageResult,
    Verdict,
    bench_evidence,
    sign_off_verdict,
    verdict,
)

REPORTS = REPO_ROOT / "reports"
RAW = REPORTS / "acceptance"
LOAD_SUMMARY = "load/summary.json"  # under REPORTS, written by load/budget_gate.py
LOAD_CHART = "load/timeline.png"
STAGES_FILE = "stages.json"  # under RAW: each stage's name, exit code, log and the tiers it proves
MUTATION_REPORT = "mutation.json"  # under REPORTS: make mutate's report (harness/mutation)
LOAD_RUN_FILE = "load-run.json"  # under RAW: the acceptance load run's exit code, tree and summary
IMAGE_PREFIXES = ("screenshot: ", "chart: ")
LOAD_IDS = ("SC-004", "SC-010")


@dataclass
class Row:
    requirement: Requirement
    verdict: Verdict
    tests: list[dict] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # besides the tests' own
    guards: list[dict] = field(default_factory=list)  # the self-tests of the checkers it relies on
    mutants: dict | None = None  # {"killed", "total", "survivors"} of a current mutation report

    @property
    def status(self) -> str:
        return self.verdict.status

    def weaker(self, test: dict) -> bool:
        """A passing test that does not prove this ID (its tier is weaker than the ID's)."""
        return test["outcome"] == "passed" and not self.requirement.manual and not any(
            proves(tier, test.get("tier")) for tier in self.requirement.tiers)


@dataclass(frozen=True)
class Figure:
    group: str
    name: str
    value: object
    unit: str
    source: str  # the test (or report file) that measured it


# A test recorded by several stages (run in one, deselected in the others): the most telling outcome wins.
_OUTCOME_RANK = {"failed": 0, "passed": 1, "skipped": 2, "not run": 3, "deselected": 4}


def load_records() -> list[dict]:
    """Every test record of the last run, one per test, each with the fingerprint of the tree its
    stage ran on."""
    merged: dict[str, dict] = {}
    for path in sorted(RAW.glob("results-*.json")):
        data = json.loads(path.read_text())
        fingerprint, records = ({}, data) if isinstance(data, list) else (data["fingerprint"], data["records"])
        # Compared with the tree only on what its stage reads (a reused result is not STALE after an
        # edit of nothing it reads; it is when one of its inputs changed).
        fingerprint = narrow(path.stem.removeprefix("results-"), fingerprint)
        for record in records:
            record = {**record, "fingerprint": fingerprint}
            known = merged.get(record["nodeid"])
            if known is None or _OUTCOME_RANK.get(record["outcome"], 9) < _OUTCOME_RANK.get(known["outcome"], 9):
                merged[record["nodeid"]] = record
    return list(merged.values())


def load_stages() -> list[StageResult]:
    path = RAW / STAGES_FILE
    if not path.exists():
        return []
    return [StageResult(s["name"], s["exit_code"], s["log"], tuple(s.get("proves", ())), s.get("duration_s"),
                        s.get("reused")) for s in json.loads(path.read_text())]


def load_run() -> LoadRun | None:
    path = RAW / LOAD_RUN_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return LoadRun(data["exit_code"], narrow("load-run", data["fingerprint"]), data.get("summary"))


def load_summary() -> dict | None:
    path = REPORTS / LOAD_SUMMARY
    return json.loads(path.read_text()) if path.exists() else None


def extra_evidence(bench: BenchEvidence) -> dict[str, list[str]]:
    """Evidence that lives outside the tests: the load run's summary and chart, the image benchmark."""
    extra: dict[str, list[str]] = {}
    if (data := load_summary()) is not None:
        budget = data.get("budget") or {}
        measured = (f"measured with the limits lifted: {int(budget.get('peak_memory_bytes') or 0) / 2**20:.0f} MiB / "
                    f"{budget.get('peak_cpu_cores')} cores, {'below' if budget.get('within') else 'NOT below'} "
                    "the budget" if budget.get("limits_lifted") else "the budget was not measured with limits lifted")
        line = (f"load run: {data.get('users')} users, {data.get('requests')} requests, {data.get('failures')} "
                f"failures, p95 {data.get('p95_ms')} ms (signed-in {data.get('signed_in_p95_ms')} ms), peak "
                f"{int(data.get('peak_memory_bytes') or 0) / 2**20:.0f} MiB / {data.get('peak_cpu_cores')} cores, "
                f"restarts {data.get('restarts')}, OOM kills {data.get('oom_kills')}; "
                f"sampled from {data.get('sampled_from') or 'docker'}; budget: {measured}; "
                f"gate {'PASS' if data.get('passed') else 'FAIL'} (reports/{LOAD_SUMMARY})")
        for rid in LOAD_IDS:
            extra.setdefault(rid, []).append(line)
    if (REPORTS / LOAD_CHART).exists():
        for rid in LOAD_IDS:
            extra.setdefault(rid, []).append(f"chart: {LOAD_CHART}")
    for row in bench.rows:
        extra.setdefault("SC-002", []).append(
            f"{row['image']}: cold build {row['cold_s']} s, warm {row.get('warm_s')} s, {row.get('size_mb')} MB "
            f"({row.get('bases')} bases, recipe {row['fingerprint']}, {row.get('when')})")
    return extra


def gather_evidence(bench: BenchEvidence | None = None) -> Evidence:
    """The evidence of the last run besides the test records, against the tree as it is now."""
    from verification import signoff

    now = tree_fingerprint()
    return Evidence(now=now, bench=bench or bench_evidence(), load_run=load_run(),
                    stages=load_stages(), signatures=signoff.load(), mutants=current_mutants(now))


def current_mutants(now: dict[str, str]) -> dict[str, dict] | None:
    """The mutation report's score per requirement when it measured this very tree, else None
    (a report of another tree says nothing about these tests)."""
    from harness.mutation import report as mutation

    then = mutation.fingerprint(REPORTS / MUTATION_REPORT)
    if then is None or changed_parts(then, now):
        return None
    return mutation.per_requirement(REPORTS / MUTATION_REPORT)


def build_rows(records: list[dict], evidence: Evidence | None = None) -> list[Row]:
    evidence = evidence or gather_evidence()
    by_id: dict[str, list[dict]] = {}
    guarding: dict[str, list[dict]] = {}
    for record in records:
        for rid in record["ids"]:
            by_id.setdefault(rid, []).append(record)
        for rid in record.get("guards", ()):
            guarding.setdefault(rid, []).append(record)
    extra = extra_evidence(evidence.bench)
    return [Row(req, verdict(req, by_id.get(rid, []), evidence, guarding.get(rid, [])), by_id.get(rid, []),
                extra.get(rid, []), guarding.get(rid, []), (evidence.mutants or {}).get(rid))
            for rid, req in registry().items()]


def figures(records: list[dict], bench: BenchEvidence | None = None) -> list[Figure]:
    """Every measured figure: the tests' ``record_figure`` ones, the load run's, the image benchmark's."""
    found = [Figure(record.get("tier") or "other", f["name"], f["value"], f.get("unit", ""), record["nodeid"])
             for record in records for f in record.get("figures", [])]
    if (data := load_summary()) is not None:
        source = f"reports/{LOAD_SUMMARY}"
        memory = data.get("peak_memory_bytes")
        for name, key, unit in (("users", "users", ""), ("duration", "duration_s", "s"), ("requests", "requests", ""),
                                ("failures", "failures", ""), ("throughput", "rps", "req/s"), ("p50", "p50_ms", "ms"),
                                ("p95", "p95_ms", "ms"), ("p99", "p99_ms", "ms"),
                                ("p95 signed-in", "signed_in_p95_ms", "ms"), ("p95 sign-up", "signup_p95_ms", "ms"),
                                ("peak CPU", "peak_cpu_cores", "cores"), ("restarts", "restarts", ""),
                                ("OOM kills", "oom_kills", "")):
            if key in data:
                found.append(Figure("load run", name, data[key], unit, source))
        if memory is not None:
            found.append(Figure("load run", "peak memory", round(memory / 2**20), "MiB", source))
        for group, ms in (data.get("cpu_ms_per_request") or {}).items():
            found.append(Figure("load run", f"CPU per request, {group}", ms, "ms", source))
        for group, ms in (data.get("cpu_ms_per_request_signed_in") or {}).items():
            found.append(Figure("load run", f"CPU per request once signed in, {group}", ms, "ms", source))
        for group, t in (data.get("throttling") or {}).items():
            found.append(Figure("load run", f"CPU periods throttled, {group}", round(100 * t["throttled_share"], 1),
                                "%", source))
    for row in (bench or BenchEvidence("NOT RUN", "")).rows:
        for name, key, unit in (("cold build", "cold_s", "s"), ("warm build", "warm_s", "s"), ("size", "size_mb", "MB")):
            if key in row:
                found.append(Figure("image bench", f"{row['image']} {name}", row[key], unit, "reports/bench-images.json"))
    return found


def counts_by_tier(rows: list[Row]) -> dict[str, Counter]:
    table: dict[str, Counter] = {tier: Counter() for tier in REGISTRY_TIERS}
    for row in rows:
        table.setdefault(row.requirement.tier, Counter())[row.status] += 1
    return {tier: counts for tier, counts in table.items() if counts}


def _test_name(test: dict) -> tuple[str, str]:
    where, _, name = test["nodeid"].partition("::")
    return name or where, where


def evidence_summary(row: Row) -> str:
    """One line: what the tests did, and what to do for a NOT RUN or MANUAL ID."""
    outcomes = Counter(t["outcome"] for t in row.tests)
    parts = [f"{n} {outcome}" for outcome, n in sorted(outcomes.items())]
    if weaker := sum(1 for t in row.tests if row.weaker(t)):
        parts.append(f"{weaker} only weaker evidence")
    said = ", ".join(parts) or "no test"
    if guards := row.guards:
        said += f"; checkers' self-tests {sum(g['outcome'] == 'passed' for g in guards)}/{len(guards)} passed"
    if row.status in ("NOT RUN", "STALE", "WEAK"):
        return f"{said}; {row.verdict.reason}; run `{row.verdict.command}`"
    if row.status == "MANUAL":
        return f"{said} (supporting); {row.verdict.reason}"
    if row.status in ("FAIL", "UNCOVERED") or "bench" in row.requirement.tiers or "load" in row.requirement.tiers:
        return f"{said}; {row.verdict.reason}"
    return said


# --- Markdown ---------------------------------------------------------------------------
def _overall_lines(overall: SignOff) -> list[str]:
    if overall.signed:
        return ["**SIGNED OFF**: every stage passed; every requirement is PASS or MANUAL."]
    return ["**NOT SIGNED OFF**:", *(f"- {reason}" for reason in overall.reasons)]


def _stage_lines(stages: list[StageResult]) -> list[str]:
    if not stages:
        return ["No stage record: the report was rebuilt without a run.", ""]
    lines = ["| Stage | Result | Time | Reused |", "|---|---|---|---|"]
    lines += [f"| {s.name} | {'FAIL (exit %d)' % s.exit_code if s.failed else 'PASS'} | {_duration(s)} | {_reused(s)} |"
              for s in stages]
    return [*lines, ""]


def write_markdown(rows: list[Row], path: Path, overall: SignOff, stages: list[StageResult] | None = None) -> None:
    counts = Counter(row.status for row in rows)
    lines = [
        "# Acceptance report: Phase IV infrastructure specification", "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by `make acceptance`; the evidence of each "
        "requirement is in acceptance.html.", "",
        f"Environments: {environment_line()}", "",
        *_overall_lines(overall), "",
        *_stage_lines(stages or []),
        " · ".join(f"{s}: {counts.get(s, 0)}" for s in STATUSES), "",
        "| ID | Status | Tier | Evidence | Requirement |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = (row.requirement.id, row.status, row.requirement.tier + (" (manual)" if row.requirement.manual else ""),
                 evidence_summary(row), row.requirement.sentence)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    path.write_text("\n".join(lines) + "\n")


# --- HTML -------------------------------------------------------------------------------
COLOURS = {"PASS": "#1a7f37", "WEAK": "#a40e26", "FAIL": "#cf222e", "STALE": "#bc4c00", "NOT RUN": "#9a6700", "MANUAL": "#0969da",
           "UNCOVERED": "#8250df"}
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:14px;text-align:left}"
    "table{border-collapse:collapse;margin-bottom:1.5em}.num{text-align:right}"
    + "".join(f".s-{s.replace(' ', '-')}{{color:{c};font-weight:bold}}" for s, c in COLOURS.items())
    + ".weaker{color:#777}details summary{cursor:pointer}img{max-width:100%;border:1px solid #ddd}"
    "code{background:#f6f8fa;padding:1px 4px;overflow-wrap:anywhere}.nowrap{white-space:nowrap}"
)


def _e(text: object) -> str:
    return html.escape(str(text))


def _status(status: str) -> str:
    return f"<span class='s-{status.replace(' ', '-')}'>{status}</span>"


def _image(rel: str) -> str:
    """An image under reports/ embedded as a data URI, so the report stands alone."""
    path = REPORTS / rel
    if not path.is_file():
        return f"<em>image missing: reports/{_e(rel)}</em>"
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<figure><img src='data:{mime};base64,{data}' alt='{_e(rel)}'><figcaption>reports/{_e(rel)}</figcaption></figure>"


def _evidence_item(text: str) -> str:
    for prefix in IMAGE_PREFIXES:
        if text.startswith(prefix):
            return _image(text.removeprefix(prefix).strip())
    return _e(text)


def _test_item(row: Row, test: dict) -> str:
    name, where = _test_name(test)
    mark = {"passed": "✔", "failed": "✘", "skipped": "–"}.get(test["outcome"], "?")
    reason = f": {_e(test['reason'])}" if test["outcome"] != "passed" and test.get("reason") else ""
    weaker = " <em>(weaker evidence: does not prove this ID)</em>" if row.weaker(test) else ""
    figures_ = "".join(f"<br>{_e(f['name'])}: {_e(f['value'])} {_e(f.get('unit', ''))}" for f in test.get("figures", []))
    own = "".join(f"<br>{_evidence_item(e)}" for e in test.get("evidence", []))
    css = " class='weaker'" if row.weaker(test) else ""
    return (f"<li{css}>{mark} {test['outcome']} <code>{_e(name)}</code> ({_e(test.get('tier') or 'no tier')}, "
            f"{_e(where)}){reason}{weaker}{figures_}{own}</li>")


def _details(row: Row) -> str:
    parts = [f"<p>{_status(row.status)}: {_e(row.verdict.reason)}</p>"]
    if row.verdict.command:
        what = "To sign it" if row.requirement.manual else "To run the missing evidence"
        parts.append(f"<p>{what}: <code>{_e(row.verdict.command)}</code></p>")
    req = row.requirement
    if req.manual:
        parts.append("<h4>Checklist</h4><ol>" + "".join(f"<li>{_e(s)}</li>" for s in req.checklist) + "</ol>")
        parts.append("<h4>Prepared by the harness</h4><ul>" + "".join(f"<li>{_e(a)}</li>" for a in req.artefacts)
                     + "</ul>")
    if row.tests:
        title = "Supporting tests" if req.manual else "Tests"
        parts.append(f"<h4>{title}</h4><ul>" + "".join(_test_item(row, t) for t in row.tests) + "</ul>")
    if row.guards:
        parts.append("<h4>Self-tests of the checkers it relies on</h4><ul>"
                     + "".join(_test_item(row, t) for t in row.guards) + "</ul>")
    if row.mutants:
        survivors = "".join(f"<li><code>{_e(m['id'])}</code> survived: {_e(m['why'])}<pre>{_e(m['diff'])}</pre></li>"
                            for m in row.mutants["survivors"])
        survivors += "".join(f"<li><code>{_e(m['id'])}</code> survived, accepted: {_e(m['accepted'])}"
                             f"<pre>{_e(m['diff'])}</pre></li>" for m in row.mutants.get("accepted", []))
        parts.append(f"<h4>Seeded defects (make mutate): killed {row.mutants['killed']}/{row.mutants['total']}</h4>"
                     + (f"<ul>{survivors}</ul>" if survivors else ""))
    if row.evidence:
        parts.append("<h4>Other evidence</h4><ul>" + "".join(f"<li>{_evidence_item(e)}</li>" for e in row.evidence)
                     + "</ul>")
    return "".join(parts)


def _summary_table(rows: list[Row]) -> str:
    head = "<tr><th>Tier</th>" + "".join(f"<th>{_status(s)}</th>" for s in STATUSES) + "<th>Total</th></tr>"
    body = []
    for tier, counts in [*counts_by_tier(rows).items(), ("total", Counter(r.status for r in rows))]:
        cells = "".join(f"<td class='num'>{counts.get(s, 0) or ''}</td>" for s in STATUSES)
        label = f"<b>{tier}</b>" if tier == "total" else _e(tier)
        body.append(f"<tr><td>{label}</td>{cells}<td class='num'>{sum(counts.values())}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _figures_table(found: list[Figure]) -> str:
    if not found:
        return "<p>No figures were measured in this run.</p>"
    body = []
    for group in dict.fromkeys(f.group for f in found):
        for f in (f for f in found if f.group == group):
            # The test's name, not its path: the figure column stays readable; the path is the tooltip.
            short = f.source.rsplit("::", 1)[-1]
            body.append(f"<tr><td>{_e(group)}</td><td>{_e(f.name)}</td>"
                        f"<td class='num nowrap'>{_e(f.value)} {_e(f.unit)}</td>"
                        f"<td title='{_e(f.source)}'><code>{_e(short)}</code></td></tr>")
    return ("<table><tr><th>Group</th><th>Figure</th><th>Value</th><th>Measured by</th></tr>"
            + "".join(body) + "</table>")


def _duration(stage: StageResult) -> str:
    return "" if stage.duration_s is None else f"{stage.duration_s:.1f} s"


def _reused(stage: StageResult) -> str:
    return f"reused: run of {stage.reused}, inputs unchanged" if stage.reused else ""


def _stages_table(stages: list[StageResult]) -> str:
    if not stages:
        return "<p>No stage record: the report was rebuilt without a run.</p>"
    body = "".join(f"<tr><td>{_e(s.name)}</td><td>{_status('FAIL') if s.failed else _status('PASS')}</td>"
                   f"<td class='num'>{s.exit_code}</td><td class='num nowrap'>{_e(_duration(s))}</td>"
                   f"<td>{_e(_reused(s))}</td><td><code>{_e(s.log)}</code></td>"
                   f"<td>{_e(', '.join(s.proves))}</td></tr>" for s in stages)
    return ("<table><tr><th>Stage</th><th>Result</th><th>Exit</th><th>Time</th><th>Reused</th><th>Log</th>"
            f"<th>Its tests prove</th></tr>{body}</table>")


def _overall_html(overall: SignOff) -> str:
    if overall.signed:
        return f"<p>{_status('PASS')} <b>Signed off</b>: every stage passed; every requirement is PASS or MANUAL.</p>"
    return (f"<p>{_status('FAIL')} <b>Not signed off</b>:</p><ul>"
            + "".join(f"<li>{_e(reason)}</li>" for reason in overall.reasons) + "</ul>")


def write_html(rows: list[Row], found: list[Figure], path: Path, overall: SignOff,
               stages: list[StageResult]) -> None:
    body = []
    for row in rows:
        req = row.requirement
        body.append(
            f"<tr id='{req.id}'><td><a href='#{req.id}'>{req.id}</a></td><td>{_status(row.status)}</td>"
            f"<td>{_e(req.tier)}{' (manual)' if req.manual else ''}</td>"
            f"<td>{_e(req.sentence)}<details><summary>{_e(evidence_summary(row))}</summary>{_details(row)}</details>"
            "</td></tr>"
        )
    path.write_text(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Acceptance report</title>"
        f"<style>{STYLE}</style><h1>Acceptance report: Phase IV infrastructure specification</h1>"
        f"<p>Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by <code>make acceptance</code>. A requirement "
        "passes only on evidence of its tier or a stronger one (static &lt; image &lt; runtime &lt; cluster; "
        "load, docs and bench only on their own), every test of its tier passed, the checkers it relies on "
        "still see a defect, and the results are of this very tree (else STALE).</p>"
        f"<p>Environments: {_e(environment_line())}</p>"
        f"<h2>Sign-off</h2>{_overall_html(overall)}{_stages_table(stages)}"
        f"<h2>Summary</h2>{_summary_table(rows)}<h2>Figures</h2>{_figures_table(found)}"
        "<h2>Requirements</h2><table><tr><th>ID</th><th>Verdict</th><th>Tier</th><th>Requirement and evidence</th>"
        f"</tr>{''.join(body)}</table></html>\n"
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


def write_all(rows: list[Row], records: list[dict] | None = None, evidence: Evidence | None = None,
              overall: SignOff | None = None) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    evidence = evidence or gather_evidence()
    overall = overall or sign_off_verdict([row.verdict for row in rows], evidence.stages, None)
    write_markdown(rows, REPORTS / "acceptance.md", overall, evidence.stages)
    write_html(rows, figures(load_records() if records is None else records, evidence.bench),
               REPORTS / "acceptance.html", overall, evidence.stages)
    merge_junit(REPORTS / "junit.xml")
