"""Which container log lines the runtime tier counts as errors (US1-4)."""

from __future__ import annotations

import json

import pytest

from harness.testkit.logcheck import error_lines, is_error_line

pytestmark = pytest.mark.harness
# The cluster tier's test_no_error_line_in_any_pod_log (US1-4) passes when this finds no error line:
# the self-tests that show it sees one guard US1-4 (the runtime tier's log test is weaker evidence).
LOG_GUARDS = ("US1-4",)


def backend_line(level: str, message: str, **extra: object) -> str:
    """A line shaped like todo_api.logs.JsonFormatter's (time, level, logger, message, extras)."""
    return json.dumps({"time": "2025-01-01T00:00:00.000Z", "level": level, "logger": "todo_api", "message": message,
                       **extra})


def frontend_line(event: str, **fields: object) -> str:
    """A line shaped like the frontend proxy's log() (src/lib/proxy.ts): always level warning."""
    return json.dumps({"level": "warning", "logger": "proxy", "event": event, **fields})


@pytest.mark.guards(*LOG_GUARDS)
@pytest.mark.parametrize("line", [
    '{"time": "t", "level": "error", "message": "database unreachable"}',
    '{"level": "critical", "message": "x"}',
    "Traceback (most recent call last):",
    "TypeError: fetch failed",
    "Error: connect ECONNREFUSED 10.0.0.1:8000",
    "[Error: EROFS: read-only file system, open '/app/.next/cache/x']",
    "todo-api: ERROR something",
    "configuration error: BACKEND_URL is not set",
    "todo-api: missing required environment variable DATABASE_URL",
])
def test_runtime_error_lines_are_recognised(line):
    assert is_error_line(line)


# A JSON line below the error level whose message (or reason, or exception) says that
# something failed: the level alone must not let it pass.
@pytest.mark.guards(*LOG_GUARDS)
@pytest.mark.parametrize("line", [
    backend_line("info", "connection refused by db:5432"),
    backend_line("warning", "could not connect to the database"),
    backend_line("warning", "migration attempt failed; retrying", attempt=3, retry_in_s=4,
                 reason='database not migrated yet: OperationalError: connection failed: connection to server at '
                        '"10.96.0.12", port 5432 failed: FATAL:  password authentication failed for user "todo"'),
    backend_line("warning", "migration attempt failed; retrying",
                 reason="database not migrated yet: OperationalError: [Errno -2] Name or service not known"),
    backend_line("info", "missing required environment variable JWT_SECRET"),
    backend_line("warning", "invalid configuration: CORS_ORIGINS"),
    backend_line("info", "chat request finished", exception="Traceback (most recent call last):\n  File ..."),
    frontend_line("backend_unreachable", method="GET", path="/api/tasks",
                  reason="TypeError: fetch failed (connect ECONNREFUSED 10.96.0.20:8000)"),
    frontend_line("backend_unreachable", method="GET", path="/api/tasks",
                  reason="TypeError: fetch failed (getaddrinfo ENOTFOUND todo-backend)"),
    frontend_line("misconfigured", reason="invalid configuration: BACKEND_URL must be an http(s) URL"),
    json.dumps({"level": "info", "msg": "ready", "error": {"code": "ECONNREFUSED", "port": 5432}}),
])
def test_a_failure_logged_at_info_or_warning_is_an_error(line):
    assert is_error_line(line)


# What the applications log on a healthy start and under healthy traffic.
@pytest.mark.parametrize("line", [
    '{"time": "t", "level": "info", "logger": "todo_api.access", "message": "request", "path": "/api/errors"}',
    '{"level": "warning", "message": "slow query"}',
    backend_line("info", "starting", port=8000, database="postgresql://todo:***@db:5432/todo", chat_provider="echo"),
    backend_line("info", "database schema is current", revision="0002"),
    backend_line("info", "Started server process [1]"),
    backend_line("info", "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
    backend_line("info", "Waiting for connections to close. (CTRL+C to force quit)"),
    # health checks, including a not-ready answer during start-up, and a client's own mistakes
    json.dumps({"time": "t", "level": "info", "logger": "todo_api.access", "message": "request", "method": "GET",
                "path": "/healthz", "status": 200, "duration_ms": 0.4, "client": "10.0.0.1",
                "request_id": "a1b2c3d4e5f6"}),
    json.dumps({"level": "info", "logger": "todo_api.access", "message": "request", "method": "GET",
                "path": "/readyz", "status": 503, "duration_ms": 1.2, "client": "10.0.0.1"}),
    json.dumps({"level": "info", "logger": "todo_api.access", "message": "request", "method": "POST",
                "path": "/api/auth/login", "status": 401, "duration_ms": 80.0, "client": "10.0.0.7"}),
    "frontend listening on http://0.0.0.0:3000 (API: lean server; pages: Next.js)",
    "▲ Next.js 16.4.6",
    "   - Local:        http://localhost:3000",
    "✓ Ready in 0ms",
    "",
])
def test_runtime_ordinary_lines_are_not_errors(line):
    assert not is_error_line(line)


@pytest.mark.guards(*LOG_GUARDS)
def test_runtime_error_lines_of_a_log():
    log = '{"level": "info", "message": "ok"}\n{"level": "error", "message": "bad"}\n'
    assert error_lines(log) == ['{"level": "error", "message": "bad"}']
    refused = frontend_line("backend_unreachable", reason="TypeError: fetch failed (connect ECONNREFUSED 10.0.0.1:8000)")
    healthy = backend_line("info", "request", path="/healthz", status=200)
    assert error_lines(f"{healthy}\n{refused}\n{healthy}\n") == [refused]


def test_log_guards_are_the_ids_of_the_tests_that_read_logs_with_it() -> None:
    from pathlib import Path

    from verification.static import relying

    tiers = {"cluster/test_install.py": "cluster", "runtime/test_stack.py": "runtime"}
    root = Path(__file__).parents[1]
    derived = set().union(*(relying.relying_ids(root / path, tier, relying.using("error_lines"))
                            for path, tier in tiers.items()))
    assert set(LOG_GUARDS) == derived
