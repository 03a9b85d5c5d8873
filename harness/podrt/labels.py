"""The Docker labels on everything a run creates, by which :mod:`harness.podrt.gc` finds it again."""

from __future__ import annotations

from harness.podrt.translate import LABEL_PREFIX

LABEL_RUN = f"{LABEL_PREFIX}/run"
LABEL_ROLE = f"{LABEL_PREFIX}/role"  # sandbox | container | service | database (shim: the kube-shim image)
LABEL_POD = f"{LABEL_PREFIX}/pod"
LABEL_DEPLOYMENT = f"{LABEL_PREFIX}/deployment"
