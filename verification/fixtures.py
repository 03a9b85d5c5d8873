"""Fixtures shared by the applications' tests and every tier (a plugin of the root conftest.py):
a PostgreSQL server, one browser, and what the tiers that run the chart's pods on Docker need
(runtime, load)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from harness.core import docker as docker_engine
from harness.testkit.postgres import LocalPostgres, PostgresUnavailable, image_in_engine
from verification.tiers import skip_or_fail


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A private PostgreSQL server (Debian's binaries) for the whole session, removed at the end."""
    try:
        server = LocalPostgres()
    except PostgresUnavailable as exc:
        skip_or_fail("app", str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """One headless Chromium for the whole run, shared by the frontend's e2e tests and the cluster
    tier: Playwright's sync API runs an event loop in the main thread, so a second instance started
    while the first is open fails ("Sync API inside the asyncio loop"). Consumers check
    ``harness.testkit.browser.missing()`` first and skip or fail by their own tier."""
    from harness.testkit import browser as ui

    with ui.chromium() as browser:
        yield browser


MAKE_IMAGES = "make images"
# BuildKit's own error lines in a build log ("#12 ERROR: process … did not complete successfully",
# "ERROR: failed to solve: …"), and the other tools' ("error: …", "E: Unable to locate package").
_ERROR_LINE = re.compile(r"^(#\d+ )?ERROR\b.*|^(error|E): .*|^.*\bfailed to solve\b.*", re.MULTILINE)


def image_build_verdict(exc: BaseException, engine_problem: Callable[[], str | None] | None = None
                        ) -> tuple[str, str]:
    """What a failure to build the application images means for the tests that need them:
    ``("skip", reason)`` only for the prerequisite the tier itself names (a Docker client and an
    engine that answers: skipped, or failed under REQUIRE_TIERS); ``("fail", reason)`` for anything
    else (a Dockerfile that does not build, a base recipe that fails, a missing build tool): the
    product does not build, which is a failure and not a missing prerequisite. The reason names
    the build error's first line and ``make images`` to reproduce it."""
    if isinstance(exc, docker_engine.NoDockerClient) or isinstance(exc.__cause__, docker_engine.NoDockerClient) \
            or (isinstance(exc, FileNotFoundError) and "docker" in str(exc.filename or exc)):
        return "skip", str(exc).strip().splitlines()[0]
    if problem := (engine_problem or docker_engine.engine_problem)():
        return "skip", problem
    text = str(exc).strip() or type(exc).__name__
    headline = re.split(r"(?<=\))[: ]", text.splitlines()[0], maxsplit=1)[0][:200]
    error = next((m.group(0).strip() for m in _ERROR_LINE.finditer("\n".join(text.splitlines()[1:]))), None)
    said = f"{headline}: {error[:300]}" if error else headline
    return "fail", f"the application images do not build ({said}); reproduce with '{MAKE_IMAGES}'"


def _ensure_app_images() -> None:
    """The application images and the PostgreSQL image must be in the local engine: built here
    (once per session, with the layer cache). A build that fails fails the test that needs them."""

    from harness.podrt.pod import image_present

    from harness.images import build as images_lib  # the one place that builds images

    failure = None
    try:
        images_lib.ensure_images()  # once per session, with the layer cache
    except Exception as exc:  # noqa: BLE001 - classified: only a missing engine skips
        failure = image_build_verdict(exc)
    if failure is not None:  # outside the except block: the reason alone, not a chain of tracebacks
        verdict, reason = failure
        if verdict == "skip":
            skip_or_fail("runtime", reason)
        pytest.fail(reason, pytrace=False)
    from harness import contract
    from harness.kube import render

    client = docker_engine.client(timeout=30)
    from harness.stack import image_tags

    tag = render.render(values_files=[render.TEST_SECRETS_VALUES], set_values=image_tags())
    wanted = sorted({c["image"] for m in tag if m.get("kind") == "Deployment"
                     for c in m["spec"]["template"]["spec"]["containers"]})
    missing = [image for image in wanted if not image_present(client, image)]
    if missing:  # built a moment ago, yet absent: the chart names other images than the build makes
        pytest.fail(f"image(s) {', '.join(missing)} not in the engine after building {contract.BACKEND_IMAGE} and "
                    f"{contract.FRONTEND_IMAGE}: the chart and the build disagree on a name or tag; "
                    f"reproduce with '{MAKE_IMAGES}'", pytrace=False)
    try:
        image_in_engine(client)  # the one the stack will take
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def kube_shim() -> str:
    """The pod sandbox / Service stand-in image, built from Go source once (no registry needed)."""

    from harness.podrt.shim import ShimBuildError, shim_image

    try:
        return shim_image(docker_engine.client(timeout=120))
    except ShimBuildError as exc:
        skip_or_fail("runtime", str(exc))
        raise  # unreachable: skip_or_fail raises


@pytest.fixture(scope="session")
def app_images() -> None:
    """The images, built at most once a session: a failed build fails the test; only a missing
    Docker engine skips it (or fails it under REQUIRE_TIERS)."""
    _ensure_app_images()
