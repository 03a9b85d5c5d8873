"""The requirement registry: every ID of the specification, its summary and its tier."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REGISTRY_PATH = Path(__file__).with_name("requirements.yaml")
ID_PATTERN = re.compile(r"^(FR-\d{3}|SC-\d{3}|US\d-\d|EC-\d)$")


@dataclass(frozen=True)
class Requirement:
    id: str
    summary: str
    tier: str
    manual: bool = False


@cache
def registry() -> dict[str, Requirement]:
    """All requirements in the spec's order, keyed by ID."""
    raw = yaml.safe_load(REGISTRY_PATH.read_text())["requirements"]
    result: dict[str, Requirement] = {}
    for rid, entry in raw.items():
        if not ID_PATTERN.match(rid):
            raise ValueError(f"{REGISTRY_PATH.name}: malformed requirement ID {rid!r}")
        result[rid] = Requirement(rid, entry["summary"], entry["tier"], entry.get("kind") == "manual")
    return result


def unknown_ids(ids: list[str] | tuple[str, ...]) -> list[str]:
    """The IDs in ``ids`` that the registry does not know."""
    known = registry()
    return [rid for rid in ids if rid not in known]
