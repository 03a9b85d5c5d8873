"""What a result was measured on: a fingerprint of the tree, part by part.

Every results file of ``make acceptance`` (and a person's sign-off) carries the fingerprint of the
tree its tests ran on. The report compares it with the tree as it is now: results of another tree
are STALE, not PASS, and the report names the parts that changed (chart, images, harness, tests,
docs) and the command that refreshes them. The image benchmark keeps its own, narrower recipe
fingerprint (verification/verdicts.py), since only a build's inputs change its time.

The files are the ones git would commit (tracked, and untracked ones it does not ignore), read as
they are in the working tree, so an uncommitted edit counts. Outside a git checkout every file
below the repository is read except the usual local state.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from harness.core.paths import REPO_ROOT

# The parts of the tree, by path prefix; the first match wins, the rest is "other".
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chart", ("chart/",)),
    ("images", ("images/",)),
    ("harness", ("harness/", "load/", "scripts/", ".ci/", "conftest.py", "pyproject.toml", "requirements-dev.lock",
                 "Makefile")),
    ("tests", ("verification/",)),
    ("docs", ("README.md", "DEPLOYMENT.md", ".env.example", "docs/")),
)
# Not part of what a result was measured on: a person's signatures are written after the run.
EXCLUDED = ("verification/signoffs.yaml",)
_LOCAL_STATE = {".git", ".venv", "node_modules", ".next", "reports", "__pycache__", ".pytest_cache", ".cache"}


def _files(root: Path) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, timeout=30, check=True).stdout
        names = {name for name in out.decode().split("\0") if name}
    except (OSError, subprocess.SubprocessError):
        names = set()
        for parent, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _LOCAL_STATE]
            names.update((Path(parent) / f).relative_to(root).as_posix() for f in files)
    return sorted(name for name in names if name not in EXCLUDED)


def part_of(name: str) -> str:
    for part, prefixes in PARTS:
        if any(name == p or name.startswith(p) for p in prefixes):
            return part
    return "other"


def tree_fingerprint(root: Path = REPO_ROOT, files: Iterable[str] | None = None) -> dict[str, str]:
    """Part → a short hash of its files' names and contents (a deleted tracked file counts as gone)."""
    digests: dict[str, hashlib._Hash] = {part: hashlib.sha256() for part, _ in PARTS}
    digests["other"] = hashlib.sha256()
    for name in (_files(root) if files is None else sorted(files)):
        path = root / name
        if not path.is_file():  # a tracked file deleted in the working tree
            continue
        digest = digests[part_of(name)]
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return {part: digest.hexdigest()[:16] for part, digest in digests.items()}


def changed_parts(then: dict[str, str] | None, now: dict[str, str]) -> list[str]:
    """The parts whose fingerprint differs, among those the result carries (the parts its stage reads,
    verification/reuse.py); every part when it carries none."""
    if not then:
        return list(now)
    return [part for part in now if part in then and then[part] != now[part]]
