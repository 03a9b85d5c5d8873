"""Load tier fixtures: where the scenario runs.

With a cluster selected (``--cluster=…``, ``make test`` with CLUSTER), the chart installed on it:
the session's cluster and images (``verification/cluster_session.py``, shared with the cluster
tier, whose tests run just before). Otherwise the runtime tier's stack (the chart's pods on
Docker): ``kube_shim`` and ``app_images`` come from ``verification/fixtures.py``, shared with the
runtime tier (one place builds the images and the pod shim).
"""
