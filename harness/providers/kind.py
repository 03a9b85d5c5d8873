"""A throwaway kind cluster: created for the session, deleted at the end unless --keep-cluster.

Uses pytest-kind-ng's :class:`KindCluster` when it is installed (with the ``kind`` and
``kubectl`` found on PATH, so it never downloads them), and the ``kind`` CLI directly
otherwise. Either way the kubeconfig is a file of its own under ``.pytest-kind/NAME/``: the
user's ~/.kube/config and its current context are never touched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.providers import Environment, load_image


class KindProvider:
    def __init__(self, name: str, keep: bool = False, workdir: Path = Path(".pytest-kind")) -> None:
        self.name = name
        self.keep = keep
        self.context = f"kind-{name}"
        self.kubeconfig = (workdir / name / "kubeconfig").resolve()
        self.environment = Environment("kind", name)
        self._created = False

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

    def load_image(self, image: str) -> None:
        load_image(image, self.environment)

    def close(self) -> None:
        if self._created and not self.keep:
            subprocess.run(["kind", "delete", "cluster", f"--name={self.name}",
                            f"--kubeconfig={self.kubeconfig}"], check=False, capture_output=True)

    def describe(self) -> str:
        return f"kind cluster {self.name} (context {self.context}, kubeconfig {self.kubeconfig})"
