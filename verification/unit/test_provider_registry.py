"""Harness self-tests: a kind of cluster is one module and one line in the registry. A fake one,
written here as its module would be and registered with that one line, is then known wherever the
kind of cluster matters (recognition, image loading and removal, start and resize advice, NodePort
hosts, the preflight's tools), and every session provider implements the one interface."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

from harness.deploy import access
from harness.providers import (
    ClusterProvider,
    Environment,
    GenericProvider,
    flavour_of_context,
    image_load_advice,
    image_load_command,
    image_remove_argv,
    more_resources_command,
    parse_provider,
    registry,
    start_command,
)
from harness.providers import preflight as pf
from harness.providers.commands import main as providers_main
from harness.providers.option import SESSION_PROVIDERS, ClusterSpec

pytestmark = pytest.mark.harness

IMAGE = "todo-backend:0.1.0"


class Fake(GenericProvider):
    """What a new provider module holds: only what differs from a cluster nothing is known about."""

    name = "fake"
    tools = {"fakectl": "install fakectl: https://fake.example/install"}

    def recognise(self, context, node_labels):
        return Environment(self.name, context.removeprefix("fake-")) if context and context.startswith("fake-") else None

    def image_load_argv(self, image, cluster, python):
        return ["fakectl", "load", image, "--cluster", cluster]

    def image_remove_argv(self, image, cluster, python):
        return ["fakectl", "unload", image, "--cluster", cluster]

    def start_command(self, cluster):
        return f"fakectl up {cluster}"

    def more_resources_command(self, cluster, cpus, memory_mib):
        return f"fakectl resize {cluster} --cpus={cpus} --memory={memory_mib}"

    def node_hosts(self):
        return ["fake.host"]


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", [*registry.PROVIDERS, Fake()])  # the registry line
    return Environment("fake", "dev")


def test_a_registered_provider_is_recognised_from_its_context_and_by_name(fake):
    assert flavour_of_context("fake-dev") == fake
    assert parse_provider("fake:dev") == fake
    assert flavour_of_context("kind-dev") == Environment("kind", "dev")  # the others unchanged


def test_a_registered_provider_owns_its_image_commands_and_advice(fake):
    assert image_load_command(IMAGE, fake) == f"fakectl load {IMAGE} --cluster dev"
    assert image_remove_argv(IMAGE, fake) == ["fakectl", "unload", IMAGE, "--cluster", "dev"]
    assert image_load_advice(IMAGE, fake) == image_load_command(IMAGE, fake)
    assert more_resources_command(fake, cpus=3, memory_mib=4096) == "fakectl resize dev --cpus=3 --memory=4096"
    assert start_command(fake) == "fakectl up dev"


def test_deploy_sh_prints_a_registered_providers_load_command(fake, capsys):
    assert providers_main(["load-command", "--context", "fake-dev", IMAGE]) == 0
    assert capsys.readouterr().out.strip() == f"fakectl load {IMAGE} --cluster dev"


def test_preflight_names_a_registered_providers_tool_and_how_to_start_it(fake, tmp_path):
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- {name: fake-dev, context: {cluster: c, user: u}}\n")
    from harness.providers.context import ContextProvider

    provider = ContextProvider("fake-dev", str(config))
    assert provider.required_tools() == ["docker", "kubectl", "helm", "fakectl"]
    problems = pf.check_tools(["fakectl"], which=lambda tool: None)
    assert [str(p) for p in problems] == ["fakectl not found on PATH: install fakectl: https://fake.example/install"]

    def down():
        raise ConnectionError("refused")

    assert pf.check_reachable(down, "fake-dev", fake)[0].fix == "fakectl up dev"


def test_a_registered_providers_nodeports_are_tried_on_its_hosts_first(fake):
    node = SimpleNamespace(status=SimpleNamespace(addresses=[SimpleNamespace(type="InternalIP", address="10.0.0.2")]))
    service = SimpleNamespace(spec=SimpleNamespace(ports=[SimpleNamespace(node_port=30080)]))
    core = SimpleNamespace(read_namespaced_service=lambda name, namespace: service,
                           list_node=lambda: SimpleNamespace(items=[node]))
    assert access.node_port_candidates(core, "ns", "svc", "fake") == ["http://fake.host:30080", "http://10.0.0.2:30080"]
    assert access.node_port_candidates(core, "ns", "svc", "kind") == ["http://10.0.0.2:30080"]


@pytest.mark.parametrize("form", sorted(SESSION_PROVIDERS))
def test_every_session_provider_implements_the_one_interface(form, tmp_path):
    """No caller asks ``hasattr``: each session provider has every member of :class:`ClusterProvider`."""
    provider = SESSION_PROVIDERS[form](ClusterSpec(form, "todo-verify"), True, tmp_path)
    members = {name for name, _ in inspect.getmembers(ClusterProvider) if not name.startswith("_")}
    members |= set(ClusterProvider.__annotations__)
    assert {name for name in members if not hasattr(provider, name)} == set()
