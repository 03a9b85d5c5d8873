"""Load tier fixtures: the runtime tier's stack (the chart's pods on Docker).

``kube_shim`` and ``app_images`` come from ``verification/fixtures.py``, shared with the runtime
tier (one place builds the images and the pod shim).
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _pod_sandbox(kube_shim: str) -> str:
    """Every test here runs pods on Docker: the shim image first."""
    return kube_shim
