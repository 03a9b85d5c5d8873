"""The outside scanners' runs for the static tier: kube-score and Checkov on every values file's render
and on the bad fixture, each run once per session, all started together in the background.

The scanners are the tier's slowest part (a Checkov process is seconds of CPU); started with the
tier's first test (verification/static/conftest.py), they run on the second core while the other
static tests run, and the scanner tests only collect their answers. Nothing outlives the session:
a mutated chart (make mutate runs pytest in a scratch copy) is rendered and scanned afresh.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

from harness.kube import render as r
from harness.kube import scanners
from verification.static.cases import RENDER_CASES

RENDERS = ["defaults", *[p.stem for p in r.ENVIRONMENT_VALUES]]
BAD_DEPLOYMENT = Path(__file__).parent / "fixtures" / "bad-deployment.yaml"
BAD = "bad"  # the bad fixture's label among the runs
TOOLS = ("checkov", "kube-score")  # Checkov first: the slower one


def manifests_yaml(case: str) -> str:
    files, set_values = RENDER_CASES[case]
    return yaml.safe_dump_all(r.render(files, set_values), sort_keys=False)


class ScannerRuns:
    """``runs.findings(tool)``: {render: findings}; ``runs.bad(tool)``: the bad fixture's findings.

    ``start()`` submits every run; a run asked for before then is started on demand. Each run
    renders its values file itself (``helm template``, cached per process) into a file of its own,
    ``helm test`` pod included. An error in a run is raised where its findings are asked for."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._pool = ThreadPoolExecutor(max_workers=2)  # beside the test process, on two cores
        self._runs: dict[tuple[str, str], Future[list[scanners.Finding]]] = {}

    def start(self) -> None:
        for tool in TOOLS:
            for label in (*RENDERS, BAD):
                self._run(tool, label)

    def findings(self, tool: str) -> dict[str, list[scanners.Finding]]:
        return {case: self._run(tool, case).result() for case in RENDERS}

    def bad(self, tool: str) -> list[scanners.Finding]:
        return self._run(tool, BAD).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, tool: str, label: str) -> Future[list[scanners.Finding]]:
        if (tool, label) not in self._runs:
            self._runs[tool, label] = self._pool.submit(self._scan, tool, label)
        return self._runs[tool, label]

    def _scan(self, tool: str, label: str) -> list[scanners.Finding]:
        if label == BAD:
            path = BAD_DEPLOYMENT
        else:
            path = self._directory / tool / f"{label}.yaml"
            path.parent.mkdir(exist_ok=True)
            path.write_text(manifests_yaml(label))
        if tool == "kube-score":
            return scanners.kube_score(path.read_text())
        return scanners.checkov({label: path})[label]
