"""The environments a report's results were produced in: the harness's virtualenv
(``requirements-dev.lock``) and the backend's (``images/backend/requirements.lock``, which its image
installs and which the harness's lock is compiled under, so the backend's tests run on the same
versions). The acceptance report's header names both, and says when the installed .venv drifted."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.core.paths import REPO_ROOT

DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
IMAGE_LOCK = REPO_ROOT / "images" / "backend" / "requirements.lock"
# The packages the header names, the ones a reader asks about first.
HARNESS_SHOWN = ("pytest", "locust", "kubernetes", "docker", "testcontainers", "playwright")
BACKEND_SHOWN = ("fastapi", "sqlalchemy", "psycopg", "pydantic", "uvicorn")


def locked(path: Path) -> list[Requirement]:
    """The pins of a pip lock file (``name==version ; markers`` lines; hashes and comments aside)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    lines = [line.split(" --hash")[0].strip() for line in text.splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def pins_here(path: Path) -> dict[str, str]:
    """name → version of the pins whose markers hold on this machine."""
    env = default_environment()
    out = {}
    for req in locked(path):
        if req.marker is None or req.marker.evaluate(env):
            (spec,) = req.specifier
            out[canonicalize_name(req.name)] = spec.version
    return out


def venv_drift(path: Path = DEV_LOCK) -> dict[str, tuple[str, str | None]]:
    """name → (locked, installed) for each locked package installed at another version (or not at all)."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    return {name: (version, installed.get(name)) for name, version in pins_here(path).items()
            if installed.get(name) != version}


def _describe(path: Path, shown: tuple[str, ...]) -> str:
    if not path.exists():
        return f"{path.relative_to(REPO_ROOT)} missing"
    pins = pins_here(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return (f"{path.relative_to(REPO_ROOT)} {digest} ("
            + ", ".join(f"{name} {pins[name]}" for name in shown if name in pins) + ")")


def environment_line() -> str:
    """One line for the report's header: both locks, and whether the .venv is the harness's lock."""
    line = (f"harness: {_describe(DEV_LOCK, HARNESS_SHOWN)}; backend image and its tests: "
            f"{_describe(IMAGE_LOCK, BACKEND_SHOWN)}")
    if DEV_LOCK.exists() and (drift := venv_drift()):
        line += f"; the installed .venv differs from the lock in {len(drift)} package(s): run `make setup`"
    return line
