"""Namespaces of a test run: a random suffix each (EC-7), a label naming the run, deleted in teardown.

Each is held to the Pod Security Standards' "restricted" profile by Pod Security Admission labels
(issue 27); a namespace at a lower level carries the reason in an annotation.
"""

from __future__ import annotations

import re

from harness.core.names import random_suffix
from harness.core.wait import wait_for
from harness.deploy.conditions import NamespaceDeleted
from harness.kube.pod_security import LEVELS, RESTRICTED

NAMESPACE_LABEL = "todo-chatbot.verification/run"
PSA_PREFIX = "pod-security.kubernetes.io"
# Why a namespace is below restricted, for whoever reads the cluster (issue 27).
POD_SECURITY_REASON = "todo-chatbot.verification/pod-security-reason"


def namespace_name(prefix: str = "todo-verify", suffix: str | None = None) -> str:
    """A DNS-1123 label, unique per call: ``todo-verify-k3x9q2`` (EC-7)."""
    clean = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "ns"
    return f"{clean[:50]}-{suffix or random_suffix()}"


def pod_security_metadata(level: str = RESTRICTED, reason: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) that make Pod Security Admission hold a namespace's pods to ``level``.

    enforce refuses a pod that breaks it; warn and audit at the same level say so to the client and
    in the audit log. ``latest``: the profile of the cluster's own version. Any level but restricted
    must say why (``reason``, kept in an annotation so that whoever reads the cluster sees it)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; one of {LEVELS}")
    if level != RESTRICTED and not reason.strip():
        raise ValueError(f"a namespace below 'restricted' ({level}) needs a reason")
    labels = {f"{PSA_PREFIX}/{mode}": level for mode in ("enforce", "warn", "audit")}
    labels |= {f"{PSA_PREFIX}/{mode}-version": "latest" for mode in ("enforce", "warn", "audit")}
    return labels, ({POD_SECURITY_REASON: reason.strip()} if level != RESTRICTED else {})


def create_namespace(core, name: str, run_id: str, pod_security: str = RESTRICTED, reason: str = "") -> None:
    """Namespace ``name``, labelled with the run and held to the Pod Security level ``pod_security``
    (issue 27): every pod the harness or the chart makes in a test namespace must pass restricted,
    unless the caller says why not (``reason``)."""
    from kubernetes import client

    labels, annotations = pod_security_metadata(pod_security, reason)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={NAMESPACE_LABEL: run_id, **labels}, annotations=annotations or None)))


def delete_namespace(core, name: str, wait_timeout: float = 0) -> None:
    """Delete ``name`` (foreground); with ``wait_timeout`` wait until it is gone. Missing is fine."""
    from kubernetes.client.exceptions import ApiException

    try:
        core.delete_namespace(name, propagation_policy="Foreground")
    except ApiException as exc:
        if exc.status != 404:
            raise
    if wait_timeout:
        wait_for(NamespaceDeleted(core, name), timeout=wait_timeout, interval=1)
