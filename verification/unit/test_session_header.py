"""`pytest verification/` says in its header which tiers this machine runs and, for each one it does
not, why and what to install or set: a person learns before the run what its skips will be."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.core.paths import REPO_ROOT

pytestmark = pytest.mark.harness


def header(tmp_path, **env: str) -> list[str]:
    """The header lines of a real session (collection only) run from the repository root."""
    run_env = {**os.environ, "HOME": str(tmp_path), **env}
    done = subprocess.run([sys.executable, "-m", "pytest", "verification/unit/test_repository_self_contained.py",
                           "--co", "-p", "no:cacheprovider"], cwd=REPO_ROOT, env=run_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.startswith(("tiers ", "tier "))]


def test_the_header_names_each_tier_that_will_not_run_and_why(tmp_path):
    """No helm (an empty HOME and PATH, no $HELM) and no Docker engine (DOCKER_HOST at a socket that
    does not exist): the static, image, runtime and load tiers are named with the fix."""
    lines = header(tmp_path, PATH=str(tmp_path), HELM="", DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock",
                   REQUIRE_TIERS="")
    said = "\n".join(lines)
    assert lines[0].startswith("tiers this machine runs: ") and "docs, harness" in lines[0]
    for tier in ("static", "image", "runtime", "load", "cluster"):
        assert f"tier {tier} skips: " in said, said
    assert "helm not found" in said and "no Docker engine answers" in said and "--cluster=" in said


def test_a_required_tier_that_cannot_run_is_announced_as_failing(tmp_path):
    lines = header(tmp_path, PATH=str(tmp_path), HELM="", REQUIRE_TIERS="static")
    assert any(line.startswith("tier static FAILS (REQUIRE_TIERS): helm not found") for line in lines), lines
