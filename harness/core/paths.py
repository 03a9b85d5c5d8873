"""Where things are: the repository and its parts, and the harness's cache (computed once)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "chart" / "todo-chatbot"
CHART_FILE = CHART_DIR / "Chart.yaml"
IMAGES_DIR = REPO_ROOT / "images"
SCRIPTS_DIR = REPO_ROOT / "scripts"
REPORTS_DIR = REPO_ROOT / "reports"
# Build caches and the local cluster's state: never in the repository (TODO_CACHE overrides).
CACHE_DIR = Path(os.environ.get("TODO_CACHE", Path.home() / ".cache" / "todo-chatbot"))
