"""Runtime tier fixtures: the chart's pods on Docker (see ``harness/stack.py``).

Lifecycle as in e2e-framework: a stack is Setup in a fixture (its own network, unique
names), tests Assess, and the fixture's Teardown removes everything, after failures too.
A failing test gets the runtime diagnosis (container states, exit codes, OOMKilled, probe
history, the last 50 log lines, the plain-language cause) attached to its report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

import pytest  # noqa: E402

STACK_TIMEOUT = 240  # seconds for every pod of a stack to be Ready (SC-003 allows 120 on a cluster)


@pytest.fixture(scope="session", autouse=True)
def _pod_sandbox(kube_shim: str) -> str:
    """Every test here runs pods on Docker: the shim image first (verification/fixtures.py)."""
    return kube_shim


@pytest.fixture(scope="module")
def stack(app_images: None) -> Iterator[Any]:
    """The whole application as the chart renders it (2 backend pods, 1 frontend, PostgreSQL)."""
    from harness.stack import ONE_FRONTEND, LocalStack

    started = time.monotonic()
    with LocalStack(set_values=ONE_FRONTEND) as local:
        local.seconds_to_ready = time.monotonic() - started
        yield local


@pytest.fixture
def make_stack(app_images: None, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """A factory of fresh stacks for tests that change or break things; all removed at teardown."""
    from harness.stack import ONE_FRONTEND, LocalStack

    made: list[LocalStack] = []
    request.node.made_stacks = made  # for the diagnosis hook below

    def make(*, apps: bool = True, set_values: dict | None = None, timeout: float = STACK_TIMEOUT) -> LocalStack:
        local = LocalStack(set_values={**ONE_FRONTEND, **(set_values or {})})
        made.append(local)
        local.start(apps=apps, timeout=timeout)
        return local

    yield make
    for local in reversed(made):
        local.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    from harness.podrt.runtime import Runtime
    from harness.stack import LocalStack

    runtimes = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, LocalStack):
            runtimes.append(value.runtime)
        elif isinstance(value, Runtime):
            runtimes.append(value)
    for value in getattr(item, "made_stacks", []):
        runtimes.append(value.runtime)
    for runtime in runtimes:
        try:
            text = runtime.diagnose()
        except Exception as exc:  # noqa: BLE001 - a diagnosis must never hide the failure
            text = f"(diagnosis failed: {type(exc).__name__}: {exc})"
        report.sections.append((f"runtime diagnosis ({runtime.run_id})", text))
