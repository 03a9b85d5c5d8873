"""An existing kubeconfig context (minikube, docker-desktop, kind-NAME, ...), named explicitly.

Nothing is created or deleted here but the test namespaces; the cluster stays as it was.
Everything that depends on the kind of cluster behind the context (the tools it needs, how images
reach its nodes) is that kind's :class:`~harness.providers.provider.Provider`, found from the
context's name and, once the cluster answers, its node's labels (:meth:`ContextProvider.refine`).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.providers.provider import BASE_TOOLS, LoadsImagesByCommand
from harness.providers.registry import flavour_of_context, provider_of


class ContextProvider(LoadsImagesByCommand):
    def __init__(self, context: str, kubeconfig: str | None = None) -> None:
        self.context = context
        self.kubeconfig = self._file_with_context(context, kubeconfig or os.environ.get("KUBECONFIG", ""))
        self.environment = flavour_of_context(context)
        self.keep = True

    @staticmethod
    def _file_with_context(context: str, setting: str) -> Path:
        """The kubeconfig file to use: ``setting`` may list several (KUBECONFIG=a:b); take the first
        that defines ``context`` (kubectl and helm get exactly that file and context)."""
        files = [Path(p) for p in setting.split(os.pathsep) if p] or [Path.home() / ".kube" / "config"]
        for path in files:
            try:
                import yaml

                contexts = (yaml.safe_load(path.read_text()) or {}).get("contexts") or []
            except (OSError, ValueError):
                continue
            if any(isinstance(c, dict) and c.get("name") == context for c in contexts):
                return path
        return files[0]

    def required_tools(self) -> list[str]:
        return [*BASE_TOOLS, *provider_of(self.environment).tools]

    def preflight_problems(self) -> list[tuple[str, str]]:
        """An existing cluster: nothing to build, so nothing beyond the tools."""
        return []

    def create(self) -> None:
        """Check the context exists (never fall back to the current one)."""
        from kubernetes import config

        contexts, _ = config.list_kube_config_contexts(config_file=str(self.kubeconfig))
        names = [c["name"] for c in contexts]
        if self.context not in names:
            raise LookupError(
                f"kubeconfig context {self.context!r} not found in {self.kubeconfig}; "
                f"known: {', '.join(names) or 'none'} (minikube: 'minikube start'; Docker Desktop: "
                "Settings → Kubernetes → Enable)"
            )

    def refine(self, node_labels: dict[str, str]) -> None:
        """Learn the flavour from a node's labels (a Minikube profile under another context name)."""
        found = flavour_of_context(self.context, node_labels)
        if found.provider != "unknown":
            self.environment = found

    def close(self) -> None:
        """An existing cluster is never deleted."""

    def describe(self) -> str:
        return f"context {self.context} ({self.environment.provider}, kubeconfig {self.kubeconfig})"
