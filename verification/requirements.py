"""The requirement registry: every ID of the specification, its summary, its tier and, for
manual requirements, the checklist a person follows; plus each ID's own sentence in the spec."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from harness.core.paths import REPO_ROOT

REGISTRY_PATH = Path(__file__).with_name("requirements.yaml")
# The user's specification, kept in the repository so that a clone alone carries the contract.
SPEC_PATH = REPO_ROOT / "docs" / "spec" / "phase-iv-infrastructure-spec.md"
ID_PATTERN = re.compile(r"^(FR-\d{3}|SC-\d{3}|US\d-\d|EC-\d)$")
REGISTRY_TIERS = ("static", "image", "runtime", "cluster", "load", "docs", "bench")


@dataclass(frozen=True)
class Requirement:
    id: str
    summary: str
    tiers: tuple[str, ...]  # each needs its own proof: SC-008 names `docker build` (image) and a server dry-run
    manual: bool = False
    checklist: tuple[str, ...] = ()  # manual only: the steps a person follows
    artefacts: tuple[str, ...] = ()  # manual only: what the harness prepared for them

    @property
    def tier(self) -> str:
        """The tier as the report shows it (``image+cluster`` when the ID needs proof at both)."""
        return "+".join(self.tiers)

    @property
    def sentence(self) -> str:
        """The requirement in the spec's own words (the registry's summary for an ID the spec does not
        word as a sentence of its own; every ID does today: a self-test checks it)."""
        return spec_sentences().get(self.id, self.summary)


@cache
def registry() -> dict[str, Requirement]:
    """All requirements in the spec's order, keyed by ID."""
    raw = yaml.safe_load(REGISTRY_PATH.read_text())["requirements"]
    result: dict[str, Requirement] = {}
    for rid, entry in raw.items():
        if not ID_PATTERN.match(rid):
            raise ValueError(f"{REGISTRY_PATH.name}: malformed requirement ID {rid!r}")
        tiers = tuple(entry["tier"]) if isinstance(entry["tier"], list) else (entry["tier"],)
        if not tiers or any(tier not in REGISTRY_TIERS for tier in tiers):
            raise ValueError(f"{REGISTRY_PATH.name}: {rid} has unknown tier {entry['tier']!r}; known: {REGISTRY_TIERS}")
        manual = entry.get("kind") == "manual"
        if manual and not (entry.get("checklist") and entry.get("artefacts")):
            raise ValueError(f"{REGISTRY_PATH.name}: manual requirement {rid} needs a checklist and artefacts")
        result[rid] = Requirement(rid, entry["summary"], tiers, manual,
                                  tuple(entry.get("checklist", ())), tuple(entry.get("artefacts", ())))
    return result


def unknown_ids(ids: list[str] | tuple[str, ...]) -> list[str]:
    """The IDs in ``ids`` that the registry does not know."""
    known = registry()
    return [rid for rid in ids if rid not in known]


class SpecMissing(FileNotFoundError):
    """The specification is not where the repository keeps it: nothing can be signed off against it."""


def spec_text(path: Path = SPEC_PATH) -> str:
    """The specification's text; a missing file is an error, never a quiet fall-back to summaries."""
    try:
        return path.read_text()
    except FileNotFoundError:
        raise SpecMissing(f"the specification is missing: {path} (restore it with "
                          f"`git checkout -- {_shown(path)}`)") from None


@cache
def spec_sentences(path: Path = SPEC_PATH) -> dict[str, str]:
    """Each ID's sentence from the spec: ``- **FR-001**: …`` lines, the numbered
    ``**Given** … **Then** …`` scenarios under each ``### User Story N``, and the questions
    under ``### Edge Cases`` in order. Raises SpecMissing when the spec is not there."""
    text = spec_text(path)
    sentences = {rid: _plain(line) for rid, line in re.findall(r"^- \*\*((?:FR|SC)-\d{3})\*\*: (.+)$", text, re.M)}
    for story, body in re.findall(r"^### User Story (\d+)\b.*?\n(.*?)(?=^##)", text, re.M | re.S):
        for number, line in re.findall(r"^(\d+)\. (\*\*Given\*\*.+)$", body, re.M):
            sentences[f"US{story}-{number}"] = _plain(line)
    if edge := re.search(r"^### Edge Cases\n(.*?)(?=^##)", text, re.M | re.S):
        for number, line in enumerate(re.findall(r"^- (.+)$", edge.group(1), re.M), start=1):
            sentences[f"EC-{number}"] = _plain(line)
    return sentences


def _shown(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "").strip()
