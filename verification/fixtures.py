"""Fixtures shared by the applications' tests and every tier (a plugin of the root conftest.py):
a PostgreSQL server, one browser, and what the tiers that run the chart's pods on Docker need
(runtime, load)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from harness.core import docker as docker_engine
from harness.testkit.postgres import LocalPostgres, PostgresUnavailable
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


def _images_or_skip() -> None:
    """The application images and the PostgreSQL image must be in the local engine."""

    from harness.podrt.pod import image_present
    from harness.stack import StackError, postgres_image

    client = docker_engine.client(timeout=30)
    from harness.images import build as images_lib  # the one place that builds images

    try:
        images_lib.ensure_images()  # once per session, with the layer cache
    except Exception as exc:  # noqa: BLE001 - the image tier reports the build itself
        text = str(exc).strip() or type(exc).__name__
        first = re.split(r"(?<=\))[: ]", text.splitlines()[0], maxsplit=1)[0][:200]
        skip_or_fail("runtime", f"the application images could not be built ({first}); "
                                "see the image tier or run 'make images'")
    from harness import contract
    from harness.kube import render

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
    """Skip (or fail under REQUIRE_TIERS) when an image is missing; built at most once a session."""
    _images_or_skip()
