"""The clusters whose images are the Docker engine's own: the runtime tier's pods on Docker
(``docker``) and Docker Desktop's Kubernetes (``docker-desktop``, reached through its context).
Nothing is loaded: an image only has to be built into that engine."""

from __future__ import annotations

from collections.abc import Mapping

from harness.providers.environment import Environment
from harness.providers.provider import GenericProvider

DOCKER_DESKTOP_CONTEXTS = ("docker-desktop", "docker-for-desktop")  # the second: older releases


class DockerEngine(GenericProvider):
    """The runtime tier: the chart's pods as containers of this machine's Docker engine."""

    name = "docker"
    shares_docker_images = True

    def image_load_advice(self, image: str, command: str | None) -> str:
        return (
            f"build it into the same Docker engine ('make images'; check with 'docker image inspect {image}'): "
            "that engine's images are the cluster's images"
        )


class DockerDesktop(DockerEngine):
    name = "docker-desktop"

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None:
        return Environment(self.name) if context in DOCKER_DESKTOP_CONTEXTS else None

    def start_command(self, cluster: str | None) -> str:
        return "Docker Desktop → Settings → Kubernetes → Enable Kubernetes"

    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str:
        return (
            f"Docker Desktop → Settings → Resources: give it at least {cpus} CPUs and {memory_mib // 1024} GB, "
            "then Apply & restart; or lower the replica counts (--set backend.replicaCount=1)"
        )

    def node_hosts(self) -> list[str]:
        """Docker Desktop publishes NodePorts on the host's loopback (its node's address is in its VM)."""
        return ["localhost"]


DOCKER_ENGINE = DockerEngine()
DOCKER_DESKTOP = DockerDesktop()
