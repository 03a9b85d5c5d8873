"""Which container log lines the runtime tier counts as errors (US1-4)."""

from __future__ import annotations

import pytest

from harness.testkit.logcheck import error_lines, is_error_line

pytestmark = pytest.mark.harness


@pytest.mark.parametrize("line", [
    '{"time": "t", "level": "error", "message": "database unreachable"}',
    '{"level": "critical", "message": "x"}',
    "Traceback (most recent call last):",
    "TypeError: fetch failed",
    "Error: connect ECONNREFUSED 10.0.0.1:8000",
    "[Error: EROFS: read-only file system, open '/app/.next/cache/x']",
    "todo-api: ERROR something",
])
def test_runtime_error_lines_are_recognised(line):
    assert is_error_line(line)


@pytest.mark.parametrize("line", [
    '{"time": "t", "level": "info", "logger": "todo_api.access", "message": "request", "path": "/api/errors"}',
    '{"level": "warning", "message": "slow query"}',
    "▲ Next.js 16.4.6",
    "✓ Ready in 0ms",
    "",
])
def test_runtime_ordinary_lines_are_not_errors(line):
    assert not is_error_line(line)


def test_runtime_error_lines_of_a_log():
    log = '{"level": "info", "message": "ok"}\n{"level": "error", "message": "bad"}\n'
    assert error_lines(log) == ['{"level": "error", "message": "bad"}']
