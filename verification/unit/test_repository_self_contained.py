"""The repository is self-contained: a user's clone has nothing beside it.

The project was written next to a folder of shared material (the specification among it) that a
clone does not carry. Anything the project reads must live in the repository; this test searches
every tracked text file for a path that leaves the repository towards that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from verification.fingerprint import _files as repository_files

pytestmark = pytest.mark.harness

# The ways a path out of the repository to the shared folder has been (or could be) written: a
# relative "../shared", Path(...).parent / "shared", parents[n] / "shared", an absolute /work/shared.
# This file names them as examples, so it is the one file not searched.
_SHARED = "shared"
OUTSIDE = re.compile(
    rf"\.\./{_SHARED}\b"
    rf"|\.parents?\b[^\n]{{0,40}}/\s*[\"']{_SHARED}[\"']"
    rf"|/work/{_SHARED}\b"
)


def tracked_text_files() -> list[str]:
    """The files git would commit (every file but local state outside a checkout), lock files aside."""
    itself = Path(__file__).resolve().relative_to(REPO_ROOT).as_posix()
    return [name for name in repository_files(REPO_ROOT)
            if name != itself and not name.endswith(("package-lock.json", ".png"))]


def reads_outside(text: str) -> list[str]:
    return [match.group(0) for match in OUTSIDE.finditer(text)]


def test_the_pattern_sees_every_way_out_of_the_repository():
    assert reads_outside("SPEC = REPO_ROOT.parent / 'shared' / 'spec.md'")
    assert reads_outside('p = Path(__file__).parents[2] / "shared"')
    assert reads_outside("see ../shared/spec/phase-iv-infrastructure-spec.md")
    assert reads_outside("cat /work/shared/DESIGN.md")
    assert not reads_outside("a shared cluster; shared_state = 1; docs/spec/phase-iv-infrastructure-spec.md")


def test_no_tracked_file_reads_outside_the_repository():
    found = []
    for name in tracked_text_files():
        try:
            text = (REPO_ROOT / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found += [f"{name}: {hit}" for hit in reads_outside(text)]
    assert found == [], "paths outside the repository (a clone lacks them; keep the file in the repository):\n" + \
        "\n".join(found)
