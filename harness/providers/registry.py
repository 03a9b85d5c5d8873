"""Every kind of cluster the harness knows, in one table: adding one is its module (a
:class:`~harness.providers.provider.GenericProvider` subclass) and one line in :data:`PROVIDERS`.

The order is the order of recognition: Minikube first, because its node label names a profile
whatever the context is called. Only the standard library is imported (scripts/deploy.sh).
"""

from __future__ import annotations

from harness.providers.docker_engine import DOCKER_DESKTOP, DOCKER_ENGINE
from harness.providers.environment import Environment
from harness.providers.kind import KIND
from harness.providers.local import LOCAL
from harness.providers.minikube import MINIKUBE
from harness.providers.provider import GenericProvider, Provider

UNKNOWN: Provider = GenericProvider()
PROVIDERS: list[Provider] = [MINIKUBE, KIND, DOCKER_DESKTOP, LOCAL, DOCKER_ENGINE]


def provider_named(name: str) -> Provider:
    """The provider called ``name`` (kind, minikube, ...); the generic one for a name nobody claims."""
    return next((p for p in PROVIDERS if p.name == name), UNKNOWN)


def provider_of(env: Environment) -> Provider:
    return provider_named(env.provider)


def install_hint(tool: str) -> str:
    """How to install ``tool``, which a provider needs (its own tools; the base ones are the preflight's)."""
    return next((p.tools[tool] for p in PROVIDERS if tool in p.tools), f"install {tool}")


def flavour_of_context(context: str | None, node_labels: dict[str, str] | None = None) -> Environment:
    """Which kind of cluster a context points at: from its node labels, else its name."""
    for provider in PROVIDERS:
        if (found := provider.recognise(context, node_labels or {})) is not None:
            return found
    return Environment()


def parse_provider(value: str) -> Environment:
    """``kind[:NAME]`` | ``minikube[:PROFILE]`` | ``docker-desktop`` | ``local`` → :class:`Environment`."""
    name, _, cluster = value.partition(":")
    return Environment(name, cluster or provider_named(name).default_cluster())
