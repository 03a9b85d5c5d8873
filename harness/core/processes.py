"""Running commands and watching processes: one runner for every engine.

:func:`run` captures text output and, on a non-zero exit, raises :class:`CommandFailed`, which
names the command (with ``--kubeconfig``/``--token`` values left out) and the tail of what it
said: the message a person needs, not a bare exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

HIDDEN_FLAGS = ("--kubeconfig", "--token", "--password")
TAIL_CHARS = 2000


class CommandFailed(subprocess.CalledProcessError):
    """A command exited non-zero. Still a CalledProcessError, so existing handlers catch it."""

    def __str__(self) -> str:
        said = (self.stderr or self.output or "").strip()[-TAIL_CHARS:]
        return f"{shown(self.cmd)} failed ({self.returncode}): {said or 'no output'}"


def shown(argv: Sequence[str]) -> str:
    """The command line as it may be printed: flags that carry credentials or paths to them left out."""
    return " ".join(str(a) for a in argv if not str(a).startswith(HIDDEN_FLAGS))


def run(argv: Sequence[str], *, check: bool = True, timeout: float | None = None, input: str | None = None,
        cwd: str | Path | None = None, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion with text output captured; raise :class:`CommandFailed` when
    ``check`` and it exits non-zero (``subprocess.TimeoutExpired`` past ``timeout``)."""
    result = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=dict(env) if env is not None else None, check=False)
    if check and result.returncode != 0:
        raise CommandFailed(result.returncode, list(argv), result.stdout, result.stderr)
    return result


def run_with_progress(argv: Sequence[str], *, label: str, step: Callable[[str], bool],
                      env: Mapping[str, str] | None = None, say: Callable[[str], None] | None = None,
                      ) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with stdout and stderr merged and kept whole, and say each line that ``step``
    picks as it comes, with the time so far: a build of several minutes is not silent till its end."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    started = time.monotonic()
    kept: list[str] = []
    with subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(env) if env is not None else None) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            kept.append(line)
            if step(line):
                say(f"{label}: {time.monotonic() - started:5.0f} s  {line.rstrip()[:160]}")
    return subprocess.CompletedProcess(list(argv), proc.returncode, "".join(kept), "")


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) said it exists


def cmdline(pid: int) -> str:
    """The process's command line ('' when gone or unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
