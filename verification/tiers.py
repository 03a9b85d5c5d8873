"""The tiers of verification: one table, from which the plugin, the verdicts and the sign-off's
stages are derived.

A tier is a pytest marker and a folder of ``verification/``. Its row says what it needs before it
can run (a prerequisite missing → its tests skip with a one-line reason naming what to install or
set; ``REQUIRE_TIERS=static,image,...`` turns that skip into a failure, so a CI run cannot pass
with a tier silently skipped), which requirement tiers of ``verification/requirements.yaml`` its
passing tests prove, the command a person runs for it, and the ``make acceptance`` stage that runs
it. Adding a tier is one row here plus its folder: the stage's marker expression, the plugin's
markers and the verdict rules follow from the table.

Besides the marker tiers: ``harness`` (``verification/unit/`` and tests marked so) is the harness's
self-tests, run in the static stage and proving no ID; ``app`` names the applications' own tests
(they need PostgreSQL's server binaries and Chromium) and may be required the same way; ``bench``
is evidence from a benchmark report, not from tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest

from harness.providers import ClusterChoice, ClusterOptionError


@dataclass(frozen=True)
class Tier:
    name: str  # the pytest marker
    description: str
    folder: str | None  # verification/<folder>; its tests get the marker
    needs: tuple[str, ...]  # prerequisites (PREREQUISITES' keys), checked before each test
    proves: tuple[str, ...]  # the requirement tiers whose IDs a passing test of this tier proves
    command: str  # what a person runs to get this tier's evidence
    stage: str  # the make-acceptance stage whose pytest run selects this tier's tests
    stage_args: tuple[str, ...] = ()  # extra pytest arguments of that stage ({cluster}, {load_cluster} filled in)


# Strength: static < image < runtime < cluster (a stronger tier's passing test proves the weaker
# IDs too); load and docs prove only their own IDs.
TABLE: tuple[Tier, ...] = (
    Tier("static", "the chart renders with the real Helm engine and passes policy; Dockerfiles are checked",
         "static", ("helm",), ("static",), "make static", "static"),
    Tier("docs", "the documentation: commands, paths and values it names exist; troubleshooting, prerequisites, access",
         "docs", (), ("docs",), ".venv/bin/pytest verification/docs", "static"),
    Tier("harness", "a self-test of the harness machinery (report, registry, checkers); proves no spec ID itself",
         "unit", (), (), ".venv/bin/pytest verification/unit", "static"),
    Tier("image", "both images build and behave (needs a Docker engine)",
         "images", ("docker",), ("static", "image"), "make test-images", "image"),
    Tier("runtime", "the chart's rendered pod templates run as containers on Docker",
         "runtime", ("docker", "helm"), ("static", "image", "runtime"), "make test-runtime", "runtime"),
    Tier("cluster", "helm install into a real cluster (--cluster=auto|kind|local|context:NAME)",
         "cluster", ("cluster", "helm"), ("static", "image", "runtime", "cluster"),
         "make test-cluster CLUSTER=kind|local|context:NAME", "cluster", ("--cluster={cluster}",)),
    Tier("load", "100 concurrent users against the resource budget (on the cluster when one is selected)",
         "load", ("docker", "helm"), ("load",), "make load CLUSTER=local|kind|context:NAME", "load",
         ("--cluster={load_cluster}",)),
)
TIERS: dict[str, Tier] = {tier.name: tier for tier in TABLE}
HARNESS = "harness"
# Evidence that is not a test tier: the registry tier → the command that produces it.
REPORT_EVIDENCE = {"bench": "make bench-images"}
EXTRA_REQUIRABLE = {"app"}
# The static stage's tests need no third-party pytest plugin but pytest-timeout (the ini's `timeout`).
# Not loading the others (hypothesis, schemathesis, pytest-kind, locust, anyio) saves over a second of
# every pytest start: the stage's own and each pytest its tests start (pytester runs, collection
# checks), which inherit the environment. The mutation runner does the same for its cheap tiers.
LEAN_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_PLUGINS": "pytest_timeout"}
LEAN_STAGES = frozenset({"static"})


def marker_tiers() -> list[Tier]:
    """The tiers whose tests prove IDs (every row but the harness's self-tests)."""
    return [tier for tier in TIERS.values() if tier.name != HARNESS]


def tier_of_folder(folder: str) -> str | None:
    """The tier of the tests under ``verification/<folder>``."""
    return next((tier.name for tier in TIERS.values() if tier.folder == folder), None)


def accepted_tiers(requirement_tier: str) -> tuple[str, ...]:
    """The test tiers whose passing tests prove an ID registered at ``requirement_tier``."""
    return tuple(tier.name for tier in TIERS.values() if requirement_tier in tier.proves)


def proves(requirement_tier: str, test_tier: str | None) -> bool:
    """Whether a passing test of ``test_tier`` proves an ID registered at ``requirement_tier``."""
    tier = TIERS.get(test_tier or "")
    return tier is not None and requirement_tier in tier.proves


def run_command(requirement_tier: str) -> str:
    """What a person runs to get the evidence of a requirement tier."""
    if requirement_tier in REPORT_EVIDENCE:
        return REPORT_EVIDENCE[requirement_tier]
    return TIERS[requirement_tier].command


def stage_selections() -> dict[str, str]:
    """Each pytest stage of the sign-off → the marker expression that selects its tests, computed
    from the table so that a new tier's tests run in its own stage, never counted as another's.
    A test carries one tier and maybe ``harness`` too (a checker's self-test in a tier's folder):
    it runs in its tier's stage only, so each stage leaves out the other stages' tiers."""
    stages: dict[str, list[str]] = {}
    for tier in TIERS.values():
        stages.setdefault(tier.stage, []).append(tier.name)
    selections = {}
    for stage, names in stages.items():
        others = [tier.name for tier in marker_tiers() if tier.stage != stage]
        selections[stage] = f"({' or '.join(names)})" + (f" and not ({' or '.join(others)})" if others else "")
    return selections


def stage_arguments(stage: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(arg for tier in TIERS.values() if tier.stage == stage for arg in tier.stage_args))


def stage_proves(stage: str) -> set[str]:
    """The requirement tiers that the tests of a stage prove."""
    return {proved for tier in TIERS.values() if tier.stage == stage for proved in tier.proves}


def required_tiers() -> set[str]:
    raw = os.environ.get("REQUIRE_TIERS", "")
    names = {name.strip() for name in raw.split(",") if name.strip()}
    known = {tier.name for tier in marker_tiers()} | EXTRA_REQUIRABLE
    if unknown := names - known:
        raise pytest.UsageError(f"REQUIRE_TIERS names unknown tiers {sorted(unknown)}; known: {sorted(known)}")
    return names


def skip_or_fail(tier: str, reason: str) -> None:
    """Skip the current test for a missing prerequisite, or fail it when the tier is required."""
    if tier in required_tiers():
        pytest.fail(f"[{tier} tier required by REQUIRE_TIERS] {reason}", pytrace=False)
    pytest.skip(f"[{tier}] {reason}")


# --- prerequisite checks: each returns None when satisfied, else the one-line reason
@cache
def _helm_missing() -> str | None:
    from harness.kube.helm import HelmNotFound, find_helm

    try:
        find_helm()
    except HelmNotFound as exc:
        return str(exc)
    return None


@cache
def scanner_missing(name: str) -> str | None:
    """Why kube-score or Checkov (the static tier's outside judges) cannot run, or None.

    Not a prerequisite of the whole tier: only the scanner tests need them. A missing tool is
    built or installed by its script (scripts/install-kube-score.sh needs Go, install-checkov.sh
    a package index); when that fails the reason is one line naming how to install it.
    """
    from harness.kube.scanners import ScannerNotFound, find_checkov, find_kube_score

    finders = {"kube-score": find_kube_score, "checkov": find_checkov}
    try:
        finders[name]()
    except ScannerNotFound as exc:
        return str(exc)
    return None


@cache
def _docker_missing() -> str | None:
    from harness.core.docker import engine_problem

    return engine_problem()


NO_CLUSTER_NAMED = (
    "no cluster named: pass --cluster=auto (kind, else the local cluster built here), --cluster=kind, "
    "--cluster=local or --cluster=context:NAME (an existing context such as minikube or docker-desktop); "
    "make test CLUSTER=… too"
)


@dataclass(frozen=True)
class Machine:
    """What this run has: the cluster it was given (None: none) and why --cluster=auto chose it."""

    cluster: str | None = None
    cluster_why: str | None = None


def _cluster_missing(machine: Machine) -> str | None:
    if machine.cluster:
        return None
    return machine.cluster_why or NO_CLUSTER_NAMED


PREREQUISITES: dict[str, Callable[[Machine], str | None]] = {
    "helm": lambda machine: _helm_missing(),
    "docker": lambda machine: _docker_missing(),
    "cluster": _cluster_missing,
}


def missing_prerequisite(tier: str, machine: Machine) -> str | None:
    """Why ``tier`` cannot run on this machine (the first missing prerequisite), or None."""
    for need in TIERS[tier].needs:
        if reason := PREREQUISITES[need](machine):
            return reason
    return None


def app_missing() -> str | None:
    """Why the applications' own tests cannot run here (PostgreSQL's server binaries, Chromium), or None."""
    from harness.testkit import browser
    from harness.testkit.postgres import PostgresUnavailable, find_bindir

    try:
        find_bindir()
    except PostgresUnavailable as exc:
        return str(exc)
    return browser.missing()


def tier_plan(machine: Machine, required: set[str]) -> list[str]:
    """The session header's lines: the tiers this machine runs, then one line per tier it does not
    (its tests skip, or fail when REQUIRE_TIERS names it) with the reason naming the fix."""
    missing = {tier.name: missing_prerequisite(tier.name, machine) for tier in TIERS.values()}
    missing["app"] = app_missing()
    runnable = [name for name, reason in missing.items() if reason is None]
    lines = [f"tiers this machine runs: {', '.join(runnable) or 'none'} (when the selection has their tests)"]
    for name, reason in missing.items():
        if reason is not None:
            fate = "FAILS (REQUIRE_TIERS)" if name in required else "skips"
            lines.append(f"tier {name} {fate}: {reason}")
    return lines


# What --cluster came to (auto and none decided, the option parsed): set once by the plugin; its
# ``why`` is shown in the header and skip reason.
CLUSTER_CHOICE = pytest.StashKey[ClusterChoice]()


def cluster_choice(config: pytest.Config) -> ClusterChoice:
    """The session's :class:`ClusterChoice` (a run without the plugin's configure: as named)."""
    return config.stash.get(CLUSTER_CHOICE, None) or ClusterChoice(config.getoption("cluster", default=None))


def local_cluster_requested(config: pytest.Config) -> bool:
    """The session asked for the local cluster (--cluster=local): the self-tests of harness.localk8s."""
    try:
        return cluster_choice(config).spec.kind == "local"
    except ClusterOptionError:
        return False


def machine_of(config: pytest.Config) -> Machine:
    return Machine(config.getoption("cluster", default=None), cluster_choice(config).why)
