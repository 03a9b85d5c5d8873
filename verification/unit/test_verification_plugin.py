"""Self-tests of the tier plugin: requirement tracing at collection, harness self-tests and REQUIRE_TIERS."""

from __future__ import annotations

import pytest

# No `pytestmark = pytest.mark.harness` here on purpose: the plugin marks verification/unit/ itself,
# which the last test checks.

CONFTEST = 'pytest_plugins = ["verification.plugin", "verification.results"]\n'


def test_unknown_requirement_id_fails_collection(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_probe='import pytest\n@pytest.mark.requirement("FR-999")\ndef test_x():\n    pass\n')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*unknown requirement ID(s) FR-999*"])


def test_required_tier_turns_skip_into_failure(pytester: pytest.Pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_probe='import pytest\n@pytest.mark.cluster\n@pytest.mark.requirement("FR-035")\ndef test_x():\n    pass\n'
    )
    monkeypatch.delenv("REQUIRE_TIERS", raising=False)  # CI's own setting would require the tier here
    skipped = pytester.runpytest_subprocess("-q", "-rs", "-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no cluster named: pass --cluster=auto*"])
    monkeypatch.setenv("REQUIRE_TIERS", "cluster")
    failed = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    failed.assert_outcomes(errors=1)  # failed in set-up, before the test body runs
    assert failed.ret != 0
    failed.stdout.fnmatch_lines(["*cluster tier required by REQUIRE_TIERS*"])


def test_misspelt_required_tier_is_a_usage_error(pytester: pytest.Pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_probe="def test_x():\n    pass\n")
    monkeypatch.setenv("REQUIRE_TIERS", "statc")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*REQUIRE_TIERS names unknown tiers*statc*"])


def test_harness_self_test_with_requirement_ids_fails_collection(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_probe='import pytest\n'
                   '@pytest.mark.harness\n@pytest.mark.requirement("FR-001", "SC-008")\ndef test_x():\n    pass\n'
                   '@pytest.mark.harness\ndef test_y():\n    pass\n'
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*test_probe.py::test_x: a harness self-test must carry no requirement IDs "
                                 "(has FR-001, SC-008)*"])
    assert "test_y" not in result.stderr.str()  # one line per offender, and only offenders


def test_unit_folder_tests_are_harness_self_tests(request: pytest.FixtureRequest):
    # This very test carries no marker of its own: the plugin adds it for verification/unit/.
    assert request.node.get_closest_marker("harness") is not None
