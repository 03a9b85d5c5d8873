"""The system set-up (scripts/setup-system.sh) and the tests look for PostgreSQL and Chromium in the
same places and honour the same overrides (PG_BINDIR, CHROMIUM), so that what the set-up calls
installed is what the tests find: Homebrew's keg-only PostgreSQL and its Chromium cask included."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from harness.testkit import browser, postgres

pytestmark = pytest.mark.harness

SETUP = REPO_ROOT / "scripts" / "setup-system.sh"


def setup_reports(**env: str) -> str:
    """What `setup-system.sh --check` says is missing with these overrides."""
    done = subprocess.run([str(SETUP), "--check"], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60)
    return done.stderr


def test_the_set_up_searches_where_the_tests_search():
    script = SETUP.read_text()
    places = [str(p).replace(str(Path.home()), "$HOME") for p in browser.CHROMIUM_PATHS]
    places += [f"{pattern}/initdb" for pattern in (postgres.DEBIAN_BINDIRS, *postgres.MAC_BINDIRS)]
    assert [place for place in places if place not in script] == []
    assert all(f"command -v {name}" in script for name in browser.CHROMIUM_ON_PATH)


def test_an_override_that_points_nowhere_is_missing_for_both(tmp_path, monkeypatch):
    said = setup_reports(PG_BINDIR=str(tmp_path), CHROMIUM=str(tmp_path / "chromium"))
    assert "missing PostgreSQL server" in said and "missing Chromium" in said
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "chromium"))
    with pytest.raises(postgres.PostgresUnavailable, match=f"PG_BINDIR={tmp_path} has no initdb"):
        postgres.find_bindir()
    assert browser.missing() == f"CHROMIUM={tmp_path / 'chromium'} is not an executable file: point it at a " \
                                "Chromium binary, or unset it"


def test_an_override_that_points_at_the_real_binaries_is_found_by_both():
    try:
        bindir = postgres.find_bindir()
    except postgres.PostgresUnavailable:
        pytest.skip("no PostgreSQL here to point PG_BINDIR at")
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium here to point CHROMIUM at")
    said = setup_reports(PG_BINDIR=str(bindir), CHROMIUM=str(chromium))
    assert "PostgreSQL" not in said and "Chromium" not in said, said


@pytest.fixture
def path_without_node(tmp_path) -> str:
    """A PATH with every program of this machine but Node.js and npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for program in Path(folder).iterdir() if Path(folder).is_dir() else ():
            if program.name not in ("node", "nodejs", "npm", "npx") and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    return str(bin_dir)


def test_without_node_the_frontend_checks_skip_saying_what_to_install(path_without_node):
    env = {**os.environ, "PATH": path_without_node, "REQUIRE_TIERS": ""}
    done = subprocess.run(["make", "--no-print-directory", "test-frontend"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Node.js ^20.19 or >= 22.12 with npm is needed for the frontend (found: none)" in done.stderr
    assert "the frontend's checks skip" in done.stderr


def test_without_node_a_required_app_tier_stops(path_without_node):
    env = {**os.environ, "PATH": path_without_node, "REQUIRE_TIERS": "static,app"}
    done = subprocess.run(["make", "--no-print-directory", "test-frontend"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "skip" not in done.stderr.splitlines()[0]
