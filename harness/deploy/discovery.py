"""Every object in a namespace, of every namespaced kind the API server serves (discovery, as
``kubectl api-resources --verbs=list --namespaced``): what the uninstall sweep lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiResource:
    """One namespaced kind the API server serves with the ``list`` verb."""

    group_version: str  # "v1", "apps/v1", …
    name: str  # the plural, e.g. "deployments"
    kind: str

    @property
    def path(self) -> str:
        return ("/api/" if "/" not in self.group_version else "/apis/") + self.group_version


def _get_json(api_client, path: str, timeout: float = 30) -> dict:
    """GET ``path`` of the API server as JSON, through the client's own connection and credentials."""
    import json

    if not hasattr(api_client, "param_serialize"):  # kubernetes < 34: the older generated client
        return api_client.call_api(path, "GET", response_type="object", auth_settings=["BearerToken"],
                                   _return_http_data_only=True, _request_timeout=timeout)
    from kubernetes.client.exceptions import ApiException

    request = api_client.param_serialize("GET", path, header_params={"Accept": "application/json"},
                                         auth_settings=["BearerToken"])
    response = api_client.call_api(*request, _request_timeout=timeout)
    response.read()
    if not 200 <= response.status < 300:
        raise ApiException(status=response.status, reason=f"GET {path}: {response.data[:200]!r}")
    return json.loads(response.data)


def listable_resources(api_client, namespaced: bool = True) -> tuple[list[ApiResource], list[str]]:
    """Every namespaced (or, with ``namespaced=False``, cluster-scoped) kind the API server serves with
    ``list`` (each group's preferred version), as ``kubectl api-resources --verbs=list
    --namespaced=true|false`` finds them: (resources, the group versions whose discovery failed, e.g.
    an aggregated API that is down)."""
    from kubernetes import client

    versions = [v for v in client.CoreApi(api_client).get_api_versions().versions]
    versions += [g.preferred_version.group_version for g in client.ApisApi(api_client).get_api_versions().groups]
    found, failed = [], []
    for version in versions:
        try:
            listing = _get_json(api_client, ("/api/" if "/" not in version else "/apis/") + version)
        except Exception as exc:  # noqa: BLE001 - reported: a kind we cannot see is a kind not swept
            failed.append(f"{version} ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
            continue
        for r in listing.get("resources") or []:
            if "/" not in r["name"] and bool(r.get("namespaced")) == namespaced and "list" in (r.get("verbs") or []):
                found.append(ApiResource(version, r["name"], r["kind"]))
    return found, failed


def listable_namespaced_resources(api_client) -> tuple[list[ApiResource], list[str]]:
    """:func:`listable_resources` of the namespaced kinds (``kubectl api-resources --verbs=list --namespaced``)."""
    return listable_resources(api_client, namespaced=True)


def namespaced_objects(api_client, namespace: str | None, resources: Sequence[ApiResource]) -> tuple[list[dict], list[str]]:
    """Every object of ``resources`` in ``namespace`` (of cluster-scoped ``resources`` with None) as
    (kind, metadata) dicts: ``{"kind", "metadata"}``; and the resources whose listing failed."""
    objects, failed = [], []
    for resource in resources:
        where = f"/namespaces/{namespace}" if namespace else ""
        try:
            listing = _get_json(api_client, f"{resource.path}{where}/{resource.name}")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            failed.append(f"{resource.name}.{resource.group_version} ({type(exc).__name__})")
            continue
        objects += [{"kind": resource.kind, "apiVersion": resource.group_version, "metadata": item.get("metadata") or {}}
                    for item in listing.get("items") or []]
    return objects, failed
