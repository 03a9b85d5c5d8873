"""Load tier fixtures: the runtime tier's stack (the chart's pods on Docker), reused as is.

The fixtures below are the runtime tier's; importing them here makes them available to
this folder without a second copy (one place that builds images and the pod shim).
"""

from verification.runtime.conftest import app_images, kube_shim  # noqa: F401  (pytest fixtures)
