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
    """An API client for the engine the docker CLI would talk to: DOCKER_HOST, else the active Docker
    context (DOCKER_CONTEXT or `docker context use`: Colima, Docker Desktop on a Mac, rootless Docker
    have no /var/run/docker.sock), else the default socket. The Docker SDK >= 7.2 resolves contexts."""
    import docker

    return docker.from_env(timeout=timeout)


def endpoint() -> str:
    """Where ``client()`` connects, in words: the host and, when it came from one, the context."""
    if host := os.environ.get("DOCKER_HOST"):
        return f"{host} (DOCKER_HOST)"
    from docker.constants import DEFAULT_UNIX_SOCKET
    from docker.context import ContextAPI
    from docker.context.config import get_current_context_name

    name = os.environ.get("DOCKER_CONTEXT") or get_current_context_name()
    base_url = ContextAPI.kwargs_from_context(name).get("base_url") or DEFAULT_UNIX_SOCKET
    return f"{base_url} (docker context {name})"


def engine_problem(timeout: float = 5) -> str | None:
    """None when an engine answers, else one line saying where nobody answered and how to get one."""
    try:
        api = client(timeout=timeout)
        try:
            api.ping()
        finally:
            api.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        try:
            where = f" at {endpoint()}"
        except Exception:  # noqa: BLE001 - an unreadable context: say what we can
            where = ""
        if "permission denied" in str(exc).lower():  # an engine runs, but its socket is not ours to use
            return (f"the Docker engine{where} refuses this user (permission denied on its socket): "
                    "'sudo usermod -aG docker $USER' and log in again, or use rootless Docker or Docker Desktop")
        return (f"no Docker engine answers{where} ({type(exc).__name__}): start one with 'scripts/ensure-docker.sh' "
                f"or {INSTALL_HINT}")
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
