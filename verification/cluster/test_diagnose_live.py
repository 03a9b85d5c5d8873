"""The diagnosis on a live failure: an image that is not loaded is named, with the load command."""

from __future__ import annotations

import pytest

from harness import diagnose as dx
from harness.core.wait import wait_for
from harness.providers import image_load_command


@pytest.mark.requirement("EC-5", "US4-2")
def test_unloaded_image_is_diagnosed_with_the_load_command(cluster, namespace_factory):
    ns = namespace_factory("todo-diagnose")
    image = "todo-backend:never-built-0000"
    cluster.core.create_namespaced_pod(ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "not-loaded"},
        "spec": {"containers": [{"name": "app", "image": image, "imagePullPolicy": "Never"}]}})
    env = dx.Environment(cluster.env.provider, cluster.env.cluster, ns)

    def finding():
        found = [f for f in dx.diagnose(dx.collect(cluster.core, ns), env) if f.rule == "image-not-loaded"]
        return found[0] if found else None

    result = wait_for(finding, what="the image-not-loaded finding for pod not-loaded", timeout=90, interval=2)
    assert image in result.cause
    if cluster.env.provider in ("kind", "minikube"):
        assert image_load_command(image, env) in result.fix and "load" in result.fix
