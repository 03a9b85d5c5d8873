"""Reaching a Service from the host: its NodePort when reachable, else ``kubectl port-forward``."""

from __future__ import annotations

import socket
import subprocess

from harness.core.net import free_port
from harness.core.wait import wait_for
from harness.deploy.target import Target


def tcp_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def node_port_candidates(core, namespace: str, service: str, provider: str) -> list[str]:
    """Base URLs at which a NodePort Service may answer from the host, most likely first (the hosts
    that ``provider``, the kind of cluster, publishes NodePorts on, then the nodes' addresses)."""
    from harness.providers.registry import provider_named

    svc = core.read_namespaced_service(service, namespace)
    ports = [p.node_port for p in svc.spec.ports or [] if p.node_port]
    if not ports:
        return []
    hosts = provider_named(provider).node_hosts()
    for node in core.list_node().items:
        for address in node.status.addresses or []:
            if address.type in ("InternalIP", "ExternalIP"):
                hosts.append(address.address)
    return [f"http://{h}:{ports[0]}" for h in dict.fromkeys(hosts)]


class PortForwardExited(RuntimeError):
    """``kubectl port-forward`` exited before (or instead of) listening."""


class PortForward:
    """``kubectl port-forward svc/NAME LOCAL:REMOTE`` as a context manager on a free loopback port."""

    def __init__(self, target: Target, namespace: str, resource: str, remote_port: int, timeout: float = 30):
        self.argv = target.kubectl_argv("-n", namespace, "port-forward", "--address=127.0.0.1", resource)
        self.remote_port = remote_port
        self.timeout = timeout
        self.port = 0
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PortForward:
        self.port = free_port()
        self.process = subprocess.Popen([*self.argv, f"{self.port}:{self.remote_port}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def listening() -> bool:
            if self.process.poll() is not None:
                raise PortForwardExited(f"kubectl port-forward exited: {self.process.stdout.read()[-500:]}")
            return tcp_open("127.0.0.1", self.port, 1)

        try:
            wait_for(listening, what=f"kubectl port-forward to listen on 127.0.0.1:{self.port}", timeout=self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
