"""Recording each test's outcome against its requirement IDs (``--results-json PATH``).

The acceptance report (``python -m verification.acceptance``) merges these files,
one per stage, into the sign-off table. A file holds the fingerprint of the tree the tests ran on
(verification/fingerprint.py) and one record per test: collected tests that did not run
(deselected by ``-m``/``-k``, or never reached) are recorded as such, and a module that failed to
collect is a failed record, so nothing that was meant to run can go missing from the sign-off. Tests add figures to their evidence with
pytest's ``record_property("evidence", "backend image 142 MB")``, and figures for the
report's figures table with the ``record_figure`` fixture:
``record_figure("backend image size", 142.3, "MB")``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from verification.fingerprint import tree_fingerprint
from verification.plugin import guarded_ids, requirement_ids, tier_of, tier_of_path


@dataclass
class TestRecord:
    nodeid: str
    ids: list[str]
    tier: str | None
    outcome: str = "not run"  # passed | failed | skipped | not run | deselected
    reason: str = ""
    duration_s: float = 0.0
    evidence: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)  # {"name", "value", "unit"}
    guards: list[str] = field(default_factory=list)  # a checker's self-test: the IDs it guards


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("todo-chatbot").addoption(
        "--results-json", default=None, metavar="PATH",
        help="write every test's outcome and requirement IDs to PATH (read by the acceptance report)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ResultsRecorder(config), "todo-results-recorder")


@pytest.fixture
def record_figure(record_property):
    """``record_figure(name, value, unit="")``: a measured figure for the report's figures table
    (image sizes, time to Ready, rollout time, …). Also shown as evidence of the test's IDs."""

    def record(name: str, value: float | int | str, unit: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 1)
        record_property("figure", json.dumps({"name": name, "value": value, "unit": unit}))

    return record


class ResultsRecorder:
    """Keeps one :class:`TestRecord` per collected test and writes them at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: dict[str, TestRecord] = {}
        self.fingerprint: dict[str, str] = {}

    def pytest_sessionstart(self) -> None:
        if self.config.getoption("results_json"):
            self.fingerprint = tree_fingerprint()  # before any test runs: what was tested

    def _record(self, item: pytest.Item, outcome: str = "not run", reason: str = "") -> TestRecord:
        return TestRecord(item.nodeid, requirement_ids(item), tier_of(item), outcome, reason,
                          guards=guarded_ids(item))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # an import error hides every test of the module: a failure, not an absence
            self.records[report.nodeid] = TestRecord(
                report.nodeid, [], tier_of_path(report.fspath), "failed",
                "collection error: " + _first_line(report.longreprtext))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.records[item.nodeid] = self._record(item)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.records[item.nodeid] = self._record(item, "deselected", "not selected by this run's -m/-k")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.records.get(report.nodeid)
        if record is None:
            return
        record.duration_s += report.duration
        for name, value in report.user_properties:
            if name == "evidence" and str(value) not in record.evidence:
                record.evidence.append(str(value))
            elif name == "figure" and (figure := json.loads(value)) not in record.figures:
                record.figures.append(figure)
        if report.failed:
            prefix = "" if report.when == "call" else f"error in {report.when}: "
            record.outcome = "failed"
            record.reason = prefix + _first_line(report.longreprtext)
        elif report.skipped and record.outcome != "failed":
            record.outcome = "skipped"
            record.reason = _skip_reason(report)
        elif report.when == "call" and report.passed and record.outcome != "failed":
            record.outcome = "passed"

    def pytest_sessionfinish(self) -> None:
        path = self.config.getoption("results_json")
        if not path:
            return
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"fingerprint": self.fingerprint,
                                   "records": [asdict(r) for r in self.records.values()]}, indent=1))


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return _first_line(str(longrepr))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # pytest puts the assertion message ("E   ...") after the source; prefer it.
    errors = [line.lstrip("E").strip() for line in lines if line.startswith("E ")]
    return (errors[0] if errors else (lines[-1] if lines else ""))[:300]
