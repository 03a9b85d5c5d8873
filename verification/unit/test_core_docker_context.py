"""The harness talks to the engine the docker CLI talks to: with no DOCKER_HOST, the active Docker
context (Colima, Docker Desktop on a Mac and rootless Docker serve no /var/run/docker.sock)."""

from __future__ import annotations

import subprocess

import pytest

from harness.core import docker as docker_engine

pytestmark = pytest.mark.harness


@pytest.fixture
def colima_like_context(tmp_path, monkeypatch):
    """A Docker config of its own whose active context points at a socket where nothing listens,
    made with the docker CLI itself (`docker context create` / `use`)."""
    try:
        cli = docker_engine.cli()
    except docker_engine.NoDockerClient:
        pytest.skip("no docker CLI here to create a context with")
    socket = tmp_path / "colima" / "docker.sock"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    for argv in (["context", "create", "colima", "--docker", f"host=unix://{socket}"], ["context", "use", "colima"]):
        subprocess.run([cli, *argv], check=True, capture_output=True, timeout=30)
    return socket


def test_the_active_context_is_where_the_harness_connects(colima_like_context):
    assert docker_engine.endpoint() == f"unix://{colima_like_context} (docker context colima)"
    problem = docker_engine.engine_problem(timeout=2)
    assert problem is not None and f"at unix://{colima_like_context}" in problem, problem


def test_docker_host_wins_over_the_context(colima_like_context, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/other.sock")
    assert docker_engine.endpoint() == f"unix://{tmp_path}/other.sock (DOCKER_HOST)"
    assert f"unix://{tmp_path}/other.sock" in (docker_engine.engine_problem(timeout=2) or "")


def test_ensure_docker_names_the_contexts_engine_and_starts_no_other(colima_like_context):
    """scripts/ensure-docker.sh (make up, make load) with the active context's engine down: one line
    naming that endpoint; it must not start the machine's own dockerd in its place."""
    from harness.core.paths import REPO_ROOT

    done = subprocess.run([str(REPO_ROOT / "scripts" / "ensure-docker.sh")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "starting dockerd" not in done.stderr
    assert f"no Docker engine answers at unix://{colima_like_context} (docker context colima" in done.stderr
