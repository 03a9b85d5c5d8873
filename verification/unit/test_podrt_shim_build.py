"""The runtime tier's kube-shim runs inside the Docker engine's Linux (a VM on a Mac), so it is built
for linux/<the engine's architecture> whatever the host is: a Mac's Go would otherwise build a Mach-O
binary that the FROM-scratch image cannot run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.podrt.shim import _GOARCH, build_binary

pytestmark = pytest.mark.harness

ELF_MAGIC = b"\x7fELF"
ELF_MACHINE = {"amd64": 0x3E, "arm64": 0xB7}  # e_machine at offset 18 (little-endian)


def test_the_shim_is_a_linux_binary_even_when_the_host_builds_for_another_system(tmp_path, monkeypatch):
    if not (shutil.which("go") or Path("/usr/local/go/bin/go").exists()):
        pytest.skip("Go is not installed: the shim cannot be built here")
    monkeypatch.setenv("GOOS", "darwin")  # what a Mac's Go would build by default
    monkeypatch.setenv("GOARCH", "arm64")
    out = tmp_path / "kube-shim"
    build_binary("amd64", out)
    head = out.read_bytes()[:20]
    assert head[:4] == ELF_MAGIC, "not a Linux (ELF) binary"
    assert int.from_bytes(head[18:20], "little") == ELF_MACHINE["amd64"], "not built for the engine's architecture"


def test_the_engines_architecture_names_map_to_go():
    assert _GOARCH["x86_64"] == _GOARCH["amd64"] == "amd64"
    assert _GOARCH["aarch64"] == _GOARCH["arm64"] == "arm64"
