"""The kube-shim image: the pod sandbox (``kube-shim pause``) and the Service stand-in
(``kube-shim service-proxy``), built from the Go source in ``harness/podrt/kube_shim/``.

``FROM scratch`` plus a static binary compiled on the host with Go, tagged by a digest of the
recipe: built once per recipe, never pulled from a registry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import docker
import docker.errors

from harness.podrt.labels import LABEL_ROLE

SHIM_DIR = Path(__file__).resolve().parent / "kube_shim"
SHIM_REPOSITORY = "localhost/todo-runtime/kube-shim"


class ShimBuildError(RuntimeError):
    """The kube-shim image could not be built; the message says what to install."""


_shim_lock = threading.Lock()


# Docker's architecture names (the engine's `version` Arch, or `uname -m` style) → Go's GOARCH.
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "arm": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def engine_goarch(client: docker.DockerClient) -> str:
    """The GOARCH of the engine's Linux, where the shim runs (arm64 on an Apple silicon Mac)."""
    arch = str(client.version().get("Arch", "")).lower()
    if arch not in _GOARCH:
        raise ShimBuildError(f"the Docker engine reports architecture {arch!r}, which the kube-shim build does not "
                             f"know: add it to harness/podrt/shim.py's _GOARCH")
    return _GOARCH[arch]


def build_binary(goarch: str, out: Path) -> None:
    """Compile the shim as a static Linux binary for ``goarch``: it runs in the engine's Linux (a VM
    on a Mac), whatever the host's own system, so the build always cross-compiles to linux/<arch>."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ShimBuildError("Go is needed to build the runtime tier's kube-shim image: "
                             "install Go >= 1.24 (https://go.dev/doc/install)")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
           "GOOS": "linux", "GOARCH": goarch}
    result = subprocess.run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."],
                            cwd=SHIM_DIR, env=env, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise ShimBuildError(f"go build of {SHIM_DIR} failed: {result.stderr.strip()[-1500:]}")


def shim_image(client: docker.DockerClient) -> str:
    """The kube-shim image (pause + service proxy), built once per recipe and engine architecture.

    ``FROM scratch`` plus a static binary compiled on the host: no registry needed.
    """
    goarch = engine_goarch(client)
    digest = hashlib.sha256(goarch.encode())
    for name in ("go.mod", "main.go", "Dockerfile"):
        digest.update((SHIM_DIR / name).read_bytes())
    tag = f"{SHIM_REPOSITORY}:{digest.hexdigest()[:12]}"
    with _shim_lock:
        try:
            client.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        with tempfile.TemporaryDirectory(prefix="kube-shim-") as tmp:
            build_binary(goarch, Path(tmp) / "kube-shim")
            shutil.copy(SHIM_DIR / "Dockerfile", Path(tmp) / "Dockerfile")
            client.images.build(path=tmp, tag=tag, rm=True, pull=False, labels={LABEL_ROLE: "shim"})
        return tag
