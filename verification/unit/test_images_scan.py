"""The image secret scanner (harness/images/scan.py) finds what it looks for.

The image tier's no-secret tests (FR-003, US2-5) pass when the scanner reports nothing; a scanner
that stopped seeing a token shape, a credentials file or a layer would let them pass on an image
full of secrets. These tests feed it each kind of secret, in bytes, in the image configuration and
history, and inside the layers of a ``docker save`` archive built here (no Docker needed).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from harness.images import scan
from verification.static import relying

pytestmark = pytest.mark.harness

# The IDs of the image tier's tests that ask the scanner (test_no_secret_in_any_layer,
# test_no_secret_in_config_or_history); test_scan_guards_are_the_ids_of_the_tests_that_ask_it keeps them in step.
SCAN_GUARDS = ("FR-003", "US2-5")
IMAGE_TESTS = Path(__file__).parents[1] / "images" / "test_images.py"


def _pem() -> str:  # built at run time so that no sample sits in this repository
    return "-----BEGIN " + "PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 3 + "\n"


@pytest.mark.guards(*SCAN_GUARDS)
def test_secret_scanner_finds_what_it_looks_for() -> None:
    """The scan is only as good as its patterns: each must fire on a sample."""
    samples = {
        "private key (PEM)": _pem(),
        "AWS access key id": "AKIA" + "Z7Q2" * 4,
        "GitHub token": "ghp_" + "a1B2" * 9,
        "npm token": "npm_" + "x9Y8" * 9,
        "OpenAI API key": "sk-proj-" + "a" * 24 + "T3Blbk" + "FJ" + "b" * 24,
        "Slack token": "xoxb-" + "123456789" + "-" + "abcdefghijKL",
        "Google API key": "AIza" + "Q" * 35,
    }
    assert set(samples) == set(scan.TOKEN_PATTERNS), "a token pattern without a sample here"
    for kind, text in samples.items():
        assert kind in scan.scan_bytes(f"x = '{text}'\n".encode(), []), f"the {kind} pattern does not fire"
    assert scan.scan_bytes(b"the value s3cr3t-v4lue here", [b"s3cr3t-v4lue"])
    assert not scan.scan_bytes(b"-----BEGIN PRIVATE KEY-----' + type + '", [])


@pytest.mark.guards(*SCAN_GUARDS)
def test_secret_scanner_reads_the_configuration_and_the_history() -> None:
    attrs = {"Config": {"Env": ["PATH=/usr/bin", "JWT_SECRET=abc", "PIP_CERT=/run/secrets/ca.crt", "X=planted-1"],
                        "Labels": {"note": "planted-2"}, "Cmd": ["run", "--token", "planted-3"]}}
    history = [{"CreatedBy": "|1 DATABASE_URL=postgresql://u:p@h/d /bin/sh -c make"},
               {"CreatedBy": "ENV OPENAI_API_KEY=sk-x"},
               {"CreatedBy": "RUN echo planted-4"}]
    kinds = [str(f) for f in scan.scan_metadata(attrs, history, ["planted-1", "planted-2", "planted-3", "planted-4"])]
    expected = ["config Env: sensitive variable JWT_SECRET", "config Env: build-time variable PIP_CERT",
                "label note: a secret value", "image config: a secret value",
                "history step 0: sensitive build arg or env DATABASE_URL", "history step 1: ENV OPENAI_API_KEY",
                "history step 2: a secret value"]
    for text in expected:
        assert any(k.startswith(text) for k in kinds), f"missed {text!r}: {kinds}"
    assert not scan.scan_metadata({"Config": {"Env": ["PATH=/usr/bin", "JWT_SECRET="]}}, [{"CreatedBy": "RUN make"}])


def _layer(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _saved_image(path: Path, layers: list[dict[str, bytes]]) -> Path:
    """A ``docker save`` archive: manifest.json naming each layer tarball."""
    names = [f"{i:064x}/layer.tar" for i in range(1, len(layers) + 1)]
    with tarfile.open(path, "w") as tar:
        for name, data in [("manifest.json", json.dumps([{"Config": "c.json", "Layers": names}]).encode()),
                           *zip(names, map(_layer, layers), strict=True)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.guards(*SCAN_GUARDS)
def test_secret_scanner_looks_into_every_file_of_every_layer(tmp_path: Path) -> None:
    archive = _saved_image(tmp_path / "image.tar", [
        {"etc/os-release": b"ID=debian\n", "app/.env.example": b"JWT_SECRET=change-me\n"},
        {"app/.env": b"X=1\n", "run/secrets/ca.crt": b"cert\n", "app/.wh.old": b"",
         "app/deploy/id_rsa": b"k", "app/settings.py": b"TOKEN = 'planted-value'\n"},
        {"app/static/key.txt": _pem().encode()},
    ])
    findings, scanned = scan.scan_layers(archive, ["planted-value"])
    found = {(f.where.split(": ", 1)[1], f.kind) for f in findings}
    assert scanned == 7, scanned  # every regular file but the whiteout (a deletion marker)
    assert {("/app/.env", "a credentials file by its name"),
            ("/run/secrets/ca.crt", "a file under /run/secrets (a BuildKit secret left behind)"),
            ("/app/deploy/id_rsa", "a credentials file by its name"),
            ("/app/settings.py", "a secret value the test planted or passed"),
            ("/app/static/key.txt", "private key (PEM)")} <= found, found
    assert not [f for f in found if f[0] in ("/etc/os-release", "/app/.env.example", "/app/.wh.old")], found


def test_scan_guards_are_the_ids_of_the_tests_that_ask_it() -> None:
    assert set(SCAN_GUARDS) == relying.relying_ids(IMAGE_TESTS, "image", relying.using("scan"))
