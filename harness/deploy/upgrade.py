"""Upgrading a release from the previous version of the chart, as a user does: which version that
is, its tree in a scratch ``git worktree``, and whether Kubernetes will accept the upgrade.

* :func:`previous_ref` — the previous release: ``UPGRADE_FROM=<ref>``, else the last commit whose
  ``Chart.yaml`` version differs from the working tree's (named by its tag when it has one).
  chart-testing's ``--upgrade`` installs and upgrades the *same* version, so a breaking change
  between versions slips through; this starts from what users really run.
* :class:`ScratchWorktree` — that commit checked out beside the repository (``git worktree add
  --detach``), removed on exit, after failures too.
* :func:`immutable_changes` / :func:`check_upgrade` — the fields Kubernetes refuses to change on an
  object that exists (a Deployment's ``spec.selector``, …), compared between what both versions
  render, *before* upgrading: ``helm upgrade`` would otherwise fail half-way, some objects patched
  and others not. :func:`explain_refusal` reads the same refusal out of the API server's answer,
  for what the comparison cannot foresee.

Every failure is :class:`UpgradeProblem` with a one-line message that says what to do. No pytest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core import processes

CHART_YAML = Path("chart/todo-chatbot/Chart.yaml")
MIGRATIONS = Path("images/backend/src/todo_api/migrations/versions")
GIT_TIMEOUT_S = 120


class UpgradeProblem(RuntimeError):
    """The upgrade cannot be made or tested as asked; the message says why and what to do."""


# --- which version is the previous one -----------------------------------------------------------


@dataclass(frozen=True)
class PreviousRef:
    commit: str  # full hash
    name: str  # what a person calls it: the tag, UPGRADE_FROM as given, or the short hash
    version: str  # the chart's version there
    why: str  # how it was chosen

    @property
    def short(self) -> str:
        return self.commit[:10]


def _git(repo: Path, *args: str, check: bool = True) -> str:
    try:
        return processes.run(["git", "-C", str(repo), *args], check=check, timeout=GIT_TIMEOUT_S).stdout.strip()
    except processes.CommandFailed as exc:
        raise UpgradeProblem(f"git {' '.join(args)} failed in {repo}: {(exc.stderr or '').strip()[-300:]}") from None


def chart_version(chart_yaml_text: str) -> str:
    match = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", chart_yaml_text, re.MULTILINE)
    if not match:
        raise UpgradeProblem("Chart.yaml has no version line")
    return match.group(1)


def _version_at(repo: Path, commit: str, chart_yaml: Path) -> str | None:
    text = processes.run(["git", "-C", str(repo), "show", f"{commit}:{chart_yaml.as_posix()}"], check=False,
                         timeout=GIT_TIMEOUT_S)
    return chart_version(text.stdout) if text.returncode == 0 else None


def _named(repo: Path, commit: str) -> str:
    tags = _git(repo, "tag", "--points-at", commit).split()
    return sorted(tags)[-1] if tags else commit[:10]


def previous_ref(repo: Path, chart_yaml: Path = CHART_YAML, env: Mapping[str, str] = os.environ) -> PreviousRef:
    """The release to upgrade from (see the module's docstring)."""
    current = chart_version((repo / chart_yaml).read_text())
    if given := env.get("UPGRADE_FROM", "").strip():
        found = processes.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{given}^{{commit}}"],
                              check=False, timeout=GIT_TIMEOUT_S)
        if found.returncode != 0:
            raise UpgradeProblem(f"UPGRADE_FROM={given} is not a commit, tag or branch of {repo} "
                                 "(git rev-parse cannot resolve it; git fetch --tags, or name another ref)")
        commit = found.stdout.strip()
        version = _version_at(repo, commit, chart_yaml)
        if version is None:
            raise UpgradeProblem(f"UPGRADE_FROM={given} ({commit[:10]}) has no {chart_yaml}: not a release of this chart")
        return PreviousRef(commit, given, version, f"UPGRADE_FROM={given}")
    # The commits that touched Chart.yaml, newest first; the run at the current version ends at the
    # first one with another version, and the last commit at that version is the parent of the
    # oldest commit of the run (HEAD itself when the working tree's version is not committed yet).
    history = _git(repo, "log", "--format=%H", "--", chart_yaml.as_posix()).split()
    oldest_current = None
    for commit in history:
        version = _version_at(repo, commit, chart_yaml)
        if version is not None and version != current:
            target = _git(repo, "rev-parse", f"{oldest_current}^" if oldest_current else "HEAD")
            return PreviousRef(target, _named(repo, target), version,
                               f"the last commit at chart version {version} (the working tree has {current})")
        oldest_current = commit
    shallow = _git(repo, "rev-parse", "--is-shallow-repository", check=False) == "true"
    raise UpgradeProblem(
        f"no commit of {repo} has a chart version other than {current}"
        + (" (a shallow clone: git fetch --unshallow)" if shallow else "")
        + ": set UPGRADE_FROM=<ref> to the release to upgrade from")


class ScratchWorktree:
    """``git worktree add --detach PATH COMMIT``; on exit the worktree is removed and pruned."""

    def __init__(self, repo: Path, commit: str, path: Path) -> None:
        self.repo, self.commit, self.path = repo, commit, path

    def __enter__(self) -> Path:
        _git(self.repo, "worktree", "add", "--detach", "--force", str(self.path), self.commit)
        return self.path

    def __exit__(self, *exc: object) -> None:
        processes.run(["git", "-C", str(self.repo), "worktree", "remove", "--force", str(self.path)], check=False,
                      timeout=GIT_TIMEOUT_S)
        shutil.rmtree(self.path, ignore_errors=True)
        processes.run(["git", "-C", str(self.repo), "worktree", "prune"], check=False, timeout=GIT_TIMEOUT_S)


def registered_worktrees(repo: Path) -> list[str]:
    """The paths of every worktree git knows of (to prove a scratch one is gone)."""
    out = _git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def migration_heads(root: Path) -> set[str]:
    """The Alembic head revisions of the backend at ``root`` (read from the version files, so any
    tree will do): a rollback across different heads puts an older backend on a newer schema."""
    revisions, downs = set(), set()
    for path in sorted((root / MIGRATIONS).glob("*.py")):
        text = path.read_text()
        if m := re.search(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)", text, re.MULTILINE):
            revisions.add(m.group(1))
        if m := re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.MULTILINE):
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", m.group(1)))
    return revisions - downs


# --- what Kubernetes refuses to change ------------------------------------------------------------

# kind -> the fields the API server refuses to change once the object exists (apps/v1, batch/v1,
# rbac/v1, core/v1 validation). A Secret or ConfigMap marked immutable: its data.
IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "Service": ("spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies"),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.selector"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
}
# Set by the API server when the manifest leaves them out, so only a change between two set
# values is a refusal (a chart that never sets clusterIP keeps the one it was given).
SERVER_DEFAULTED = {"spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies", "spec.storageClassName",
                    "spec.volumeName", "spec.podManagementPolicy", "spec.completionMode"}


@dataclass(frozen=True)
class ImmutableChange:
    kind: str
    name: str
    field: str
    old: Any
    new: Any

    def line(self) -> str:
        if self.old is None and self.new is None:  # read from the API server's refusal: no values given
            return f"{self.kind} {self.name}: {self.field}"
        return f"{self.kind} {self.name}: {self.field} {_compact(self.old)} -> {_compact(self.new)}"


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":")) if value is not None else "(unset)"


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _key(manifest: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = manifest.get("metadata") or {}
    return manifest.get("kind", ""), meta.get("namespace") or "", meta.get("name", "")


def _is_hook(manifest: Mapping[str, Any]) -> bool:
    # Hooks (helm test pods) are created anew each time, never patched.
    return "helm.sh/hook" in ((manifest.get("metadata") or {}).get("annotations") or {})


def immutable_changes(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[ImmutableChange]:
    """Every immutable field that differs between an object both renderings have (same kind,
    namespace and name): what ``helm upgrade`` from ``old`` to ``new`` would be refused."""
    before = {_key(m): m for m in old if m and not _is_hook(m)}
    changes = []
    for manifest in new:
        if not manifest or _is_hook(manifest) or (previous := before.get(_key(manifest))) is None:
            continue
        kind, _, name = _key(manifest)
        fields = IMMUTABLE_FIELDS.get(kind, ())
        if kind in ("Secret", "ConfigMap") and previous.get("immutable") is True:
            fields = ("data", "binaryData", "stringData")
        for field in fields:
            a, b = _get(previous, field), _get(manifest, field)
            if field in SERVER_DEFAULTED and (a is None or b is None):
                continue
            if a != b:
                changes.append(ImmutableChange(kind, name, field, a, b))
    return changes


WAY_OUT = {
    "spec.selector": (
        "keep the selector as the previous version had it (selector labels are fixed for the life of a "
        "release; add new labels to the pod template only); if it must change, delete the old object "
        "without its pods (kubectl delete {kind_lower} {name} -n <namespace> --cascade=orphan), run the "
        "upgrade (new pods start while the orphaned ones serve), then delete the orphaned ReplicaSet; or "
        "install the new version as a new release beside the old one and move the users over"),
    "spec.clusterIP": "leave spec.clusterIP unset (the Service keeps the address it was given)",
}
NOT_FORCE = ("`helm upgrade --force` is not a way out: it replaces the objects (delete and re-create), "
             "which drops every pod of a Deployment at once")


class ImmutableFieldChange(UpgradeProblem):
    """An upgrade that Kubernetes refuses: the message names each field and the way out."""

    def __init__(self, changes: Sequence[ImmutableChange], source: str) -> None:
        self.changes = list(changes)
        ways = []
        for change in self.changes:
            way = WAY_OUT.get(change.field, "keep the field as the previous version rendered it")
            way = way.format(kind_lower=change.kind.lower(), name=change.name)
            if way not in ways:
                ways.append(way)
        super().__init__(
            f"Kubernetes refuses this upgrade ({source}): it changes immutable field(s) "
            + "; ".join(c.line() for c in self.changes)
            + ". Way out: " + "; ".join(ways) + ". " + NOT_FORCE)


def check_upgrade(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]], source: str) -> None:
    """Raise :class:`ImmutableFieldChange` when upgrading ``old`` to ``new`` changes an immutable field."""
    if changes := immutable_changes(list(old), list(new)):
        raise ImmutableFieldChange(changes, source)


# `helm upgrade`'s error when the API server refuses a patch, e.g.
#   Error: UPGRADE FAILED: cannot patch "x" with kind Deployment: Deployment.apps "x" is invalid:
#   spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable
_REFUSED_OBJECT = re.compile(r'cannot patch "(?P<name>[^"]+)" with kind (?P<kind>\w+):(?P<rest>.*?)(?=cannot patch "|\Z)',
                             re.S)
_REFUSED_FIELD = re.compile(r"(?P<field>[A-Za-z][\w.\[\]]*): Invalid value: .*?(?:field is immutable|may not change once set)",
                            re.S)


def explain_refusal(helm_stderr: str) -> ImmutableFieldChange | None:
    """The immutable-field refusals in ``helm upgrade``'s error output, or None when it is another error."""
    changes = []
    for obj in _REFUSED_OBJECT.finditer(helm_stderr):
        for field in _REFUSED_FIELD.finditer(obj.group("rest")):
            name = field.group("field")
            changes.append(ImmutableChange(obj.group("kind"), obj.group("name"), re.sub(r"\[\d+\]$", "", name),
                                           None, None))
    if not changes:
        return None
    return ImmutableFieldChange(changes, "the API server's answer to helm upgrade")


def helm_upgrade(run_helm, *args: str, timeout: float = 600) -> str:
    """``run_helm("upgrade", *args)``; an immutable-field refusal is raised as :class:`ImmutableFieldChange`,
    any other failure as it was."""
    try:
        return run_helm("upgrade", *args, timeout=timeout)
    except subprocess.CalledProcessError as exc:
        if refusal := explain_refusal(exc.stderr or ""):
            raise refusal from None
        raise
