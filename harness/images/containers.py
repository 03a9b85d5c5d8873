"""Containers started from the application images the way the chart runs them, for the image tier.

Ports are published on 127.0.0.1 only; the root filesystem is read-only with tmpfs mounts at the
paths the chart declares writable; every container carries :data:`LABEL`, so a leftover is
recognisable. The image tier's fixtures (``verification/images/conftest.py``) start and remove them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from harness import contract
from harness.core.wait import wait_for

LABEL = "todo-chatbot.test"  # every container this tier starts carries it
PORTS = {"backend": contract.BACKEND_PORT, "frontend": contract.FRONTEND_PORT}
WRITABLE = {"backend": contract.BACKEND_WRITABLE_PATHS, "frontend": contract.FRONTEND_WRITABLE_PATHS}
START_TIMEOUT = 90  # seconds until a container answers its health check (2 shared cores)


@dataclass
class Running:
    container: Any
    url: str  # http://127.0.0.1:<published port>

    def logs(self) -> str:
        try:
            return self.container.logs().decode(errors="replace")
        except Exception as exc:  # noqa: BLE001 - already gone
            return f"(no logs: {exc})"

    def describe(self) -> str:
        try:
            self.container.reload()
            state = self.container.attrs["State"]
            status = f"status={state.get('Status')} exit={state.get('ExitCode')}"
        except Exception as exc:  # noqa: BLE001
            status = f"(state unknown: {exc})"
        tail = "\n".join(self.logs().splitlines()[-20:])
        return f"container {self.container.name}: {status}; last log lines:\n{tail}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, str, dict[str, str]]:
        req = urllib.request.Request(self.url + path, headers={"Accept": "text/html,application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(errors="replace"), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), dict(exc.headers or {})

    def wait_healthy(self, path: str, timeout: float = START_TIMEOUT) -> tuple[int, str, dict[str, str]]:
        def ok() -> tuple[int, str, dict[str, str]] | None:
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                raise AssertionError(f"the container exited:\n{self.describe()}")
            result = self.get(path, timeout=3)
            return result if result[0] == 200 else None

        return wait_for(ok, what=f"{self.url}{path} to answer 200", timeout=timeout, describe=self.describe)

    def exec(self, *cmd: str) -> tuple[int, str]:
        code, out = self.container.exec_run(list(cmd))
        return code, out.decode(errors="replace")


def start(docker_client: Any, ref: str, app: str, env: dict[str, str], *, read_only: bool = True,
          command: list[str] | None = None, entrypoint: list[str] | None = None, network: str | None = None) -> Running:
    """Start an app container (read-only root, tmpfs at the declared writable paths, port on 127.0.0.1)."""
    port = PORTS[app]
    kwargs: dict[str, Any] = {
        "detach": True,
        "environment": env,
        "name": f"todo-image-test-{app}-{uuid.uuid4().hex[:8]}",
        "labels": {LABEL: "image"},
        "ports": {f"{port}/tcp": ("127.0.0.1", None)},
        "read_only": read_only,
        "tmpfs": {path: "rw,nosuid,nodev,size=64m,mode=1777" for path in WRITABLE[app]} if read_only else {},
        "mem_limit": "512m",
        "pids_limit": 256,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    kwargs |= given(command=command, entrypoint=entrypoint, network=network)
    container = docker_client.containers.run(ref, **kwargs)
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    host_port = bindings[0]["HostPort"] if bindings else "0"
    return Running(container, f"http://127.0.0.1:{host_port}")


def given(**options: Any) -> dict[str, Any]:
    """The options that were given (not None): Docker's own defaults stand for the rest."""
    return {key: value for key, value in options.items() if value is not None}


def run_once(docker_client: Any, ref: str, env: dict[str, str], *, command: list[str] | None = None,
             entrypoint: list[str] | None = None, read_only: bool = False, timeout: float = 60,
             user: str | None = None) -> tuple[int, str]:
    """Run a container to completion; (exit code, combined output). Always removed."""
    kwargs: dict[str, Any] = {"detach": True, "environment": env, "labels": {LABEL: "image"}, "read_only": read_only,
                              "network_mode": "none"}
    if read_only:
        kwargs["tmpfs"] = {"/tmp": "rw,nosuid,nodev,size=64m,mode=1777"}
    kwargs |= given(command=command, entrypoint=entrypoint, user=user)
    container = docker_client.containers.run(ref, **kwargs)
    try:
        result = container.wait(timeout=timeout)
        return int(result.get("StatusCode", -1)), container.logs().decode(errors="replace")
    finally:
        container.remove(force=True, v=True)


def image_attrs(docker_client: Any, ref: str) -> dict[str, Any]:
    return docker_client.images.get(ref).attrs


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)[:2000]
