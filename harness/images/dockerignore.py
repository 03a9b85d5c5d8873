"""Docker's .dockerignore rules: which files of a directory go into a build context.

Used by the static tier (each app's .dockerignore keeps secrets and tests out) and by the image
bench's fingerprint (what a cold build reads).
"""

from __future__ import annotations

import re
from pathlib import Path


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore syntax (Go filepath.Match plus ``**``) as a regular expression."""
    pattern = pattern.strip().strip("/")  # Docker cleans patterns: "src/" is "src"
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out = out[:-2] + "(?:.*/)?"
                i += 1
            continue
        out += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
        i += 1
    return re.compile(out + "$")


def excluded(ignore_lines: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching rule wins;
    a rule that matches a parent directory matches everything below it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for raw in ignore_lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern_regex(line[1:] if negate else line)
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def read_rules(context: Path) -> list[str]:
    """The lines of ``context``'s .dockerignore (none when it has no such file)."""
    path = context / ".dockerignore"
    return path.read_text().splitlines() if path.is_file() else []
