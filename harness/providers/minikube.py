"""Minikube, reached through its kubeconfig context (``--cluster=context:minikube``): never created
or deleted here. A profile is its cluster's name; the default one, ``minikube``, needs no ``-p``."""

from __future__ import annotations

from collections.abc import Mapping

from harness.providers.environment import Environment
from harness.providers.provider import REPLICAS_DOWN, GenericProvider

DEFAULT_PROFILE = "minikube"
# Minikube labels its nodes with the profile: a profile under a context of another name is still known.
PROFILE_LABEL = "minikube.k8s.io/name"


class Minikube(GenericProvider):
    name = "minikube"
    tools = {"minikube": "install Minikube: https://minikube.sigs.k8s.io/docs/start/"}

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None:
        if PROFILE_LABEL in node_labels:
            return Environment(self.name, node_labels[PROFILE_LABEL])
        if context == DEFAULT_PROFILE:
            return Environment(self.name, DEFAULT_PROFILE)
        return None

    def default_cluster(self) -> str | None:
        return DEFAULT_PROFILE

    def image_load_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        return ["minikube", "-p", cluster or DEFAULT_PROFILE, "image", "load", image]

    def image_remove_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        return ["minikube", "-p", cluster or DEFAULT_PROFILE, "image", "rm", image]

    def typed(self, argv: list[str]) -> str:
        if argv[1:3] == ["-p", DEFAULT_PROFILE]:
            argv = [argv[0], *argv[3:]]
        return super().typed(argv)

    def _profile_flag(self, cluster: str | None) -> str:
        return f" -p {cluster}" if cluster and cluster != DEFAULT_PROFILE else ""

    def start_command(self, cluster: str | None) -> str:
        return f"minikube{self._profile_flag(cluster)} start"

    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str:
        profile = self._profile_flag(cluster)
        return (
            f"minikube{profile} delete && minikube{profile} start --cpus={cpus} --memory={memory_mib} "
            f"(Minikube cannot resize an existing cluster), or lower the requests: {REPLICAS_DOWN}"
        )


MINIKUBE = Minikube()
