"""The local cluster's component processes: their binaries (built from pinned sources), starting
each in a session of its own with a pid file and a log, and stopping them; the containerd shims and
the kubelet's pod cgroups they leave."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from harness.core.paths import SCRIPTS_DIR
from harness.core.processes import alive
from harness.localk8s.config import Layout, component_argv
from harness.localk8s.prerequisites import go_binary


def build_binaries(timeout: float | None = None) -> None:
    """The cached builds (instant when the pinned versions are already built). Their progress lines
    go to stderr: a cold build takes minutes. ``timeout`` bounds each of the two build scripts."""
    env = dict(os.environ)
    if (go := go_binary()) and not shutil.which("go"):
        env["PATH"] = f"{env.get('PATH', '')}{os.pathsep}{Path(go).parent}"
    for script in ("build-kubernetes.sh", "build-cluster-tools.sh"):
        argv = ["nice", "-n", "10", str(SCRIPTS_DIR / script)]
        # A group of its own, so that a deadline (or Ctrl-C) stops the Go compilers too, not only the script.
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env, start_new_session=True) as proc:
            try:
                code = proc.wait(timeout=timeout)
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
        if code:
            raise subprocess.CalledProcessError(code, argv)


def start(name: str, layout: Layout, ip: str) -> int:
    """Start one component in a session of its own: output to ``logs/NAME.log``, pid to ``pids/NAME.pid``."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    out = open(layout.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(component_argv(name, layout, ip), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            start_new_session=True, cwd=layout.run)
    (layout.pids / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def pid_of(name: str, layout: Layout) -> int | None:
    try:
        return int((layout.pids / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def give_up_if_exited(component: str, what: str, layout: Layout) -> Callable[[], str | None]:
    """A ``give_up`` for ``harness.core.wait.wait_for``: once ``component`` has exited, the message
    that says so, with the last lines of its log."""

    def exited() -> str | None:
        if (pid := pid_of(component, layout)) and not alive(pid):
            tail = (layout.logs / f"{component}.log").read_text(errors="replace").splitlines()[-15:]
            return f"{component} exited while waiting for {what}:\n" + "\n".join(tail)
        return None

    return exited


def terminate(pid: int, timeout: float = 20) -> None:
    """SIGTERM, SIGKILL after ``timeout`` seconds; returns once the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)


def our_shims(layout: Layout) -> list[int]:
    """containerd-shim processes started by our containerd (their command line names our socket)."""
    found = []
    needle = str(layout.containerd_socket).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmd and needle in cmd:
            found.append(int(entry.name))
    return found


def remove_pod_cgroups() -> None:
    """The kubelet's ``kubepods`` cgroups (deepest first), in every hierarchy; busy ones stay."""
    for cg_root in Path("/sys/fs/cgroup").glob("*"):
        kubepods = cg_root / "kubepods"
        if kubepods.is_dir():
            for d in sorted((p for p in kubepods.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                kubepods.rmdir()
            except OSError:
                pass
