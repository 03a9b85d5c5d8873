"""The tiers of verification and what each needs before it can run.

A tier whose prerequisite is missing is skipped with a one-line reason that names
what to install or set. ``REQUIRE_TIERS=static,image,...`` turns that skip into a
failure, so a CI run cannot pass with a tier silently skipped. Besides the six
marker tiers, ``app`` names the applications' own tests (they need PostgreSQL's
server binaries and Chromium) and may be required the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

import pytest

TIERS = {
    "static": "the chart renders with the real Helm engine and passes policy; Dockerfiles are checked",
    "image": "both images build and behave (needs a Docker engine)",
    "runtime": "the chart's rendered pod templates run as containers on Docker",
    "cluster": "helm install into a real cluster (--cluster=auto|kind|local|context:NAME)",
    "load": "100 concurrent users against the resource budget (needs the runtime stack)",
    "docs": "the documentation: commands, paths and values it names exist; troubleshooting, prerequisites, access",
}
EXTRA_REQUIRABLE = {"app"}


def required_tiers() -> set[str]:
    raw = os.environ.get("REQUIRE_TIERS", "")
    names = {name.strip() for name in raw.split(",") if name.strip()}
    unknown = names - set(TIERS) - EXTRA_REQUIRABLE
    if unknown:
        raise pytest.UsageError(
            f"REQUIRE_TIERS names unknown tiers {sorted(unknown)}; known: {sorted(set(TIERS) | EXTRA_REQUIRABLE)}"
        )
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


# Why --cluster=auto (or none) chose what it chose: set by the plugin, shown in the header and skip reason.
CLUSTER_CHOICE = pytest.StashKey[str]()


def _cluster_missing(config: pytest.Config) -> str | None:
    if config.getoption("cluster", default=None):
        return None
    if why := config.stash.get(CLUSTER_CHOICE, None):
        return why
    return (
        "no cluster named: pass --cluster=auto (kind, else the local cluster built here), --cluster=kind, "
        "--cluster=local or --cluster=context:NAME (an existing context such as minikube or docker-desktop); "
        "make test CLUSTER=… too"
    )


def missing_prerequisite(tier: str, config: pytest.Config) -> str | None:
    checks: dict[str, list[Callable[[], str | None]]] = {
        "static": [_helm_missing],
        "image": [_docker_missing],
        "runtime": [_docker_missing, _helm_missing],
        "cluster": [lambda: _cluster_missing(config), _helm_missing],
        "load": [_docker_missing, _helm_missing],
        "docs": [],
    }
    for check in checks[tier]:
        if reason := check():
            return reason
    return None
