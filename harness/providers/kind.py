"""kind: the kind of cluster (:class:`Kind`), and a throwaway kind cluster for a session
(:class:`KindProvider`): created for the session, deleted at the end unless --keep-cluster.

Uses pytest-kind-ng's :class:`KindCluster` when it is installed (with the ``kind`` and
``kubectl`` found on PATH, so it never downloads them), and the ``kind`` CLI directly
otherwise. Either way the kubeconfig is a file of its own under ``.pytest-kind/NAME/``: the
user's ~/.kube/config and its current context are never touched.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.providers.environment import Environment
from harness.providers.provider import BASE_TOOLS, GenericProvider, LoadsImagesByCommand


class Kind(GenericProvider):
    """kind's nodes are containers of the Docker engine; their containerd gets images by ``kind load``."""

    name = "kind"
    tools = {"kind": "install kind: 'go install sigs.k8s.io/kind@v0.33.0' "
                     "(or https://kind.sigs.k8s.io/docs/user/quick-start/)"}

    def recognise(self, context: str | None, node_labels: Mapping[str, str]) -> Environment | None:
        if context and context.startswith("kind-"):
            return Environment(self.name, context.removeprefix("kind-"))
        return None

    def image_load_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        return ["kind", "load", "docker-image", image, "--name", cluster or "kind"]

    def image_remove_argv(self, image: str, cluster: str | None, python: str) -> list[str] | None:
        # kind has no "unload": the image goes from the node container's containerd directly.
        return ["docker", "exec", f"{cluster or 'kind'}-control-plane", "crictl", "rmi", image]

    def start_command(self, cluster: str | None) -> str:
        return f"kind create cluster --name {cluster or 'kind'}"

    def more_resources_command(self, cluster: str | None, cpus: int, memory_mib: int) -> str:
        return (
            f"kind nodes share the Docker engine's CPUs and memory: give the engine at least {cpus} CPUs and "
            f"{memory_mib // 1024} GB, or lower the replica counts (--set backend.replicaCount=1)"
        )


KIND = Kind()


class KindProvider(LoadsImagesByCommand):
    def __init__(self, name: str, keep: bool = False, workdir: Path = Path(".pytest-kind")) -> None:
        self.name = name
        self.keep = keep
        self.context = f"kind-{name}"
        self.kubeconfig = (workdir / name / "kubeconfig").resolve()
        self.environment = Environment(KIND.name, name)
        self._created = False

    def required_tools(self) -> list[str]:
        """kind before kubectl: it is what creates the cluster."""
        return [BASE_TOOLS[0], *KIND.tools, *BASE_TOOLS[1:]]

    def preflight_problems(self) -> list[tuple[str, str]]:
        return []

    def create(self) -> None:
        kind = shutil.which("kind")
        kubectl = shutil.which("kubectl")
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        try:
            from pytest_kind import KindCluster  # pytest-kind-ng
        except ImportError:
            KindCluster = None  # noqa: N806
        if KindCluster is not None and kind and kubectl:
            cluster = KindCluster(
                self.name, self.kubeconfig, kind_path=Path(kind), kubectl_path=Path(kubectl)
            )
            cluster.create()
        else:
            existing = subprocess.run([kind or "kind", "get", "clusters"], capture_output=True, text=True,
                                      check=True).stdout.split()
            if self.name not in existing:
                subprocess.run([kind or "kind", "create", "cluster", f"--name={self.name}",
                                f"--kubeconfig={self.kubeconfig}", "--wait=120s"], check=True)
            else:
                config = subprocess.run([kind or "kind", "get", "kubeconfig", f"--name={self.name}"],
                                        capture_output=True, text=True, check=True).stdout
                self.kubeconfig.write_text(config)
        self._created = True

    def refine(self, node_labels: dict[str, str]) -> None:
        """A cluster this session created is known already."""

    def close(self) -> None:
        if self._created and not self.keep:
            subprocess.run(["kind", "delete", "cluster", f"--name={self.name}",
                            f"--kubeconfig={self.kubeconfig}"], check=False, capture_output=True)

    def describe(self) -> str:
        return f"kind cluster {self.name} (context {self.context}, kubeconfig {self.kubeconfig})"
