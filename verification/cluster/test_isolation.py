"""Several developers on one cluster: a second release of the same name in another namespace, with
its own PostgreSQL, comes, is used and goes while the first one is in use.

What would show interference, each checked on the running releases: data written through one
release visible through the other (users and tasks live in each release's own database, so a
frontend forwarding to the other namespace's backend, or a backend on the other database, shows up
as a user who can sign in where they never signed up); the first release's pods restarted or
replaced; a Service of the first release routing to a pod of the second; the first release
failing once the second is uninstalled.
"""

from __future__ import annotations

import httpx
import pytest

from harness.deploy import k8s
from harness.deploy.release import install_release, remove_release
from harness.testkit import journey


def _pod_lives(release) -> dict[str, tuple[str, int]]:
    """name -> (uid, restarts of all its containers): a replaced or restarted pod changes it."""
    return {p.metadata.name: (p.metadata.uid, sum(s.restart_count for s in p.status.container_statuses or []))
            for p in release.pods()}


def _endpoint_ips(release, component: str) -> set[str]:
    """Every address the component's Service sends traffic to (its EndpointSlices, ready or not)."""
    from kubernetes import client

    name = release.service(component).metadata.name
    slices = client.DiscoveryV1Api(release.cluster.core.api_client).list_namespaced_endpoint_slice(
        release.namespace, label_selector=f"kubernetes.io/service-name={name}").items
    return {address for s in slices for e in s.endpoints or [] for address in e.addresses or []}


def _add_task(user: journey.User, title: str) -> dict:
    with httpx.Client(base_url=user.base_url, timeout=30, headers=user.headers) as client:
        response = client.post(user.path("tasks"), json={"title": title})
    assert response.status_code == 201, f"add task via {user.base_url}: {response.status_code} {response.text[:300]}"
    return response.json()


def _login_status(base_url: str, user: journey.User) -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return client.post("/api/auth/login", json={"email": user.email, "password": user.password}).status_code


def _titles(user: journey.User) -> list[str]:
    return sorted(t["title"] for t in journey.tasks(user))


@pytest.mark.requirement("EC-7")
def test_two_releases_in_two_namespaces_do_not_interfere(release, cluster, images, tmp_path, record_property):
    a_lives = _pod_lives(release)
    with release.frontend_access() as a_url:
        alice = journey.register_and_login(a_url, prefix="isolation-a")
        _add_task(alice, "written through release A")

    other = install_release(cluster, images, tmp_path, prefix="todo-second")  # same name, own PostgreSQL
    try:
        with other.frontend_access() as b_url:
            bob = journey.register_and_login(b_url, prefix="isolation-b")
            _add_task(bob, "written through release B")
            assert _titles(bob) == ["written through release B"], "release B lists tasks it was never given"
            assert _login_status(b_url, alice) == 401, "A's user signs in through release B"
        with release.frontend_access() as a_url:
            assert _login_status(a_url, bob) == 401, "B's user signs in through release A: they share data"
            alice.base_url = a_url  # the same address, unless it is a new port-forward
            journey.login(alice)
            assert _titles(alice) == ["written through release A"], "release A shows tasks it was never given"
            # B's e-mail address is free in A: B's sign-up is not in A's database.
            twin = journey.User(a_url, bob.email, bob.password, via_frontend=True)
            with httpx.Client(base_url=a_url, timeout=30) as client:
                answer = client.post("/api/auth/register", json={"email": bob.email, "password": bob.password})
            assert answer.status_code == 201, f"B's address is taken in A: {answer.status_code} {answer.text[:200]}"
            assert journey.tasks(journey.login(twin)) == [], "B's tasks are visible through release A"

        b_ips = {p.status.pod_ip for p in other.pods()}
        for component in ("backend", "frontend"):
            a_ips = {p.status.pod_ip for p in release.pods(component)}
            routed = _endpoint_ips(release, component)
            assert routed == a_ips, (f"release A's {component} Service routes to {sorted(routed)}, its pods are "
                                     f"{sorted(a_ips)} (release B's: {sorted(b_ips)})")
        assert _pod_lives(release) == a_lives, "release A's pods were replaced or restarted while B installed"
    finally:
        remove_release(other)

    assert _pod_lives(release) == a_lives, "release A's pods were replaced or restarted while B came and went"
    for component in ("backend", "frontend"):
        assert k8s.service_routes_to_ready_pods(release.cluster.core, release.namespace,
                                                release.service(component).metadata.name), component
    with release.frontend_access() as a_url:
        alice.base_url = a_url
        journey.login(alice)
        assert _titles(alice) == ["written through release A"], "release A lost its data when B was uninstalled"
        assert journey.chat(alice, "list my tasks").get("response"), "release A does not chat after B is gone"
    record_property("evidence", f"release {release.name} in {release.namespace} and {other.namespace}: users "
                                "and tasks of each invisible through the other, A's pods untouched "
                                f"({len(a_lives)}), A's Services route to A's pods only, A serves after B is gone")
