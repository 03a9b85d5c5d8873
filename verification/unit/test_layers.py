"""The harness's layers import downwards only: the test kit is used by the deploy layer (a release's
database connection facts, its traffic), so it never imports it back (issue 29)."""

from __future__ import annotations

import ast

from harness.core.paths import REPO_ROOT


def _imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_testkit_never_imports_the_deploy_layer():
    upward = {f"{path.relative_to(REPO_ROOT)}: {module}"
              for path in sorted((REPO_ROOT / "harness" / "testkit").glob("*.py"))
              for module in _imported_modules(path) if module.split(".")[:2] == ["harness", "deploy"]}
    assert not upward, f"harness/testkit imports harness/deploy: {sorted(upward)}"
