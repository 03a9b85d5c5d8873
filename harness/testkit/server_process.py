"""A server started as a child process, with a health wait and a graceful stop.

Used by the applications' tests and the end-to-end tests to run the real backend
(`todo-api`) and the real frontend (`node dist/server/main.js` in its standalone build) on loopback ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from harness.core.lifecycle import Managed
from harness.core.wait import wait_for


class ServerProcess(Managed):
    """A context manager: start ``argv`` with ``env``, wait until ``health_path`` answers 200.

    Output goes to a log file (``log_path``) so a failing test can show the last lines.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str],
        health_path: str = "/healthz",
        cwd: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
        inherit_env: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.health_path = health_path
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.env = {**(os.environ if inherit_env else {}), **env}
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self, wait: bool = True) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float | None = None) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}")
            return httpx.get(self.url + self.health_path, timeout=2).status_code == 200

        wait_for(
            healthy,
            what=f"{self.name} to answer 200 on {self.url}{self.health_path}",
            timeout=timeout or self.start_timeout,
            describe=lambda: f"last log lines of {self.name}:\n{self.tail()}",
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)

    def close(self) -> None:
        self.stop()

    # -- inspection --------------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 50) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])
