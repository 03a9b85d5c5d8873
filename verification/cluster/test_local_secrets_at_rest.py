"""The local cluster keeps Secrets encrypted in etcd (the credentials the chart's Secret holds).

A self-test of ``harness.localk8s`` (the cluster built here from upstream sources), not of the
product: it proves no spec ID. It reads the bytes etcd stores for a Secret made through the API, as
anyone who can read etcd's data directory or reach its port with a client certificate would.
"""

from __future__ import annotations

import secrets

import pytest

from harness.localk8s.cluster import etcd_value
from harness.localk8s.config import SECRETS_AT_REST_PREFIX, Layout
from verification.tiers import local_cluster_requested

pytestmark = pytest.mark.harness


def test_the_local_cluster_keeps_secrets_encrypted_in_etcd(request, cluster, record_property):
    if not local_cluster_requested(request.config):
        pytest.skip("only with --cluster=local: the other providers' etcd is not on this host")
    namespace = cluster.new_namespace("todo-at-rest")
    plain = secrets.token_hex(24)
    cluster.core.create_namespaced_secret(namespace, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "at-rest"}, "stringData": {"password": plain}})
    try:
        stored = etcd_value(Layout(), f"/registry/secrets/{namespace}/at-rest")
        assert stored is not None, f"no Secret {namespace}/at-rest in etcd: is this the session's local cluster?"
        assert plain.encode() not in stored, "the Secret's value is in etcd in plain text"
        assert stored.startswith(SECRETS_AT_REST_PREFIX), f"etcd holds the Secret as {stored[:40]!r}…, not sealed"
        read = cluster.core.read_namespaced_secret("at-rest", namespace).data["password"]
        assert read, "the API server cannot read back the Secret it sealed"
        record_property("evidence", f"etcd holds the Secret as {SECRETS_AT_REST_PREFIX.decode()}… "
                                    f"({len(stored)} bytes, its value absent); the API reads it back")
    finally:
        cluster.drop_namespace(namespace, background=True)
