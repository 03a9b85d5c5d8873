"""The Docker engine: one way to get an API client, the CLI that builds, and image look-ups."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path
from typing import Any

DEBIAN_CLIENT = Path("/usr/bin/docker")  # builds with BuildKit (the newer client on PATH here lacks buildx)
INSTALL_HINT = "run 'make setup' (Debian, as root), 'sudo apt-get install docker.io', or start Docker Desktop"


class NoDockerClient(RuntimeError):
    """No docker CLI on this machine."""


def client(timeout: float = 60) -> Any:
    """An API client for the engine of the environment (DOCKER_HOST or the default socket)."""
    import docker

    return docker.from_env(timeout=timeout)


def engine_problem(timeout: float = 5) -> str | None:
    """None when an engine answers, else one line saying so and how to get one."""
    try:
        api = client(timeout=timeout)
        try:
            api.ping()
        finally:
            api.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        return f"no Docker engine answers ({type(exc).__name__}): start one with 'scripts/ensure-docker.sh' or {INSTALL_HINT}"
    return None


@cache
def cli() -> str:
    """The docker client to run: $DOCKER, else Debian's (BuildKit built in), else PATH."""
    if env := os.environ.get("DOCKER"):
        return env
    if DEBIAN_CLIENT.exists():
        return str(DEBIAN_CLIENT)
    found = shutil.which("docker")
    if not found:
        raise NoDockerClient(f"no docker client: {INSTALL_HINT}")
    return found


def image_exists(ref: str, api: Any | None = None) -> bool:
    """True when the engine has ``ref`` (through ``api`` when given, else the CLI)."""
    if api is not None:
        import docker.errors

        try:
            api.images.get(ref)
            return True
        except docker.errors.ImageNotFound:
            return False
    from harness.core.processes import run

    return run([cli(), "image", "inspect", "--format", "{{.Id}}", ref], check=False, timeout=60).returncode == 0
