"""Docker's .dockerignore rules: which files of a directory go into a build context.

Used by the static tier (each app's .dockerignore keeps secrets and tests out) and by the image
bench's fingerprint (what a cold build reads). The matching is the Docker SDK's own
(``docker.utils.build.PatternMatcher``: Go's filepath.Match plus ``**``, ``!`` exceptions, the last
matching rule wins, a rule that matches a parent directory matches everything below it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from docker.utils.build import PatternMatcher


@lru_cache(maxsize=32)
def _matcher(rules: tuple[str, ...]) -> PatternMatcher:
    return PatternMatcher(rules)


def excluded(ignore_lines: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` (relative, with "/") out of the build context."""
    rules = tuple(line.strip() for line in ignore_lines if line.strip() and not line.strip().startswith("#"))
    return _matcher(rules).matches(path)


def read_rules(context: Path) -> list[str]:
    """The lines of ``context``'s .dockerignore (none when it has no such file)."""
    path = context / ".dockerignore"
    return path.read_text().splitlines() if path.is_file() else []
