"""Rendering the chart with the real Helm engine (the ``helm`` CLI), for every tier.

    from harness.kube import render as r

    manifests = r.render(values_files=[r.TEST_SECRETS_VALUES], set_values={"backend.replicaCount": 3})
    deploy = r.deployment(manifests, "backend")
    env = r.container_env(manifests, "backend")      # {"DATABASE_URL": "...", "LOG_LEVEL": "info", ...}

Renders are cached per argument combination for the whole process (``helm template`` is the
slow part of the static tier); callers get deep copies, so mutating a result is safe.
A failing render raises :class:`RenderError` carrying Helm's message (``render_error()`` returns
it instead, for tests that expect the failure).
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from harness.core.paths import CHART_DIR
from harness.kube.helm import find_helm
from harness.kube.manifests import configmap_values, pod_spec, resolve_env, secret_values



# The test database's address: never routed (RFC 5737), an IP so that the chart derives its
# NetworkPolicy egress from the URL (issue 27).
TEST_DATABASE_IP = "203.0.113.10"
TEST_DATABASE_CIDR = f"{TEST_DATABASE_IP}/32"


def _test_secrets_file() -> Path:
    """A values file with credentials for rendering the chart in tests, made once per process.

    The database URL is obviously fake (its host a documentation address, RFC 5737, which the
    chart's NetworkPolicy takes as the database's: :data:`TEST_DATABASE_CIDR`); the JWT secret is
    random per run: the chart and the backend refuse any secret committed to this repository (issue
    27), so there is no fixed test secret. The file is readable only by its owner and removed when
    the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="todo-test-secrets-"))  # 0700
    path = folder / "values-test-secrets.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("secrets:\n"
                  f"  databaseUrl: 'postgresql://fake_user:fake-password-for-tests@{TEST_DATABASE_IP}:5432/todo_fake'\n"
                  f"  jwtSecret: '{secrets.token_hex(32)}'\n")
    atexit.register(shutil.rmtree, folder, True)
    return path


# Credentials that satisfy the chart's `required` values (never real ones), per process.
TEST_SECRETS_VALUES = _test_secrets_file()
# The environment files shipped with the chart (values-dev.yaml, values-staging.yaml, ...).
ENVIRONMENT_VALUES = tuple(sorted(CHART_DIR.glob("values-*.yaml")))
# What a user of an environment file adds on the command line besides it: the database's addresses.
# values-staging.yaml and values-prod.yaml turn NetworkPolicies on and read DATABASE_URL from
# secrets.existingSecret, which the chart cannot read, so it refuses to guess (issue 27).
ENVIRONMENT_TEST_SET: dict[str, Any] = {"networkPolicy.database.cidr": TEST_DATABASE_CIDR}
# `helm template` has no cluster to ask; this is the Kubernetes version it renders for
# unless told otherwise (a from-source Helm build would otherwise assume v1.20).
DEFAULT_KUBE_VERSION = "1.33.0"
DEFAULT_RELEASE = "todo-chatbot"
DEFAULT_NAMESPACE = "todo-chatbot"

COMPONENT_LABEL = "app.kubernetes.io/component"
HOOK_ANNOTATION = "helm.sh/hook"


class RenderError(RuntimeError):
    """``helm template`` failed; ``str()`` is Helm's own message."""

    def __init__(self, message: str, command: list[str]):
        super().__init__(message)
        self.message = message
        self.command = command


def helm_args(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
) -> list[str]:
    """``-f``/``--set-json`` arguments: each --set value keeps its Python type (JSON-encoded)."""
    args: list[str] = []
    for path in values_files:
        args += ["-f", str(path)]
    for key, value in (set_values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def _freeze(set_values: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, json.dumps(v, sort_keys=True)) for k, v in (set_values or {}).items())


@lru_cache(maxsize=256)
def _render_cached(
    chart: str,
    values_files: tuple[str, ...],
    frozen_set: tuple[tuple[str, str], ...],
    release: str,
    namespace: str,
    kube_version: str,
) -> tuple[dict[str, Any], ...]:
    set_values = {k: json.loads(v) for k, v in frozen_set}
    command = [
        find_helm(), "template", release, chart,
        "--namespace", namespace, "--kube-version", kube_version,
        *helm_args(values_files, set_values),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RenderError(_clean_helm_error(result.stderr), command)
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def _clean_helm_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("engine.go:")]
    return "\n".join(lines).replace("Use --debug flag to render out invalid YAML", "").strip()


def render(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = DEFAULT_KUBE_VERSION,
    chart: str | Path = CHART_DIR,
) -> list[dict[str, Any]]:
    """Every manifest ``helm template`` renders (``helm test`` hooks included), in Helm's order.

    ``values_files`` are applied in order, then ``set_values`` ({"backend.image.tag": "1.2.3"});
    values keep their type (``--set-json``). Raises RenderError with Helm's message on failure.
    """
    docs = _render_cached(
        str(chart), tuple(str(p) for p in values_files), _freeze(set_values), release, namespace,
        kube_version.lstrip("v"),
    )  # fmt: skip
    return copy.deepcopy(list(docs))


def render_error(
    values_files: Iterable[str | Path] = (), set_values: Mapping[str, Any] | None = None, **kwargs: Any
) -> str | None:
    """Helm's error message when rendering fails, or None when it succeeds."""
    try:
        render(values_files, set_values, **kwargs)
    except RenderError as exc:
        return exc.message
    return None


def lint(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    strict: bool = True,
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> subprocess.CompletedProcess[str]:
    """``helm lint [--strict]`` of the chart; the caller inspects returncode and stdout."""
    command = [
        find_helm(),
        "lint",
        str(CHART_DIR),
        "--kube-version",
        kube_version.lstrip("v"),
        *helm_args(values_files, set_values),
    ]
    if strict:
        command.append("--strict")
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# --- picking manifests ----------------------------------------------------------------------
def is_hook(manifest: Mapping[str, Any]) -> bool:
    return HOOK_ANNOTATION in ((manifest.get("metadata") or {}).get("annotations") or {})


def installed(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests `helm install` creates as the release (hooks such as `helm test` left out)."""
    return [m for m in manifests if not is_hook(m)]


def component_of(manifest: Mapping[str, Any]) -> str | None:
    return ((manifest.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL)


def by_kind(
    manifests: Iterable[dict[str, Any]], kind: str, component: str | None = None
) -> list[dict[str, Any]]:
    """Every manifest of ``kind`` (and, if given, of that app.kubernetes.io/component)."""
    return [
        m for m in manifests
        if m.get("kind") == kind and (component is None or component_of(m) == component)
    ]  # fmt: skip


def one(manifests: Iterable[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    """The single manifest of ``kind``/``component``; AssertionError naming what was found otherwise."""
    found = by_kind(installed(manifests), kind, component)
    if len(found) != 1:
        names = [m["metadata"]["name"] for m in found]
        raise AssertionError(
            f"expected exactly one {kind} (component={component}), found {len(found)}: {names}"
        )
    return found[0]


def deployment(manifests: Iterable[dict[str, Any]], component: str) -> dict[str, Any]:
    return one(manifests, "Deployment", component)


def service(manifests: Iterable[dict[str, Any]], component: str) -> dict[str, Any]:
    return one(manifests, "Service", component)


def configmap(manifests: Iterable[dict[str, Any]], component: str) -> dict[str, Any]:
    """The component's ConfigMap (backend or frontend): its ``data`` keys are variable names."""
    return one(manifests, "ConfigMap", component)


def secret(manifests: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The chart's Secret of credentials, or None when ``secrets.existingSecret`` is used (the chart's
    own PROXY_TOKEN Secret, always made, is not it)."""
    found = [s for s in by_kind(installed(manifests), "Secret")
             if not s["metadata"]["name"].endswith("-proxy-token")]
    return found[0] if found else None


def secret_data(manifests: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The chart's Secret decoded (base64 ``data`` and plain ``stringData``); {} without one."""
    sec = secret(manifests)
    return {} if sec is None else secret_values(sec)


def container(workload: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The (named, or only) container of a Deployment or Pod (its pod spec: ``manifests.pod_spec``)."""
    containers = pod_spec(workload)["containers"]
    if name is None:
        if len(containers) != 1:
            raise AssertionError(f"{workload['metadata']['name']} has {len(containers)} containers; name one")
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def container_env(manifests: list[dict[str, Any]], component: str) -> dict[str, str]:
    """The environment the component's container gets, resolved from the rendered manifests.

    ``envFrom`` first, then ``env`` entries in order (literal values, configMapKeyRef, secretKeyRef
    against the rendered ConfigMaps and Secrets): ``manifests.resolve_env`` with ``missing="skip"``,
    so a reference to an object the chart did not render (``secrets.existingSecret``), to an absent
    key, or to a ``fieldRef`` (no pod here) is left out.
    """
    spec = container(deployment(manifests, component))
    release = installed(manifests)
    configmaps = {m["metadata"]["name"]: configmap_values(m) for m in by_kind(release, "ConfigMap")}
    secrets = {m["metadata"]["name"]: secret_values(m) for m in by_kind(release, "Secret")}
    return {v.name: v.value for v in resolve_env(spec, configmaps, secrets, missing="skip")}


def probe_targets(manifests: list[dict[str, Any]], component: str) -> dict[str, tuple[str, int]]:
    """{"livenessProbe": ("/healthz", 8000), ...}: each enabled HTTP probe's path and numeric port."""
    spec = container(deployment(manifests, component))
    ports = {p.get("name"): p["containerPort"] for p in spec.get("ports") or []}
    targets = {}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        if http := (spec.get(kind) or {}).get("httpGet"):
            port = http["port"]
            targets[kind] = (http["path"], ports[port] if isinstance(port, str) else int(port))
    return targets


# --- NOTES.txt ------------------------------------------------------------------------------
def render_notes(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> str:
    """The text of NOTES.txt for these values, without a cluster.

    ``helm template`` never renders NOTES.txt and ``helm install --dry-run`` needs a cluster, so a
    throwaway copy of the chart renders the same file through ``tpl`` inside a ConfigMap.
    (``lookup`` returns nothing here, as in any offline render.)
    """
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="notes-") as tmp:
        copy_dir = Path(tmp) / CHART_DIR.name
        shutil.copytree(CHART_DIR, copy_dir)
        (copy_dir / "notes.tmpl").write_text((CHART_DIR / "templates" / "NOTES.txt").read_text())
        (copy_dir / "templates" / "zz-notes-render.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-render\n"
            'data:\n  notes: {{ tpl (.Files.Get "notes.tmpl") . | quote }}\n'
        )
        docs = render(
            values_files,
            set_values,
            release=release,
            namespace=namespace,
            kube_version=kube_version,
            chart=copy_dir,
        )
    return next(d for d in docs if d.get("metadata", {}).get("name") == "notes-render")["data"]["notes"]
