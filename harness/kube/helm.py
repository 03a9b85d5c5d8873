"""Locating the Helm CLI: $HELM, then PATH, then the pinned build of scripts/install-helm.sh."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CACHED_HELM = Path.home() / ".cache" / "todo-chatbot" / "bin" / "helm"
INSTALL_HINT = ("helm not found: run 'make helm' (builds Helm with Go via scripts/install-helm.sh), install Helm 3 or 4 "
                "(https://helm.sh/docs/intro/install/), or set HELM=/path/to/helm")


class HelmNotFound(RuntimeError):
    """No helm binary; the message says how to get one."""


def find_helm() -> str:
    candidates = [os.environ.get("HELM"), shutil.which("helm"), str(CACHED_HELM)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise HelmNotFound(INSTALL_HINT)
