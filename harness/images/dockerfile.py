"""A small Dockerfile reader for the static checks and the image tier.

It understands what the checks need and no more: line continuations, comments and
parser directives, instructions with their flags, build stages (``FROM … AS name``),
``ARG`` defaults (global and per stage) and ``${VAR}`` substitution in ``FROM``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, …
    value: str  # everything after the keyword, continuations joined
    line: int  # 1-based line where the instruction starts

    @property
    def flags(self) -> dict[str, str]:
        """The leading ``--name=value`` flags (``--mount`` may repeat: values joined by a space)."""
        out: dict[str, str] = {}
        for token in self.value.split():
            if not token.startswith("--"):
                break
            name, _, val = token[2:].partition("=")
            out[name] = f"{out[name]} {val}" if name in out else val
        return out

    @property
    def args(self) -> str:
        """The value without its leading flags."""
        rest = self.value.lstrip()
        while rest.startswith("--"):
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        return rest


@dataclass
class Stage:
    index: int
    base: str  # the FROM argument as written (may contain ${ARG})
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword.upper()]


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]
    global_args: dict[str, str | None]  # ARGs before the first FROM, with defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def args(self) -> dict[str, str | None]:
        """Every ARG with its default (the global ones first, then per stage)."""
        out = dict(self.global_args)
        for stage in self.stages:
            for ins in stage.all("ARG"):
                name, default = parse_arg(ins.args)
                out.setdefault(name, default)
        return out

    def resolve(self, text: str, overrides: dict[str, str] | None = None) -> str:
        """Substitute ``${ARG}`` with the global ARG defaults (or ``overrides``)."""
        values = {k: v or "" for k, v in self.global_args.items()} | (overrides or {})
        return _VAR.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)

    def stage_names(self) -> set[str]:
        return {s.name for s in self.stages if s.name}

    def external_bases(self, overrides: dict[str, str] | None = None) -> list[tuple[Stage, str]]:
        """(stage, resolved image reference) for every stage built on an image, not on a stage."""
        names = self.stage_names()
        out = []
        for stage in self.stages:
            ref = self.resolve(stage.base, overrides)
            if ref not in names and ref.lower() != "scratch":
                out.append((stage, ref))
        return out

    def base_args(self) -> dict[str, str | None]:
        """The global ARGs that name a base image (used in some stage's FROM)."""
        used = set()
        for stage in self.stages:
            used.update(m.group(1) or m.group(2) for m in _VAR.finditer(stage.base))
        return {k: v for k, v in self.global_args.items() if k in used}


def parse_arg(text: str) -> tuple[str, str | None]:
    name, sep, default = text.strip().partition("=")
    if not sep:
        return name.strip(), None
    default = default.strip()
    if default[:1] in "\"'":
        default = shlex.split(default)[0] if default else ""
    return name.strip(), default


def _logical_lines(text: str) -> list[tuple[int, str]]:
    escape = "\\"
    lines = text.splitlines()
    # parser directives (# syntax=…, # escape=…) only at the very top
    for raw in lines:
        m = re.match(r"#\s*(\w+)\s*=\s*(\S+)\s*$", raw)
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # comment lines, also inside a continued instruction
        if not buf:
            if not stripped:
                continue
            start = number
        if stripped.endswith(escape):
            buf.append(stripped[: -len(escape)])
            continue
        buf.append(stripped)
        out.append((start, " ".join(part for part in buf if part)))
        buf = []
    if buf:
        out.append((start, " ".join(buf)))
    return out


def parse(path: Path | str) -> Dockerfile:
    path = Path(path)
    instructions: list[Instruction] = []
    for line, text in _logical_lines(path.read_text()):
        keyword, _, value = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip(), line))
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            parts = ins.args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(len(stages), parts[0], name, ins.line))
        elif not stages:
            if ins.keyword == "ARG":
                name, default = parse_arg(ins.args)
                global_args[name] = default
        else:
            stages[-1].instructions.append(ins)
    return Dockerfile(path, instructions, global_args, stages)


# --- image references -----------------------------------------------------------
_PINNED_TAG = re.compile(r"^\D*\d+\.\d+(\.\d+)?\b")  # 3.11.13-slim…, 22.23.5-bookworm-slim, 15.8


def split_ref(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    repo, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
    return repo, tag, digest


def pin_problem(ref: str) -> str | None:
    """Why ``ref`` is not an explicit, pinned version, or None when it is.

    Pinned: a digest, or a tag that names at least ``major.minor`` (``python:3.11.13-slim-bookworm``).
    Not pinned: no tag, ``latest``, a variable left unresolved, a bare major (``node:22``).
    """
    if "$" in ref:
        return f"{ref!r} is not resolved (an ARG without a default?)"
    _, tag, digest = split_ref(ref)
    if digest:
        return None if re.fullmatch(r"sha256:[0-9a-f]{64}", digest) else f"{ref!r} has a malformed digest"
    if tag is None:
        return f"{ref!r} has no tag (means latest)"
    if "latest" in tag.lower():
        return f"{ref!r} uses latest"
    if not _PINNED_TAG.match(tag):
        return f"{ref!r}: tag {tag!r} does not name an exact version (major.minor[.patch])"
    return None
