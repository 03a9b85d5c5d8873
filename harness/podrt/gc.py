"""Finding and removing what runs left behind: every Docker object of a run carries
``todo-chatbot.runtime/run=<run id>``, so a run is removed even when the process that made it died.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker
import docker.errors

from harness.podrt.labels import LABEL_ROLE, LABEL_RUN


def runs(client: docker.DockerClient) -> list[str]:
    """Run ids that still have Docker objects (containers or networks) on this engine."""
    ids = {c.labels.get(LABEL_RUN) for c in client.containers.list(all=True, filters={"label": LABEL_RUN})}
    ids |= {n.attrs.get("Labels", {}).get(LABEL_RUN) for n in client.networks.list(filters={"label": LABEL_RUN})}
    return sorted(i for i in ids if i)


def remove_run(client: docker.DockerClient, run_id: str) -> list[str]:
    """Remove every container (with its anonymous volumes) and network labelled with ``run_id``."""
    removed = []
    selector = {"label": f"{LABEL_RUN}={run_id}"}
    containers = client.containers.list(all=True, filters=selector)
    # App containers first: they live in their sandbox's network namespace.
    containers.sort(key=lambda c: c.labels.get(LABEL_ROLE) != "container")
    for container in containers:
        try:
            container.remove(force=True, v=True)
            removed.append(container.name)
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters=selector):
        try:
            network.remove()
            removed.append(network.name)
        except docker.errors.NotFound:
            pass
    for leftover in Path(tempfile.gettempdir()).glob(f"todo-{run_id}-endpoints-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for volume in client.volumes.list(filters=selector):
        try:
            volume.remove(force=True)
            removed.append(volume.name)
        except docker.errors.NotFound:
            pass
    return removed
