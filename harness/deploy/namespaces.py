"""Namespaces of a test run: a random suffix each (EC-7), a label naming the run, deleted in teardown."""

from __future__ import annotations

import re

from harness.core.names import random_suffix
from harness.core.wait import wait_for
from harness.deploy.conditions import NamespaceDeleted

NAMESPACE_LABEL = "todo-chatbot.verification/run"


def namespace_name(prefix: str = "todo-verify", suffix: str | None = None) -> str:
    """A DNS-1123 label, unique per call: ``todo-verify-k3x9q2`` (EC-7)."""
    clean = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "ns"
    return f"{clean[:50]}-{suffix or random_suffix()}"


def create_namespace(core, name: str, run_id: str) -> None:
    from kubernetes import client

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: run_id})))


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
