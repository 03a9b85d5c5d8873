"""Outside judges of rendered manifests: kube-score and Checkov, and the allowlist of accepted findings.

The project's own policy (harness/kube/policy.py) says what this chart must do; these two
scanners are second opinions written by others. Each finding is reduced to
``(tool, check, object)`` — ``object`` as ``Kind/name`` — so it can be compared with the
allowlist in the repository (verification/static/scanner-allowlist.yaml), where every
accepted finding carries its reason.

    from harness.kube import scanners
    found = scanners.kube_score(rendered_yaml_text)
    by_file = scanners.checkov({"values-prod": path_of_rendered_yaml, ...})

Both tools are found on $KUBE_SCORE / $CHECKOV, then PATH, then the project's tool cache; when
absent the install scripts (scripts/install-kube-score.sh, scripts/install-checkov.sh) build or
install the pinned version, and :class:`ScannerNotFound` carries their one-line reason when
they cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from harness.core.paths import CACHE_DIR, SCRIPTS_DIR
from harness.kube.schema import SUPPORTED_VERSIONS

KUBE_SCORE_CACHED = CACHE_DIR / "bin" / "kube-score"
CHECKOV_CACHED = CACHE_DIR / "checkov-venv" / "bin" / "checkov"
# The Kubernetes version kube-score judges API deprecations against: the newest the chart supports
# (harness/kube/schema.py, the one list), so the two never drift apart.
KUBE_SCORE_KUBERNETES_VERSION = f"v{SUPPORTED_VERSIONS[-1]}"
# kube-score grades: 10 all OK, 7 almost OK, 5 warning, 1 critical. Warnings count as findings.
KUBE_SCORE_OK = 7


class ScannerNotFound(RuntimeError):
    """The scanner is missing and could not be installed; ``str()`` says how to install it."""


@dataclass(frozen=True, order=True)
class Finding:
    tool: str  # "kube-score" | "checkov"
    check: str  # the tool's check ID: "container-image-pull-policy", "CKV_K8S_15"
    object: str  # "Kind/name"
    message: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tool, self.check, self.object)

    def line(self) -> str:
        return f"{self.tool} {self.check} {self.object}: {self.message}"


# --- locating (and, when missing, installing) the tools -----------------------------------------
def _find(env: str, name: str, cached: Path, script: str) -> str:
    for candidate in (os.environ.get(env), shutil.which(name), str(cached)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    # The install script is idempotent and cached; it fails with one line when it cannot build.
    result = subprocess.run(
        [str(SCRIPTS_DIR / script)], capture_output=True, text=True, timeout=900, check=False
    )
    path = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode == 0 and path and os.access(path, os.X_OK):
        return path
    reason = (result.stderr.strip().splitlines() or [f"scripts/{script} failed"])[-1]
    raise ScannerNotFound(f"{name} not found and not installable: {reason}")


@cache
def find_kube_score() -> str:
    """kube-score's path: $KUBE_SCORE, PATH, the cache, else built by scripts/install-kube-score.sh."""
    return _find("KUBE_SCORE", "kube-score", KUBE_SCORE_CACHED, "install-kube-score.sh")


@cache
def find_checkov() -> str:
    """Checkov's path: $CHECKOV, PATH, the cache, else installed by scripts/install-checkov.sh."""
    return _find("CHECKOV", "checkov", CHECKOV_CACHED, "install-checkov.sh")


# --- running them ---------------------------------------------------------------------------------
def kube_score(manifests_yaml: str) -> list[Finding]:
    """kube-score's warnings and criticals for one render (one release: its policies see each other).

    kube-score's exit code says only whether something is critical; the JSON is the verdict.
    """
    result = subprocess.run(
        [find_kube_score(), "score", "-", "--output-format", "json",
         "--kubernetes-version", KUBE_SCORE_KUBERNETES_VERSION],
        input=manifests_yaml, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        objects = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kube-score gave no JSON (exit {result.returncode}): {result.stderr.strip()}") from None
    found = []
    for obj in objects:
        kind, name = obj["type_meta"]["kind"], obj["object_meta"]["name"]
        for check in obj["checks"]:
            if check["skipped"] or check["grade"] >= KUBE_SCORE_OK:
                continue
            comments = "; ".join(
                " ".join(filter(None, (c.get("path") and f"({c['path']})", c.get("summary"))))
                for c in check.get("comments") or []
            )
            found.append(Finding("kube-score", check["check"]["id"], f"{kind}/{name}", comments or check["check"]["name"]))
    return sorted(found)


def _checkov_object(resource: str) -> str:
    """Checkov's ``Kind.namespace.name[.labels…]`` → ``Kind/name``.

    For the pod of a Deployment (CKV2 graph checks) Checkov appends the pod labels after the
    name; the chart's names hold no dots, so the name is the third field.
    """
    kind, _namespace, rest = resource.split(".", 2)
    return f"{kind}/{rest.split('.', 1)[0]}"


def _checkov_one(path: str | Path) -> list[Finding]:
    env = {k: v for k, v in os.environ.items() if k not in ("BC_API_KEY", "PRISMA_API_URL")}
    result = subprocess.run(
        [find_checkov(), "--file", str(path), "--framework", "kubernetes", "--skip-download",
         "--output", "json", "--quiet", "--compact", "--soft-fail"],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    try:
        report = json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError:
        raise RuntimeError(f"Checkov gave no JSON (exit {result.returncode}): {result.stderr.strip()[-400:]}") from None
    if result.returncode != 0:
        raise RuntimeError(f"Checkov failed (exit {result.returncode}): {result.stderr.strip()[-400:]}")
    found = []
    for part in report if isinstance(report, list) else [report]:
        if errors := (part.get("summary") or {}).get("parsing_errors"):
            raise RuntimeError(f"Checkov could not parse {path} ({errors} parsing errors)")
        for check in (part.get("results") or {}).get("failed_checks") or []:
            found.append(Finding("checkov", check["check_id"], _checkov_object(check["resource"]), check["check_name"]))
    return sorted(set(found))


def checkov(renders: Mapping[str, str | Path]) -> dict[str, list[Finding]]:
    """Checkov's failed checks for each render ({label: manifest file}), offline.

    One Checkov process per render: its graph checks (CKV2_K8S_6, "pod without a
    NetworkPolicy") join resources across every file of a run, so renders of different values
    files must not meet. ``--skip-download`` keeps Checkov from fetching guidelines or
    policies and no API key is passed, so nothing leaves the machine.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(renders, pool.map(_checkov_one, renders.values())))
    return results


# --- the allowlist ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Accepted:
    """One allowlist entry: a check on named objects, accepted in some renders, for a reason."""

    tool: str
    check: str
    objects: tuple[str, ...]
    renders: tuple[str, ...] | None  # None: every render
    reason: str

    def covers(self, render: str, finding: Finding) -> bool:
        return (
            (self.renders is None or render in self.renders)
            and finding.tool == self.tool
            and finding.check == self.check
            and finding.object in self.objects
        )


def load_allowlist(path: str | Path) -> list[Accepted]:
    """The allowlist file; ValueError naming the entry when one lacks its check, objects or reason."""
    entries = []
    for i, raw in enumerate(yaml.safe_load(Path(path).read_text()) or []):
        missing = [k for k in ("tool", "check", "objects", "reason") if not raw.get(k)]
        if missing or raw["tool"] not in ("kube-score", "checkov"):
            raise ValueError(f"{path}: entry {i + 1} ({raw.get('check')}) lacks {missing or 'a known tool'}")
        renders = raw.get("renders")
        entries.append(
            Accepted(raw["tool"], raw["check"], tuple(raw["objects"]), tuple(renders) if renders else None,
                     " ".join(str(raw["reason"]).split()))
        )  # fmt: skip
    return entries


@dataclass
class Verdict:
    new: list[tuple[str, Finding]]  # (render, finding) that no entry accepts
    stale: list[tuple[Accepted, str, str]]  # (entry, render, object) the entry accepts but nothing found
    accepted: int


def judge(found: Mapping[str, Iterable[Finding]], allowlist: Iterable[Accepted], tool: str) -> Verdict:
    """Compare one tool's findings per render with the allowlist: new findings and stale entries."""
    entries = [e for e in allowlist if e.tool == tool]
    new, accepted, seen = [], 0, set()
    for render, findings in found.items():
        for finding in findings:
            matching = [e for e in entries if e.covers(render, finding)]
            if not matching:
                new.append((render, finding))
            else:
                accepted += 1
                seen |= {(id(e), render, finding.object) for e in matching}
    stale = [
        (e, render, obj)
        for e in entries
        for render in found
        if e.renders is None or render in e.renders
        for obj in e.objects
        if (id(e), render, obj) not in seen
    ]
    return Verdict(new, stale, accepted)


def counts(found: Mapping[str, Iterable[Any]]) -> dict[str, int]:
    return {render: len(list(items)) for render, items in found.items()}
