"""One run of the chart's pods on the local Docker engine: the :class:`Runtime` orchestrator.

    with Runtime(namespace="todo") as rt:                 # private network, unique names
        objects = RenderedObjects.from_manifests(render.installed(manifests))
        rt.add_services(objects)                          # one Service stand-in per Service
        pods = rt.run_deployment(objects, "todo-chatbot-backend")
        rt.wait_ready(pods, timeout=120)
        print(rt.service_url("todo-chatbot-backend"))     # http://127.0.0.1:<port>

A run owns a private Docker network, the Service stand-ins and the pods; the pieces live in
their own modules:

* :mod:`harness.podrt.translate` — pod templates → container settings (no Docker calls);
* :mod:`harness.podrt.shim` — the ``kube-shim`` image (pod sandbox and service proxy);
* :mod:`harness.podrt.pod` — one pod: sandbox, containers and the kubelet stand-in
  (restarts with back-off, probes from :mod:`harness.podrt.probes`, preStop and grace period);
* :mod:`harness.podrt.services` — the Service stand-ins and their endpoints (Ready pods only);
* :mod:`harness.podrt.diagnosis` — the pods as facts for :mod:`harness.diagnose.rules`;
* :mod:`harness.podrt.gc` — finding and removing a run's objects by label.

It is not Kubernetes: no API server, scheduler or controllers; a Deployment's rollout is
what the caller does with :meth:`Runtime.run_pod` and :meth:`Runtime.delete_pod`.
Everything created carries the label ``todo-chatbot.runtime/run=<run id>``;
:func:`harness.podrt.gc.remove_run` deletes a run's objects even when the process that made them died.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import docker
import docker.errors

from harness import diagnose as dx
from harness.core import docker as docker_engine
from harness.core.lifecycle import Managed
from harness.core.wait import wait_for
from harness.deploy.conditions import AllReady
from harness.podrt import diagnosis
from harness.podrt.gc import remove_run
from harness.podrt.labels import LABEL_RUN
from harness.podrt.pod import Pod
from harness.podrt.services import ServiceProxy, ServiceStandIns
from harness.podrt.shim import shim_image
from harness.podrt.translate import PodSpec, RenderedObjects, replica_spec


class Runtime(Managed):
    """One run: a private network, Service stand-ins, pods; everything removed by :meth:`close`."""

    def __init__(self, client: docker.DockerClient | None = None, *, run_id: str | None = None,
                 namespace: str = "default", extra_labels: Mapping[str, str] | None = None) -> None:
        self.client = client or docker_engine.client(timeout=120)
        self.run_id = run_id or f"rt{secrets.token_hex(3)}"
        self.prefix = f"todo-{self.run_id}"
        self.namespace = namespace
        self.network_name = f"{self.prefix}-net"
        self.labels = {LABEL_RUN: self.run_id, **(extra_labels or {})}
        self.pods: list[Pod] = []
        self.services = ServiceStandIns(self)
        self.network: Any = None
        self.shim = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Runtime:
        self.shim = shim_image(self.client)
        self.services.start()
        self.network = self.client.networks.create(self.network_name, driver="bridge", labels=self.labels)
        return self

    def close(self) -> None:
        """Remove every pod, Service stand-in and the network, and the endpoints directory."""
        for pod in list(self.pods):
            pod._stop.set()
        for pod in list(self.pods):
            try:
                pod.remove()
            except docker.errors.APIError:
                pass
        self.pods.clear()
        remove_run(self.client, self.run_id)
        self.services.close()

    # -- Services (harness.podrt.services) ------------------------------------------------------
    def add_services(self, objects: RenderedObjects, host_ports: Mapping[str, Mapping[int, int]] | None = None
                     ) -> dict[str, ServiceProxy]:
        """A stand-in for every Service; ``host_ports`` fixes published ports ({svc: {port: host}})."""
        return self.services.add_all(objects, host_ports)

    def add_service(self, name: str, selector: Mapping[str, str], ports: Mapping[int, int | str],
                    host_ports: Mapping[int, int] | None = None) -> ServiceProxy:
        return self.services.add(name, selector, ports, host_ports)

    def service_url(self, name: str, port: int | None = None) -> str:
        """The Service's published address on loopback (a NodePort stand-in)."""
        return self.services.url(name, port)

    def endpoints(self, name: str) -> dict[int, list[str]]:
        """{service port: [``ip:port`` of each Ready, not terminating pod behind Service ``name``]}."""
        return self.services.endpoints(name)

    def update_endpoints(self) -> None:
        """The endpoints controller: every Service's file lists its Ready pods (called on changes)."""
        self.services.update()

    # -- pods ---------------------------------------------------------------------------------
    def run_pod(self, spec: PodSpec, host_ports: Mapping[int, int] | None = None) -> Pod:
        pod = Pod(self, spec, host_ports)
        self.pods.append(pod)
        pod.start()
        return pod

    def run_deployment(self, objects: RenderedObjects, deployment: str, replicas: int | None = None) -> list[Pod]:
        """``replicas`` (default: the Deployment's ``spec.replicas``) new pods of ``deployment``."""
        count = replicas if replicas is not None else int(
            objects.deployments[deployment].get("spec", {}).get("replicas", 1))
        return [self.run_pod(replica_spec(objects, deployment)) for _ in range(count)]

    def delete_pod(self, pod: Pod, grace: float | None = None) -> None:
        pod.terminate(grace)
        pod.remove()
        if pod in self.pods:
            self.pods.remove(pod)
        self.update_endpoints()

    def pods_of(self, deployment: str) -> list[Pod]:
        return [p for p in self.pods if p.spec.deployment == deployment and not p.terminating]

    def wait_ready(self, pods: Iterable[Pod], timeout: float) -> float:
        """Wait until every pod is Ready; returns the seconds waited. Times out with a diagnosis."""
        pods = list(pods)
        started = time.monotonic()
        names = ", ".join(p.name for p in pods)
        wait_for(AllReady(pods, what=f"pods {names} to be Ready (readiness probe passing)",
                          describe=lambda: self.diagnose(pods)), timeout=timeout, interval=0.2)
        return time.monotonic() - started

    # -- diagnosis (harness.podrt.diagnosis) -----------------------------------------------------
    def diagnose(self, pods: Sequence[Pod] | None = None) -> str:
        """States, probe history, last log lines, events and the plain-language cause of each pod."""
        return diagnosis.report(list(self.pods if pods is None else pods))

    def findings(self, pods: Sequence[Pod] | None = None) -> list[dx.Finding]:
        return diagnosis.findings(list(self.pods if pods is None else pods))
