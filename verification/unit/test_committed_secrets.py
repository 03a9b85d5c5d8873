"""No JWT secret written in this repository is usable (issue 27): every literal assigned to JWT_SECRET or
secrets.jwtSecret in a tracked file is refused by the backend's strength check, so a test secret, a docs
example or a seeded defect can never sign tokens in a deployment. A new one that would pass (a random
value pasted into a test) fails here: generate it per run instead (secrets.token_hex(32))."""

from __future__ import annotations

import re
import subprocess

from harness.core.paths import REPO_ROOT

# JWT_SECRET=…, JWT_SECRET: "…", "JWT_SECRET": "…", jwtSecret: "…", JWT_SECRET = "…"
LITERAL = re.compile(r"""(?:JWT_SECRET|jwtSecret)["']?\s*[:=]\s*["']?([A-Za-z0-9+/=_\-]{32,})""")


def _tracked_text_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return [p for p in out.split("\0") if p and not p.endswith((".png", ".lock", ".json", ".svg"))]


def committed_jwt_secrets() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in _tracked_text_files():
        try:
            text = (REPO_ROOT / path).read_text(errors="replace")
        except OSError:
            continue
        for match in LITERAL.finditer(text):
            found.setdefault(match[1], path)
    return found


def test_the_scan_finds_the_known_committed_secrets() -> None:
    found = committed_jwt_secrets()
    assert "replace-with-at-least-32-random-bytes-0000000000" in found  # .env.example
    assert "fake-jwt-secret-for-tests-only-0123456789abcdef" in found  # the image tier's refusal case


def test_every_jwt_secret_committed_to_the_repository_is_refused_by_the_backend() -> None:
    from todo_api.secret_strength import problem

    usable = {value: path for value, path in committed_jwt_secrets().items() if problem(value) is None}
    assert not usable, ("a JWT secret committed to the repository would be accepted by the backend: generate it "
                        f"per run, or add its SHA-256 to todo_api/secret_strength.py COMMITTED: {usable}")
