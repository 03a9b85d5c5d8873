"""Service stand-ins: one ``kube-shim service-proxy`` container per Service of the chart.

Each stand-in has the Service name as its network alias on the run's private network (so
``http://<service>:<port>`` in the ConfigMap resolves unchanged) and its ports published on
127.0.0.1 (a NodePort stand-in). It forwards new connections only to the pods that are Ready and
not terminating — the endpoints :meth:`ServiceStandIns.update` writes whenever readiness changes
(the endpoints controller) — and leaves open connections alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.podrt.labels import LABEL_ROLE
from harness.podrt.translate import LABEL_PREFIX, RenderedObjects

if TYPE_CHECKING:
    from harness.podrt.runtime import Runtime


@dataclass
class ServiceProxy:
    name: str
    selector: dict[str, str]
    ports: dict[int, int | str]  # service port -> targetPort
    container: Any = None
    host_ports: dict[int, int] = field(default_factory=dict)


class ServiceStandIns:
    """The Service stand-ins of one run and the endpoints files they read (in :attr:`endpoints_dir`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.proxies: dict[str, ServiceProxy] = {}
        self.endpoints_dir = Path(tempfile.mkdtemp(prefix=f"{runtime.prefix}-endpoints-"))
        self._lock = threading.Lock()

    def start(self) -> None:
        self.endpoints_dir.chmod(0o755)  # mkdtemp makes it 0700; the proxy containers read it

    def close(self) -> None:
        """Remove the endpoints directory (the containers go with the run's label: ``gc.remove_run``)."""
        shutil.rmtree(self.endpoints_dir, ignore_errors=True)

    def add_all(self, objects: RenderedObjects, host_ports: Mapping[str, Mapping[int, int]] | None = None
                ) -> dict[str, ServiceProxy]:
        """A stand-in for every Service; ``host_ports`` fixes published ports ({svc: {port: host}})."""
        for name, manifest in objects.services.items():
            spec = manifest.get("spec", {})
            ports = {int(p["port"]): p.get("targetPort", p["port"]) for p in spec.get("ports") or []}
            self.add(name, spec.get("selector") or {}, ports, (host_ports or {}).get(name))
        return self.proxies

    def add(self, name: str, selector: Mapping[str, str], ports: Mapping[int, int | str],
            host_ports: Mapping[int, int] | None = None) -> ServiceProxy:
        rt = self.runtime
        proxy = ServiceProxy(name, dict(selector), dict(ports))
        self.proxies[name] = proxy
        self._write_endpoints(proxy)
        published = {f"{p}/tcp": ("127.0.0.1", (host_ports or {}).get(p)) for p in ports}
        proxy.container = rt.client.containers.create(
            rt.shim, command=["service-proxy", f"/endpoints/{name}.json"], name=f"{rt.prefix}-svc-{name}",
            environment={"SERVICE_PORTS": " ".join(str(p) for p in ports)},
            volumes={str(self.endpoints_dir): {"bind": "/endpoints", "mode": "ro"}},
            labels={**rt.labels, LABEL_ROLE: "service", f"{LABEL_PREFIX}/service": name},
            ports=published, mem_limit=32 * 2**20, read_only=True, detach=True, network=rt.network_name,
            networking_config={rt.network_name: rt.client.api.create_endpoint_config(aliases=[name])},
        )
        proxy.container.start()
        proxy.container.reload()
        for key, bindings in (proxy.container.attrs["NetworkSettings"]["Ports"] or {}).items():
            if bindings:
                proxy.host_ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])
        return proxy

    def url(self, name: str, port: int | None = None) -> str:
        """The Service's published address on loopback (a NodePort stand-in)."""
        proxy = self.proxies[name]
        port = port or next(iter(proxy.ports))
        return f"http://127.0.0.1:{proxy.host_ports[port]}"

    def endpoints(self, name: str) -> dict[int, list[str]]:
        """{service port: [``ip:port`` of each Ready, not terminating pod behind Service ``name``]}."""
        proxy = self.proxies[name]
        table: dict[int, list[str]] = {}
        for service_port, target in proxy.ports.items():
            eps = []
            for pod in list(self.runtime.pods):
                if pod.terminating or pod.deleted or not pod.ip or not pod.ready:
                    continue
                if not all(pod.spec.labels.get(k) == v for k, v in proxy.selector.items()):
                    continue
                if isinstance(target, int) or str(target).isdigit():
                    port: int | None = int(target)
                else:
                    port = next((c.ports[target] for c in pod.spec.containers if target in c.ports), None)
                if port is not None:
                    eps.append(f"{pod.ip}:{port}")
            table[service_port] = eps
        return table

    def _write_endpoints(self, proxy: ServiceProxy) -> None:
        table = {str(port): eps for port, eps in self.endpoints(proxy.name).items()}
        path = self.endpoints_dir / f"{proxy.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(table))
        tmp.chmod(0o644)
        os.replace(tmp, path)

    def update(self) -> None:
        """The endpoints controller: every Service's file lists its Ready pods (called on changes)."""
        with self._lock:
            for proxy in self.proxies.values():
                self._write_endpoints(proxy)
