"""Scratch copies of the tree: where a mutant is applied and its tests run, never the working tree.

A copy holds the files git would commit (tracked, and untracked ones it does not ignore), so
local state (``.venv``, ``node_modules``, reports) stays out; the project's ``.venv`` and the
frontend's ``node_modules`` are linked in for the tools that look for them. Tests run with the
main ``.venv``'s Python, the copy as working directory and root, and ``PYTHONPATH`` naming the
copy first, so ``harness`` and ``verification`` import from the copy (:func:`check_imports`
proves it). Every copy is removed by :func:`scratch_copy`'s exit, also after a failure or
Ctrl-C; :func:`remove_all` sweeps what an interrupted run still holds.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.mutation.catalogue import OVERRIDE_DIR

PREFIX = "todo-mutant-"
# Linked, not copied: local state the tests may look for at the repository's root.
LINKED = (".venv", "images/frontend/node_modules")
# Helm subcommands that take values files: the wrapper puts the override files first, so the
# test's own -f/--set still win, exactly as an edit of the chart's values.yaml would behave.
VALUES_SUBCOMMANDS = ("template", "install", "upgrade", "lint")

_live: set[Path] = set()
_lock = threading.Lock()


def tree_files(root: Path) -> list[str]:
    """The files of ``root`` as git sees them (or every file when ``root`` is not a git tree)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, timeout=30, check=True).stdout
        return sorted(name for name in out.decode().split("\0") if name and (root / name).is_file())
    except (OSError, subprocess.SubprocessError):
        skip = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", "reports"}
        names = []
        for parent, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in skip]
            names += [(Path(parent) / f).relative_to(root).as_posix() for f in files]
        return sorted(names)


@contextmanager
def scratch_copy(root: Path = REPO_ROOT, files: list[str] | None = None) -> Iterator[Path]:
    """A fresh copy of ``root``'s files in a temporary folder, removed on exit."""
    dest = Path(tempfile.mkdtemp(prefix=PREFIX))
    with _lock:
        _live.add(dest)
    try:
        for name in files if files is not None else tree_files(root):
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
        for name in LINKED:
            if (root / name).exists() and not (dest / name).exists():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).symlink_to(root / name)
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        with _lock:
            _live.discard(dest)


def remove_all() -> None:
    """Remove every scratch copy this process still holds (after Ctrl-C)."""
    with _lock:
        leftovers = list(_live)
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def helm_wrapper(copy: Path, real_helm: str, values_files: list[Path]) -> Path:
    """A ``helm`` for ``$HELM`` that adds ``values_files`` (first) to every command taking values."""
    folder = copy / OVERRIDE_DIR
    folder.mkdir(exist_ok=True)
    flags = " ".join(f"-f {shlex.quote(str(path))}" for path in values_files)
    script = folder / "helm"
    script.write_text(
        "#!/bin/sh\n"
        "# The mutation runner's helm: the mutant's values override first, then the caller's arguments.\n"
        f'case "$1" in {"|".join(VALUES_SUBCOMMANDS)})\n'
        f'  sub="$1"; shift; exec {shlex.quote(real_helm)} "$sub" {flags} "$@";;\n'
        "esac\n"
        f'exec {shlex.quote(real_helm)} "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_env(copy: Path, extra: Mapping[str, str] | None = None, fallback: Path | None = REPO_ROOT) -> dict[str, str]:
    """The environment a copy's tests run in: PYTHONPATH names the copy (and the backend's
    sources in it) first; ``fallback`` last, for a copy that lacks the harness (a test's tiny tree)."""
    paths = [str(copy), str(copy / "images" / "backend" / "src")]
    if fallback is not None:
        paths.append(str(fallback))
    env = dict(os.environ)
    env.update({"PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


def python() -> str:
    """The Python of the project's .venv (this process's, when it runs from it)."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def check_imports(copy: Path, env: Mapping[str, str], packages: tuple[str, ...] = ("harness", "verification")) -> None:
    """Raise RuntimeError unless each package the copy holds imports from the copy under ``env``."""
    present = [p for p in packages if (copy / p / "__init__.py").exists()]
    if not present:
        return
    code = "import importlib, sys; print('\\n'.join(importlib.import_module(p).__file__ for p in sys.argv[1:]))"
    out = subprocess.run([python(), "-c", code, *present], cwd=copy, env=dict(env), capture_output=True, text=True,
                         timeout=60, check=False)
    files = out.stdout.split()
    if out.returncode != 0 or len(files) != len(present):
        raise RuntimeError(f"importing {present} in the scratch copy failed: {out.stderr.strip()[-500:]}")
    for package, file in zip(present, files, strict=True):
        if copy.resolve() not in Path(file).resolve().parents:
            raise RuntimeError(f"in the scratch copy {copy}, {package} imports from {file}, not from the copy: "
                               "a mutant would be tested against the working tree")
