"""The catalogue of seeded defects (``verification/mutants.yaml``): one entry a mutant.

An entry is a small, named defect a person could make in this repository::

    - id: probe-backend-liveness-readyz            # unique, stable across reports
      category: probes                              # the operator family (Stryker's mutatorName)
      ids: [FR-014, EC-4]                           # the spec IDs it breaks
      tier: static                                  # the cheapest tier that should kill it
      why: "a database outage restarts every backend pod instead of taking it out of the Service"
      file: chart/todo-chatbot/values.yaml          # a text edit: `find` must occur exactly once
      find: "path: /healthz\\n    ## @param backend.livenessProbe.initialDelaySeconds"
      replace: "path: /readyz\\n    ## @param backend.livenessProbe.initialDelaySeconds"
    - id: ...
      values: {backend: {replicaCount: 1}}          # or a values override, applied as an extra values file
      equivalent: "why it cannot change behaviour"  # optional: left out of the score
      accepted: "why no test should kill it"        # optional: a survivor a reviewer accepts; it still
                                                    # counts in the score, but does not make its IDs WEAK

Applying a mutant edits a scratch copy of the tree (:mod:`harness.mutation.scratch`), never the
working tree.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.paths import REPO_ROOT

CATALOGUE = REPO_ROOT / "verification" / "mutants.yaml"
# The tiers a mutant can name, cheapest first; docs run with the static set.
TIERS = ("static", "docs", "image", "runtime", "cluster")
# The tier whose test run a mutant of each tier joins (``make mutate TIER=…``).
RUN_GROUP = {"static": "static", "docs": "static", "image": "image", "runtime": "runtime", "cluster": "cluster"}
VALUES_FILE = "chart/todo-chatbot/values.yaml"  # where a values override lands, for the report
OVERRIDE_DIR = ".mutation"  # inside a scratch copy: the override values file and the helm wrapper


class CatalogueError(ValueError):
    """The catalogue is malformed; the message names the entry and what is wrong."""


class EditError(RuntimeError):
    """A mutant's edit does not apply to the tree (its `find` text is missing or ambiguous)."""


@dataclass(frozen=True)
class Mutant:
    id: str
    category: str
    ids: tuple[str, ...]
    tier: str
    why: str
    file: str | None = None
    find: str | None = None
    replace: str | None = None
    values: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    equivalent: str | None = None
    accepted: str | None = None

    @property
    def kind(self) -> str:
        return "values" if self.values is not None else "text"

    @property
    def target(self) -> str:
        """The repository file the mutant changes (a values override changes the chart's defaults)."""
        return self.file or VALUES_FILE

    @property
    def touches_chart(self) -> bool:
        return self.kind == "values" or self.target.startswith("chart/")

    @property
    def touches_images(self) -> bool:
        return self.target.startswith("images/")

    @property
    def group(self) -> str:
        return RUN_GROUP[self.tier]

    def replacement(self) -> str:
        if self.kind == "values":
            return yaml.safe_dump(self.values, sort_keys=False).strip()
        return str(self.replace)

    def diff(self, root: Path = REPO_ROOT) -> str:
        """A unified diff of the edit against ``root`` (a values override: the extra values file)."""
        if self.kind == "values":
            return "extra values file:\n" + self.replacement()
        path = root / self.target
        before = path.read_text() if path.is_file() else str(self.find)
        after = before.replace(str(self.find), str(self.replace), 1)
        lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"a/{self.target}", f"b/{self.target}", n=1)
        return "".join(lines)

    def location(self, root: Path = REPO_ROOT) -> tuple[tuple[int, int], tuple[int, int]]:
        """(start, end) as (line, column), 1-based, end exclusive: the `find` text, or for a
        values override the line of its first key in values.yaml (1:1 when not found)."""
        path = root / self.target
        text = path.read_text() if path.is_file() else ""
        if self.kind == "text" and (at := text.find(str(self.find))) >= 0:
            return _position(text, at), _position(text, at + len(str(self.find)))
        key = _first_leaf_key(self.values or {})
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip().startswith(f"{key}:"):
                return (number, 1), (number, len(line) + 1)
        return (1, 1), (1, 2)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _first_leaf_key(values: dict[str, Any]) -> str:
    key, value = next(iter(values.items()), ("", None))
    return _first_leaf_key(value) if isinstance(value, dict) and value else str(key)


def load(path: Path = CATALOGUE, known_ids: set[str] | None = None) -> list[Mutant]:
    """Every mutant of the catalogue, checked: unique ids, a known tier, spec IDs (known to the
    registry when ``known_ids`` is given), a reason, and exactly one kind of edit."""
    raw = yaml.safe_load(path.read_text()) or {}
    entries = raw.get("mutants") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: expected a top-level 'mutants:' list")
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{path.name} entry {number} ({entry.get('id', '?') if isinstance(entry, dict) else '?'})"
        mutants.append(_parse(entry, where, known_ids))
        if mutants[-1].id in seen:
            raise CatalogueError(f"{where}: duplicate id")
        seen.add(mutants[-1].id)
    return mutants


def _parse(entry: Any, where: str, known_ids: set[str] | None) -> Mutant:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: an entry is a mapping")
    allowed = {"id", "category", "ids", "tier", "why", "file", "find", "replace", "values", "equivalent", "accepted"}
    if extra := set(entry) - allowed:
        raise CatalogueError(f"{where}: unknown keys {sorted(extra)}")
    for key in ("id", "category", "ids", "tier", "why"):
        if not entry.get(key):
            raise CatalogueError(f"{where}: '{key}' is required")
    if entry["tier"] not in TIERS:
        raise CatalogueError(f"{where}: tier {entry['tier']!r} is not one of {TIERS}")
    ids = tuple(entry["ids"]) if isinstance(entry["ids"], list) else (entry["ids"],)
    if known_ids is not None and (unknown := [i for i in ids if i not in known_ids]):
        raise CatalogueError(f"{where}: unknown spec IDs {unknown}")
    text_edit = any(k in entry for k in ("file", "find", "replace"))
    if text_edit == ("values" in entry):
        raise CatalogueError(f"{where}: give either file/find/replace or values")
    if text_edit:
        if not (entry.get("file") and entry.get("find") and "replace" in entry):
            raise CatalogueError(f"{where}: a text edit needs file, find and replace")
        if entry["find"] == entry["replace"]:
            raise CatalogueError(f"{where}: replace equals find")
    elif not isinstance(entry["values"], dict) or not entry["values"]:
        raise CatalogueError(f"{where}: values is a non-empty mapping")
    if entry.get("equivalent") and entry.get("accepted"):
        raise CatalogueError(f"{where}: a mutant is either equivalent (cannot change behaviour) or an accepted "
                             "survivor (changes it, no test should see it), not both")
    for key in ("equivalent", "accepted"):
        if key in entry and len(str(entry[key]).strip()) < 20:
            raise CatalogueError(f"{where}: '{key}' needs the reason a reviewer would agree with (a sentence)")
    return Mutant(str(entry["id"]), str(entry["category"]), ids, entry["tier"], str(entry["why"]).strip(),
                  entry.get("file"), entry.get("find"), entry.get("replace"), entry.get("values"),
                  entry.get("equivalent"), entry.get("accepted"))


def apply(mutant: Mutant, root: Path) -> None:
    """Make the mutant's edit in the tree at ``root`` (a scratch copy). A text edit must match
    exactly once; a values override is written to ``root/.mutation/values-mutant.yaml`` for the
    helm wrapper (:func:`harness.mutation.scratch.helm_wrapper`)."""
    if mutant.kind == "values":
        folder = root / OVERRIDE_DIR
        folder.mkdir(exist_ok=True)
        (folder / "values-mutant.yaml").write_text(yaml.safe_dump(mutant.values, sort_keys=False))
        return
    path = root / mutant.target
    if not path.is_file():
        raise EditError(f"{mutant.id}: {mutant.target} does not exist")
    text = path.read_text()
    count = text.count(str(mutant.find))
    if count != 1:
        raise EditError(f"{mutant.id}: the text to find occurs {count} times in {mutant.target} (must be once)")
    path.write_text(text.replace(str(mutant.find), str(mutant.replace), 1))
