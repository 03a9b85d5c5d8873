"""Offline validation of manifests against the strict Kubernetes JSON schemas (FR-034, offline half).

The schemas are the ones ``kubernetes-validate`` ships (Kubernetes 1.25–1.37). Its own
``validate()`` re-reads and re-parses the 1.4 MB definitions file on every call; this module
builds one validator per (version, kind, apiVersion) and keeps it, so checking every rendered
manifest against seven versions takes a fraction of a second.

    errors = validate(manifest, "1.33")     # [] when valid, else readable one-liners
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from referencing import Registry, Resource

# The Kubernetes minor versions the chart supports (Chart.yaml kubeVersion: >=1.29.0-0) and
# that the static tier validates against.
SUPPORTED_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")


class SchemaNotFound(LookupError):
    """No schema for this kind/apiVersion in this Kubernetes version (e.g. a removed API)."""


def _schema_dir(version: str) -> Any:
    major_minor = ".".join(version.lstrip("v").split(".")[:2])
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    directory = root.joinpath(f"v{major_minor}.0-local-strict")
    if not directory.is_dir():
        raise SchemaNotFound(f"kubernetes-validate has no schemas for Kubernetes {major_minor}")
    return directory


@cache
def _registry(version: str) -> Registry:
    definitions = json.loads(_schema_dir(version).joinpath("_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    # rbac.authorization.k8s.io/v1 -> rbac-v1; apps/v1 -> apps-v1; v1 -> v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        raise SchemaNotFound(f"Kubernetes {version} has no schema for {kind} {api_version}")
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def validate(manifest: dict[str, Any], version: str) -> list[str]:
    """Every schema violation of ``manifest`` for Kubernetes ``version`` ("1.33"), as one-liners."""
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    name = (manifest.get("metadata") or {}).get("name", "?")
    if not kind or not api_version:
        return [f"{kind or '?'}/{name}: apiVersion and kind are required"]
    try:
        validator = _validator(version, kind, api_version)
    except SchemaNotFound as exc:
        return [f"{kind}/{name}: {exc}"]
    try:
        errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    except referencing.exceptions.Unresolvable as exc:  # a broken schema is a harness problem
        raise RuntimeError(f"schema for {kind} {api_version} @ {version} does not resolve: {exc}") from exc
    return [
        f"{kind}/{name} @ Kubernetes {version}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in errors
    ]
