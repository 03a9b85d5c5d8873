"""Cluster providers: one module per kind of cluster behind one interface
(:mod:`harness.providers.provider`), listed in :mod:`harness.providers.registry`.

* :mod:`~harness.providers.kind`, :mod:`~harness.providers.minikube`,
  :mod:`~harness.providers.docker_engine` (Docker Desktop, the runtime tier's Docker),
  :mod:`~harness.providers.local` (the cluster built here from sources): what each kind of cluster
  needs, how an image reaches its nodes, how it starts and gets more room; kind and local also
  provide a session's cluster, :mod:`~harness.providers.context` any named context.
* :mod:`~harness.providers.option` (``--cluster``'s forms) and :mod:`~harness.providers.choice`
  (``auto`` and ``none``, decided once).
* :mod:`~harness.providers.commands`: those commands by :class:`Environment`, for the preflight, the
  diagnosis and ``scripts/deploy.sh`` (``python -m harness.providers load --context CTX IMAGE``).
* :mod:`~harness.providers.preflight`: every missing prerequisite in one message.

What this package imports (not the preflight) needs only the standard library at import time:
``scripts/deploy.sh`` runs ``python -m harness.providers`` with any Python 3.
"""

from __future__ import annotations

from harness.providers.choice import AUTO, NONE, ClusterChoice, choose_automatically, choose_cluster
from harness.providers.commands import (
    image_load_advice,
    image_load_argv,
    image_load_command,
    image_remove_argv,
    load_image,
    more_resources_command,
    remove_image,
    start_command,
)
from harness.providers.environment import Environment
from harness.providers.option import (
    USAGE,
    ClusterOptionError,
    ClusterSpec,
    make_provider,
    parse_cluster_option,
    provider_for,
)
from harness.providers.provider import ClusterProvider, GenericProvider, Provider
from harness.providers.registry import PROVIDERS, flavour_of_context, parse_provider, provider_of

__all__ = [
    "AUTO", "NONE", "PROVIDERS", "USAGE", "ClusterChoice", "ClusterOptionError", "ClusterProvider", "ClusterSpec",
    "Environment", "GenericProvider", "Provider", "choose_automatically", "choose_cluster", "flavour_of_context",
    "image_load_advice", "image_load_argv", "image_load_command", "image_remove_argv", "load_image",
    "make_provider", "more_resources_command", "parse_cluster_option", "parse_provider", "provider_for",
    "provider_of", "remove_image", "start_command",
]
