"""Fixtures of the image tier: the two images built once per session, and containers
started from them that are always removed again (also when a test fails).

Containers publish their port on 127.0.0.1 only, run with ``--read-only`` and tmpfs
mounts at the paths the chart declares writable, as the chart runs them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.core import docker as docker_engine
from harness.images import containers
from harness.images.containers import Running


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:

    client = docker_engine.client(timeout=300)
    yield client
    client.close()


class Built(dict):
    """app -> BuildResult; looking up an app whose build failed fails that test with the build log."""

    def __init__(self, results: dict[str, Any], errors: dict[str, str]) -> None:
        super().__init__(results)
        self.errors = errors

    def __missing__(self, app: str) -> Any:
        pytest.fail(f"the {app} image did not build: {self.errors.get(app, 'unknown app')}", pytrace=False)


@pytest.fixture(scope="session")
def built_images() -> Built:
    """Both images, built with BuildKit once per session (the layer cache makes a rebuild cheap).
    A failed build fails the tests of that image only."""
    from harness.images import build as images

    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        bases = images.choose_bases()
    except (images.ImageBuildError, OSError) as exc:
        pytest.fail(f"no base images: {exc}", pytrace=False)
    for app in images.APPS:
        try:
            results[app] = images.ensure_image(app, bases=bases)
        except (images.ImageBuildError, OSError) as exc:
            errors[app] = str(exc)
    return Built(results, errors)


@pytest.fixture(scope="session")
def image_refs(built_images: Built) -> Built:
    return Built({name: result.ref for name, result in built_images.items()}, built_images.errors)


@pytest.fixture(scope="session")
def runtime_secrets() -> dict[str, str]:
    """Credentials the tests hand to containers at run time; the secret scan looks for them too."""
    return {
        "JWT_SECRET": "jwt-" + secrets.token_urlsafe(36),
        "DB_PASSWORD": "pw-" + secrets.token_urlsafe(18),
        "OPENAI_API_KEY": "sk-test-" + secrets.token_urlsafe(24),
    }


@pytest.fixture(scope="session")
def backend_env(runtime_secrets: dict[str, str]) -> dict[str, str]:
    """A valid backend environment whose database is nowhere: liveness must not need it."""
    return {
        # port 9 (discard) on loopback inside the container: refused at once
        "DATABASE_URL": f"postgresql://todo:{runtime_secrets['DB_PASSWORD']}@127.0.0.1:9/todo",
        "JWT_SECRET": runtime_secrets["JWT_SECRET"],
        "LOG_LEVEL": "info",
    }


@pytest.fixture(scope="session")
def frontend_env() -> dict[str, str]:
    return {"BACKEND_URL": "http://127.0.0.1:9"}


@pytest.fixture
def start_container(docker_client: Any, image_refs: dict[str, str]) -> Iterator[Callable[..., Running]]:
    """Start an app container (:func:`harness.images.containers.start`); every container is
    removed at teardown, whatever happened."""
    started: list[Running] = []

    def start(app: str, env: dict[str, str], **options: Any) -> Running:
        started.append(containers.start(docker_client, image_refs[app], app, env, **options))
        return started[-1]

    yield start
    for running in started:
        try:
            running.container.remove(force=True, v=True)
        except Exception:  # noqa: BLE001, S110 - already removed
            pass
