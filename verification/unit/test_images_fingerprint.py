"""The image bench's recipe fingerprint: it decides whether a bench report still measures the
current images (SC-002's verdict), so it must move with every input of a cold build and stay
put for files the build never reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.core.paths import IMAGES_DIR
from harness.images import build


@pytest.fixture
def images_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of images/ (without node_modules and build output) the fingerprint reads instead."""
    root = tmp_path / "images"
    shutil.copytree(IMAGES_DIR, root, ignore=shutil.ignore_patterns(*build._NOT_CONTEXT))
    monkeypatch.setattr(build, "IMAGES_DIR", root)
    monkeypatch.setattr(build, "BASE_DIR", root / "base")
    monkeypatch.setattr(build, "BASE_SCRIPT", root / "base" / "build.sh")
    return root


# A fingerprint blind to an edit would let a benchmark of an older recipe sign SC-002 off.
@pytest.mark.guards("SC-002")
@pytest.mark.parametrize("edited", [
    "frontend/next.config.ts",          # build config outside the Dockerfile and lockfiles
    "frontend/Dockerfile",
    "frontend/src/app/layout.tsx",       # a source file the image carries
    "base/node-runtime/Dockerfile",      # a local base recipe
    "base/build.sh",
])
def test_an_input_of_the_cold_build_changes_the_fingerprint(images_copy: Path, edited: str) -> None:
    before = build.recipe_fingerprint("frontend")
    with (images_copy / edited).open("a") as f:
        f.write("\n# edited\n")
    assert build.recipe_fingerprint("frontend") != before, f"editing {edited} left the fingerprint as it was"


@pytest.mark.parametrize("edited", [
    "frontend/tsconfig.tsbuildinfo",     # local state, left out by .dockerignore
    "frontend/next-env.d.ts",            # written by next build and the type check after a bench
    "frontend/e2e/new.spec.ts",          # tests never enter the build context
    "backend/src/todo_api/__init__.py",  # the other image's source
    "base/python-runtime/Dockerfile",    # a base the frontend does not use
])
def test_a_file_the_build_never_reads_leaves_it_alone(images_copy: Path, edited: str) -> None:
    before = build.recipe_fingerprint("frontend")
    path = images_copy / edited
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n// edited\n")
    assert build.recipe_fingerprint("frontend") == before, f"editing {edited} changed the fingerprint"
