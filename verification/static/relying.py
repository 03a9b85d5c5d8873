"""Which IDs rely on a checker: read from the tests' own source, for the ``guards`` of its self-tests.

A checker's self-test guards the IDs of the tests whose verdict rests on that checker, kept to
the IDs a test of that tier proves (verification/requirements.yaml, verification/verdicts.py):
a static test that holds a probe rule is only weaker evidence for FR-014 (a cluster restarts the
container), so a blind probe rule cannot make FR-014 pass, and the rule does not guard it. The
self-tests compare their declared guards with what this reads, so a new test relying on a
checker (or a changed tier) cannot leave the guards behind.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from verification.requirements import registry
from verification.tiers import proves


def tests_in(path: Path) -> Iterator[ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    yield from (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))


def requirement_ids(fn: ast.FunctionDef) -> list[str]:
    """The literal IDs of ``fn``'s ``@pytest.mark.requirement(...)`` decorators."""
    return [arg.value for d in fn.decorator_list
            if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("mark.requirement")
            for arg in d.args if isinstance(arg, ast.Constant)]


def names_used(fn: ast.FunctionDef) -> set[str]:
    """Every name and attribute chain ``fn``'s body refers to (``netpol``, ``netpol.can_connect``)."""
    used: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(ast.unparse(node))
    return used


def proved_at(ids: Iterable[str], tier: str) -> set[str]:
    """The IDs among ``ids`` that a passing test of ``tier`` proves."""
    return {i for i in ids if any(proves(required, tier) for required in registry()[i].tiers)}


def relying_ids(path: Path, tier: str, uses: Callable[[ast.FunctionDef], bool]) -> set[str]:
    """The IDs of the tests in ``path`` for which ``uses(fn)`` holds, kept to those ``tier`` proves."""
    return {i for fn in tests_in(path) if uses(fn) for i in proved_at(requirement_ids(fn), tier)}


def using(*names: str) -> Callable[[ast.FunctionDef], bool]:
    """``uses`` for :func:`relying_ids`: the test refers to any of ``names``."""
    return lambda fn: bool(names_used(fn) & set(names))
