"""The static tier's session fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from verification.static.scans import ScannerRuns

SCANNER_TESTS = "test_chart_scanners.py"


@pytest.fixture(scope="session", autouse=True)
def scanner_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScannerRuns]:
    """kube-score's and Checkov's runs, started in the background with the tier's first test when a
    scanner test is selected (verification/static/scans.py says why)."""
    runs = ScannerRuns(tmp_path_factory.mktemp("scans"))
    if any(item.path.name == SCANNER_TESTS for item in request.session.items):
        runs.start()
    yield runs
    runs.close()
