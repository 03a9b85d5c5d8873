"""Looking for secrets in a built image: every layer tarball (``docker save``), the
image configuration (Env, Labels) and the history (the commands and build args that
made each layer).

A finding names the layer, the path and the kind of secret, never the secret itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness import contract

# Files that hold credentials by convention, wherever they are.
SECRET_FILE_NAMES = re.compile(
    r"^(\.env(\..+)?|id_(rsa|dsa|ecdsa|ed25519)|\.npmrc|\.pypirc|\.netrc|\.git-credentials|"
    r"credentials\.json|service-account.*\.json|.*\.(p12|pfx|keystore|jks))$"
)
# Harmless look-alikes: documented templates.
ALLOWED_FILE_NAMES = re.compile(r"^\.env\.(example|sample|template)$")

# Known token shapes. Each needs real key material after the prefix, so that code which
# merely *handles* such tokens (a PEM parser, a header check) does not trip it.
TOKEN_PATTERNS: dict[str, re.Pattern[bytes]] = {
    "private key (PEM)": re.compile(
        rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=:\- ]+\r?\n)*?[A-Za-z0-9+/=]{40,}"
    ),
    "AWS access key id": re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    "GitHub token": re.compile(rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})"),
    "OpenAI API key": re.compile(rb"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    "Slack token": re.compile(rb"(?<![A-Za-z0-9])xox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{10,}"),
    "npm token": re.compile(rb"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    "Google API key": re.compile(rb"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
}
# Where a BuildKit secret is mounted: nothing may ever be left there.
SECRET_MOUNT_DIR = "run/secrets/"
# Build-time variables that must never persist in the image's environment.
BUILD_ONLY_ENV = {"PIP_CERT", "NODE_EXTRA_CA_CERTS", "NPM_CONFIG_CAFILE", "REQUESTS_CA_BUNDLE", "PIP_INDEX_URL"}
MAX_SCAN_BYTES = 200 * 1024**2  # per file; larger files are reported, not skipped silently


@dataclass(frozen=True)
class Finding:
    where: str  # "layer <id>: <path>", "config Env", "history step 7"
    kind: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}"


def save_image(docker_cli: str, ref: str, dest: Path) -> Path:
    path = dest / (re.sub(r"[^A-Za-z0-9_.-]", "_", ref) + ".tar")
    subprocess.run([docker_cli, "save", "-o", str(path), ref], check=True, capture_output=True, text=True)
    return path


def _layers(archive: Path) -> Iterator[tuple[str, tarfile.TarFile]]:
    """(layer id, layer tar) for every layer in a ``docker save`` archive (Docker and OCI layouts)."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for entry in manifest:
            for name in entry["Layers"]:
                member = outer.extractfile(name)
                if member is None:
                    continue
                with tempfile.TemporaryFile() as tmp:
                    while chunk := member.read(1 << 20):
                        tmp.write(chunk)
                    tmp.seek(0)
                    with tarfile.open(fileobj=tmp) as layer:
                        yield name.split("/")[0][:12], layer


def scan_bytes(data: bytes, values: Iterable[bytes]) -> list[str]:
    """The kinds of secret in ``data``. Compiled programs and libraries (ELF) are not
    searched for PEM keys: crypto libraries embed their self-test keys (libgnutls does);
    a leaked key is a file, not a symbol in a distribution's library."""
    elf = data[:4] == b"\x7fELF"
    kinds = [kind for kind, pattern in TOKEN_PATTERNS.items()
             if not (elf and kind == "private key (PEM)") and pattern.search(data)]
    kinds += ["a secret value the test planted or passed" for v in values if v and v in data]
    return kinds


def scan_layers(archive: Path, values: Iterable[str] = ()) -> tuple[list[Finding], int]:
    """Findings in every file of every layer, and the number of files scanned."""
    needles = [v.encode() for v in values if v]
    findings: list[Finding] = []
    scanned = 0
    for layer_id, layer in _layers(archive):
        for member in layer:
            path = member.name.lstrip("./")
            name = PurePosixPath(path).name
            where = f"layer {layer_id}: /{path}"
            if name.startswith(".wh."):
                continue  # whiteout: a deletion marker, no content
            if path.startswith(SECRET_MOUNT_DIR) and path != SECRET_MOUNT_DIR.rstrip("/"):
                findings.append(Finding(where, "a file under /run/secrets (a BuildKit secret left behind)"))
            if SECRET_FILE_NAMES.match(name) and not ALLOWED_FILE_NAMES.match(name):
                findings.append(Finding(where, "a credentials file by its name"))
            if not member.isfile():
                continue
            if member.size > MAX_SCAN_BYTES:
                findings.append(Finding(where, f"too large to scan ({member.size} bytes)"))
                continue
            fh = layer.extractfile(member)
            if fh is None:
                continue
            scanned += 1
            for kind in scan_bytes(fh.read(), needles):
                findings.append(Finding(where, kind))
    return findings, scanned


def scan_metadata(attrs: dict, history: list[dict], values: Iterable[str] = ()) -> list[Finding]:
    """The image configuration and history: no sensitive ENV/ARG, no secret value, no token."""
    findings: list[Finding] = []
    needles = [v.encode() for v in values if v]
    config = attrs.get("Config") or {}
    for item in config.get("Env") or []:
        name, _, value = item.partition("=")
        if contract.is_sensitive(name) and value:
            findings.append(Finding("config Env", f"sensitive variable {name} has a value baked in"))
        if name.upper() in BUILD_ONLY_ENV:
            findings.append(Finding("config Env", f"build-time variable {name} persists in the image"))
    for key, value in (config.get("Labels") or {}).items():
        for kind in scan_bytes(f"{key}={value}".encode(), needles):
            findings.append(Finding(f"label {key}", kind))
    # A known value anywhere else in the configuration (an ENV under an innocent name, the
    # command, the health check, ...).
    rest = {k: v for k, v in attrs.items() if k != "Config"} | {"Config": {k: v for k, v in config.items()
                                                                         if k != "Labels"}}
    for kind in scan_bytes(json.dumps(rest, default=str).encode(), needles):
        findings.append(Finding("image config", kind))
    for step, entry in enumerate(history):
        created_by = entry.get("CreatedBy") or ""
        where = f"history step {step}"
        for kind in scan_bytes(created_by.encode(), needles):
            findings.append(Finding(where, kind))
        # Build args appear in history as "|N NAME=value NAME=value … /bin/sh -c …".
        for name, value in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\S*)", created_by.split("/bin/sh -c")[0]):
            if contract.is_sensitive(name) and value:
                findings.append(Finding(where, f"sensitive build arg or env {name} with a value"))
        # ENV instructions are recorded as "ENV NAME=value".
        for name, value in re.findall(r"ENV ([A-Za-z_][A-Za-z0-9_]*)=(\S*)", created_by):
            if contract.is_sensitive(name) and value:
                findings.append(Finding(where, f"ENV {name} with a value"))
    return findings
