"""Reading rendered manifests: pod templates, ConfigMap/Secret data and container environments.

Pure functions over manifests as dicts (``helm template`` output, hand-written YAML), shared by
the static tier (``harness.kube.render``, ``harness.kube.policy``), the Docker translation of
pod templates (``harness.podrt.translate``) and the cluster preflight:

* :func:`pod_template` / :func:`pod_spec` / :func:`pod_labels`: the pod template of any
  workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) or bare Pod;
* :func:`configmap_values` / :func:`secret_values`: an object's values as strings (a Secret's
  base64 ``data`` decoded, ``stringData`` on top, as the API server merges them);
* :func:`resolve_env`: a container's environment as Kubernetes builds it (``envFrom`` then
  ``env``, later wins, ``$(VAR)`` expansion), each variable with its source. What happens to a
  reference that cannot be resolved is the caller's explicit choice: ``missing="raise"`` (as
  the kubelet: ``CreateContainerConfigError``) or ``missing="skip"`` (leave the variable out).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Kinds whose ``spec.template`` is a pod template (CronJob nests one level deeper).
TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})

Missing = Literal["raise", "skip"]


# --- pod templates ----------------------------------------------------------------------------
def pod_template(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod template (``metadata`` + ``spec``) of a workload, the Pod itself for a Pod; None otherwise.

    A workload without a template gives ``{}``: it is still a workload.
    """
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return manifest  # a Pod is its own template: metadata + spec
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    if kind in TEMPLATE_KINDS:
        return spec.get("template") or {}
    return None


def effective_security(spec: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A container's securityContext setting ``key``, else the pod's (the kubelet's precedence)."""
    own = container.get("securityContext") or {}
    return own[key] if key in own else (spec.get("securityContext") or {}).get(key)


def pod_spec(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload or Pod (``{}`` when it has none); None for any other kind."""
    template = pod_template(manifest)
    return None if template is None else template.get("spec") or {}


def pod_labels(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The labels of the pods a workload creates (a Pod's own labels); {} for any other kind."""
    return ((pod_template(manifest) or {}).get("metadata") or {}).get("labels") or {}


# --- ConfigMaps and Secrets ---------------------------------------------------------------------
def configmap_values(manifest: Mapping[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` as strings."""
    return {k: str(v) for k, v in (manifest.get("data") or {}).items()}


def secret_values(manifest: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's values: base64 ``data`` decoded, then plain ``stringData`` (which wins)."""
    data = {k: base64.b64decode(v).decode() for k, v in (manifest.get("data") or {}).items()}
    data.update({k: str(v) for k, v in (manifest.get("stringData") or {}).items()})
    return data


# --- environment ------------------------------------------------------------------------------
class UnresolvedReference(ValueError):
    """An env reference names a ConfigMap, Secret or key that the rendered chart lacks.

    On a cluster this is ``CreateContainerConfigError``; the message names the reference.
    """


class UnsupportedEnv(ValueError):
    """An env entry that cannot be resolved from manifests (an unknown ``envFrom``/``valueFrom``
    kind, or a ``fieldRef`` whose value the caller did not provide)."""


@dataclass(frozen=True)
class EnvVar:
    """One variable as the container will see it, and where its value came from.

    ``source`` is ``literal``, ``configmap:<name>/<key>``, ``secret:<name>/<key>``
    (``valueFrom``), ``configmap:<name>`` / ``secret:<name>`` (``envFrom``), or
    ``field:<path>``.
    """

    name: str
    value: str
    source: str

    @property
    def from_secret(self) -> bool:
        return self.source.startswith("secret:")


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: defined names expand, ``$$`` escapes, others stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR_REF.sub(replace, text)


def _lookup(store: Mapping[str, Mapping[str, str]], kind: str, ref: Mapping[str, Any], missing: Missing) -> str | None:
    """The referenced value; None when it is absent and optional (or ``missing="skip"``)."""
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional", False))
    if name not in store:
        problem = f"{kind} {name!r} (referenced for key {key!r}) is not in the rendered chart"
    elif key not in store[name]:
        problem = f"{kind} {name!r} has no key {key!r}"
    else:
        return store[name][key]
    if optional or missing == "skip":
        return None
    raise UnresolvedReference(problem)


def resolve_env(
    container: Mapping[str, Any],
    configmaps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
    *,
    missing: Missing = "raise",
    fields: Mapping[str, str] | None = None,
) -> list[EnvVar]:
    """The container's environment, in Kubernetes order: ``envFrom`` first, then ``env``.

    ``configmaps``/``secrets`` map object names to their data (:func:`configmap_values`,
    :func:`secret_values`); ``fields`` gives the ``fieldRef`` values (``{"metadata.name": ...}``).
    A later definition of a name replaces an earlier one, and ``$(VAR)`` in a literal value
    expands against the variables defined before it, as in Kubernetes. A reference marked
    ``optional`` whose object or key is absent leaves the variable out.

    ``missing`` says what happens to anything else that cannot be resolved — an absent
    ConfigMap, Secret or key (:class:`UnresolvedReference`), an unknown ``envFrom`` or
    ``valueFrom`` kind or a ``fieldRef`` not in ``fields`` (:class:`UnsupportedEnv`):
    ``"raise"`` raises that error, ``"skip"`` leaves the variable out.
    """
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing must be 'raise' or 'skip', not {missing!r}")
    fields = fields or {}
    resolved: dict[str, EnvVar] = {}

    def unsupported(message: str) -> None:
        if missing == "raise":
            raise UnsupportedEnv(message)

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref, store, kind = source["configMapRef"], configmaps, "configmap"
        elif "secretRef" in source:
            ref, store, kind = source["secretRef"], secrets, "secret"
        else:
            unsupported(f"envFrom entry {source!r} is neither configMapRef nor secretRef")
            continue
        name = ref.get("name", "")
        if name not in store:
            if ref.get("optional") or missing == "skip":
                continue
            raise UnresolvedReference(f"{kind} {name!r} (envFrom) is not in the rendered chart")
        for key, value in store[name].items():
            resolved.pop(prefix + key, None)
            resolved[prefix + key] = EnvVar(prefix + key, value, f"{kind}:{name}")
    for entry in container.get("env") or []:
        name = entry["name"]
        if "valueFrom" not in entry:
            current = {k: v.value for k, v in resolved.items()}
            var = EnvVar(name, expand(str(entry.get("value", "")), current), "literal")
        else:
            value_from = entry["valueFrom"]
            if "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                value = _lookup(configmaps, "ConfigMap", ref, missing)
                source = f"configmap:{ref.get('name')}/{ref.get('key')}"
            elif "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                value = _lookup(secrets, "Secret", ref, missing)
                source = f"secret:{ref.get('name')}/{ref.get('key')}"
            elif "fieldRef" in value_from:
                path = value_from["fieldRef"].get("fieldPath", "")
                value, source = fields.get(path), f"field:{path}"
                if value is None:
                    unsupported(f"env {name}: fieldRef {path!r} has no known value")
            else:
                value, source = None, ""
                unsupported(f"env {name}: valueFrom {sorted(value_from)} is not supported")
            if value is None:  # optional and absent, or skipped: the variable is not set
                continue
            var = EnvVar(name, value, source)
        resolved.pop(name, None)
        resolved[name] = var
    return list(resolved.values())
