"""Runtime tier fixtures: the chart's pods on Docker (see ``verification/stack.py``).

Lifecycle as in e2e-framework: a stack is Setup in a fixture (its own network, unique
names), tests Assess, and the fixture's Teardown removes everything, after failures too.
A failing test gets the runtime diagnosis (container states, exit codes, OOMKilled, probe
history, the last 50 log lines, the plain-language cause) attached to its report.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

import pytest  # noqa: E402

from verification.tiers import skip_or_fail  # noqa: E402

STACK_TIMEOUT = 240  # seconds for every pod of a stack to be Ready (SC-003 allows 120 on a cluster)


def _images_or_skip() -> None:
    """The application images and the PostgreSQL image must be in the local engine."""
    import docker

    from verification.lib.pod_runtime import image_present
    from verification.stack import StackError, postgres_image

    client = docker.from_env(timeout=30)
    from verification.lib import images as images_lib  # the one place that builds images

    try:
        images_lib.ensure_images()  # once per session, with the layer cache
    except Exception as exc:  # noqa: BLE001 - the image tier reports the build itself
        text = str(exc).strip() or type(exc).__name__
        first = re.split(r"(?<=\))[: ]", text.splitlines()[0], maxsplit=1)[0][:200]
        skip_or_fail("runtime", f"the application images could not be built ({first}); "
                                "see the image tier or run 'make images'")
    from verification import contract
    from verification.lib import render

    tag = render.render(values_files=[render.TEST_SECRETS_VALUES])
    wanted = sorted({c["image"] for m in tag if m.get("kind") == "Deployment"
                     for c in m["spec"]["template"]["spec"]["containers"]})
    missing = [image for image in wanted if not image_present(client, image)]
    if missing:
        skip_or_fail("runtime", f"image(s) {', '.join(missing)} not built (expected {contract.BACKEND_IMAGE} and "
                                f"{contract.FRONTEND_IMAGE}): run 'make images'")
    try:
        postgres_image(client)
    except StackError as exc:
        skip_or_fail("runtime", str(exc))


@pytest.fixture(scope="session", autouse=True)
def kube_shim() -> str:
    """The pod sandbox / Service stand-in image, built from Go source once (no registry needed)."""
    import docker

    from verification.lib.pod_runtime import ShimBuildError, shim_image

    try:
        return shim_image(docker.from_env(timeout=120))
    except ShimBuildError as exc:
        skip_or_fail("runtime", str(exc))
        raise  # unreachable: skip_or_fail raises


@pytest.fixture(scope="session")
def app_images() -> None:
    """Skip (or fail under REQUIRE_TIERS) when an image is missing; built at most once a session."""
    _images_or_skip()


@pytest.fixture(scope="module")
def stack(app_images: None) -> Iterator[Any]:
    """The whole application as the chart renders it (2 backend pods, 1 frontend, PostgreSQL)."""
    from verification.stack import ONE_FRONTEND, LocalStack

    started = time.monotonic()
    with LocalStack(set_values=ONE_FRONTEND) as local:
        local.seconds_to_ready = time.monotonic() - started
        yield local


@pytest.fixture
def make_stack(app_images: None, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """A factory of fresh stacks for tests that change or break things; all removed at teardown."""
    from verification.stack import ONE_FRONTEND, LocalStack

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
    from verification.lib.pod_runtime import Runtime
    from verification.stack import LocalStack

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
