"""Reproducible environments: the harness's virtualenv is installed from requirements-dev.lock (with
hashes), and the backend's tests run on the versions its image ships. A change of either
pyproject.toml without `make lock`, a backend lock that moved without the harness's, or a .venv
installed from ranges fails here."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.core.paths import REPO_ROOT
from verification.environment import DEV_LOCK, IMAGE_LOCK, environment_line, pins_here, venv_drift

pytestmark = pytest.mark.harness

HARNESS_PYPROJECT = REPO_ROOT / "pyproject.toml"
BACKEND_PYPROJECT = REPO_ROOT / "images" / "backend" / "pyproject.toml"
DOCKERFILE = REPO_ROOT / "images" / "backend" / "Dockerfile"


def declared() -> list[Requirement]:
    harness = tomllib.loads(HARNESS_PYPROJECT.read_text())["project"]
    backend = tomllib.loads(BACKEND_PYPROJECT.read_text())["project"]
    return [Requirement(r) for r in (*harness["dependencies"], *backend["dependencies"],
                                      *backend["optional-dependencies"]["test"])]


def test_the_lock_satisfies_every_declared_range():
    pins = pins_here(DEV_LOCK)
    wrong = [f"{req} (locked: {pins.get(canonicalize_name(req.name), 'absent')})" for req in declared()
             if pins.get(canonicalize_name(req.name)) not in req.specifier]
    assert wrong == [], "requirements-dev.lock is older than pyproject.toml: run `make lock`\n" + "\n".join(wrong)


def test_the_backends_tests_run_on_the_versions_its_image_ships():
    dev = pins_here(DEV_LOCK)
    image = pins_here(IMAGE_LOCK)
    drift = {name: (version, dev.get(name)) for name, version in image.items() if dev.get(name) != version}
    assert drift == {}, f"image lock → dev lock versions differ: {drift}; run `make lock`"


def test_every_pin_carries_a_hash():
    text = re.sub(r"\\\n\s*", " ", DEV_LOCK.read_text())
    pins = [line for line in text.splitlines() if "==" in line and not line.lstrip().startswith("#")]
    assert pins and all("--hash=sha256:" in line for line in pins)


def test_the_venv_is_installed_from_the_lock():
    """What `make setup` installed is what the lock says (not a newer release a range let in)."""
    assert venv_drift() == {}, "lock → installed differ; run `make setup` (it installs requirements-dev.lock)"


def test_the_report_header_names_both_environments():
    line = environment_line()
    assert line.startswith("harness: requirements-dev.lock ") and "pytest " in line
    assert "backend image and its tests: images/backend/requirements.lock " in line and "fastapi " in line


def test_the_image_installs_its_lock_with_hashes_and_nothing_else():
    dockerfile = DOCKERFILE.read_text()
    assert "COPY requirements.lock" in dockerfile and "-r requirements.lock" in dockerfile
    assert all("--hash=sha256:" in line for line in re.sub(r"\\\n\s*", " ", IMAGE_LOCK.read_text()).splitlines()
               if "==" in line and not line.lstrip().startswith("#"))
