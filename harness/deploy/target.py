"""The cluster the tests talk to: one explicit kubeconfig file and context, and commands run through it.

:class:`Target` always carries both, so API clients, ``kubectl`` and ``helm`` calls made through it
never fall back to the user's current context (a test must not touch the developer's own cluster).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core import processes
from harness.core.processes import CommandFailed  # noqa: F401  (raised by Target.kubectl/helm)


@dataclass(frozen=True)
class Target:
    """The cluster the tests talk to: always a kubeconfig file *and* a context name."""

    kubeconfig: Path
    context: str

    def api_client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig), context=self.context)

    def kubectl_argv(self, *args: str) -> list[str]:
        return ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--context={self.context}", *args]

    def helm_argv(self, *args: str) -> list[str]:
        from harness.kube.helm import find_helm

        return [find_helm(), f"--kubeconfig={self.kubeconfig}", f"--kube-context={self.context}", *args]

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 300) -> str:
        return _run(self.kubectl_argv(*args), input, check, timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        return _run(self.helm_argv(*args), None, check, timeout)


def _run(argv: Sequence[str], input: str | None, check: bool, timeout: float) -> str:
    return processes.run(argv, input=input, check=check, timeout=timeout).stdout


def exec_succeeds(target: Target, namespace: str, pod: str, *command: str, container: str | None = None,
                  timeout: float = 30) -> bool:
    """Whether ``command`` run in ``pod`` (``kubectl exec``) exits 0; a hung exec counts as no."""
    argv = target.kubectl_argv("-n", namespace, "exec", pod, *(["-c", container] if container else []), "--", *command)
    try:
        return processes.run(argv, check=False, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False
