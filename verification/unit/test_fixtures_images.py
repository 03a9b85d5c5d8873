"""A failed image build fails the runtime and load tiers' tests; only a missing Docker engine skips them
(verification/fixtures.py: image_build_verdict, app_images)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.core import docker as docker_engine
from harness.images import build as images
from verification import fixtures

pytestmark = pytest.mark.harness

ENGINE_UP = lambda: None  # noqa: E731 - an engine that answers


def _failing_build(tmp_path: Path) -> images.ImageBuildError:
    """The error of a real `docker build` (the builder the tiers use) of a Dockerfile that cannot build."""
    if problem := docker_engine.engine_problem():
        pytest.skip(f"a real failing build needs Docker: {problem}")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY no-such-file /x\n")
    no_bases = images.BaseChoice("official", {name: {} for name in images.APPS}, "a self-test: no base needed")
    with pytest.raises(images.ImageBuildError) as info:
        images.build("backend", "verdict-self-test", context=tmp_path, bases=no_bases)
    return info.value


def test_a_dockerfile_that_does_not_build_is_a_failure_naming_the_error_and_make_images(tmp_path: Path) -> None:
    exc = _failing_build(tmp_path)
    verdict, reason = fixtures.image_build_verdict(exc)
    assert verdict == "fail", reason
    assert reason.startswith("the application images do not build (building todo-backend:verdict-self-test failed")
    assert "no-such-file" in reason, f"the build's error line is not in the reason: {reason}"
    assert reason.endswith("reproduce with 'make images'"), reason
    assert "\n" not in reason


def test_app_images_fails_the_test_when_the_build_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exc = _failing_build(tmp_path)

    def ensure_images(*args, **kwargs):
        raise exc

    monkeypatch.setattr(images, "ensure_images", ensure_images)
    monkeypatch.delenv("REQUIRE_TIERS", raising=False)
    with pytest.raises(BaseException) as info:  # a skip (pytest's Skipped) must not pass as the right outcome
        fixtures._ensure_app_images()
    assert info.type is pytest.fail.Exception, f"{info.type.__name__}: {info.value}"
    assert re.search(r"do not build .* reproduce with 'make images'", str(info.value)), info.value


@pytest.mark.parametrize("exc", [
    images.ImageBuildError("building todo-frontend:0.1.0 failed (exit 1): /usr/bin/docker build --progress=plain …\n"
                           "#12 [build 2/3] RUN npm run build\n#12 ERROR: process \"/bin/sh -c npm run build\" did not "
                           "complete successfully: exit code: 1\n------\nERROR: failed to solve: …"),
    images.ImageBuildError("images/base/build.sh node failed (exit 100)"),
    images.ImageBuildError("images/frontend/Dockerfile: NODE_IMAGE='node:22' pins no exact Node.js version"),
    images.ImageBuildError("BASE_IMAGES='offical': expected official, local or auto"),
    TimeoutError("docker build timed out"),
], ids=["failed-step", "base-recipe", "unpinned-node", "bad-setting", "timeout"])
def test_every_other_error_is_a_failure(exc: BaseException) -> None:
    verdict, reason = fixtures.image_build_verdict(exc, engine_problem=ENGINE_UP)
    assert verdict == "fail" and reason.endswith("reproduce with 'make images'"), reason
    assert str(exc).splitlines()[0].split(" (exit")[0].split(":")[0] in reason


def test_the_failed_step_is_named() -> None:
    exc = images.ImageBuildError("building todo-frontend:0.1.0 failed (exit 1): /usr/bin/docker build …\n"
                                 "#12 [build 2/3] RUN npm run build\n#12 ERROR: process \"/bin/sh -c npm run build\" "
                                 "did not complete successfully: exit code: 1")
    _, reason = fixtures.image_build_verdict(exc, engine_problem=ENGINE_UP)
    assert "building todo-frontend:0.1.0 failed (exit 1): #12 ERROR: process \"/bin/sh -c npm run build\"" in reason


def test_no_docker_client_or_engine_is_the_missing_prerequisite_that_skips() -> None:
    no_client = images.ImageBuildError("no docker client: install Docker")
    no_client.__cause__ = docker_engine.NoDockerClient("no docker client: install Docker")
    assert fixtures.image_build_verdict(no_client, engine_problem=ENGINE_UP) == ("skip", "no docker client: install Docker")
    gone = FileNotFoundError(2, "No such file or directory", "/usr/bin/docker")
    assert fixtures.image_build_verdict(gone, engine_problem=ENGINE_UP)[0] == "skip"
    down = images.ImageBuildError("building todo-backend:0.1.0 failed (exit 1): … Cannot connect to the Docker daemon")
    assert fixtures.image_build_verdict(down, engine_problem=lambda: "no Docker engine answers") == (
        "skip", "no Docker engine answers")
