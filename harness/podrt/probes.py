"""Probes executed as the kubelet executes them, for containers that run outside Kubernetes.

:func:`run_probe` performs one probe (httpGet with httpx, tcpSocket, exec through a
callable). :class:`ProbeRunner` schedules the probes of one container with the
kubelet's rules:

* every probe waits ``initialDelaySeconds`` after the container (re)started, then runs
  every ``periodSeconds`` with ``timeoutSeconds``; an httpGet succeeds on a status
  from 200 to 399;
* while a startup probe has not yet succeeded, liveness and readiness do not run;
  ``failureThreshold`` startup failures restart the container;
* the container is Ready only after ``successThreshold`` consecutive readiness
  successes, and stops being Ready after ``failureThreshold`` consecutive failures;
* ``failureThreshold`` consecutive liveness failures restart the container
  (the runner calls ``on_unhealthy``; the caller kills and restarts it and calls
  :meth:`ProbeRunner.reset`).

Every result goes into :attr:`ProbeRunner.history` for diagnosis.
Nothing here knows about Docker: the caller passes how to reach the container.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from harness.podrt.translate import ProbeSpec


@dataclass(frozen=True)
class ProbeResult:
    at: float  # time.time()
    kind: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at)) + f".{int(self.at % 1 * 1000):03d}"
        return f"{stamp} {self.kind:<9} {'ok  ' if self.ok else 'FAIL'} {self.detail}"


def run_probe(spec: ProbeSpec, *, host: str, port_map: Callable[[int], int],
              exec_fn: Callable[[list[str], float], int] | None = None) -> tuple[bool, str]:
    """Run ``spec`` once. ``port_map`` gives the address's port for a container port."""
    try:
        if spec.action == "httpGet":
            url = f"{spec.scheme.lower()}://{host}:{port_map(spec.port)}{spec.path}"
            headers = {"User-Agent": "kube-probe/1.33", **dict(spec.headers)}
            response = httpx.get(url, headers=headers, timeout=spec.timeout, follow_redirects=False, verify=False)
            ok = 200 <= response.status_code < 400
            body = response.text[:120].replace("\n", " ")
            return ok, f"GET {spec.path} -> {response.status_code} {body}".rstrip()
        if spec.action == "tcpSocket":
            with socket.create_connection((host, port_map(spec.port)), timeout=spec.timeout):
                return True, f"TCP {spec.port} open"
        if spec.action == "exec":
            if exec_fn is None:
                return False, "exec probe: no way to run a command in the container"
            code = exec_fn(list(spec.command), spec.timeout)
            return code == 0, f"exec {' '.join(spec.command)} -> exit {code}"
        return False, f"unknown probe action {spec.action}"
    except httpx.TimeoutException:
        return False, f"timeout after {spec.timeout:g}s ({spec.action} port {spec.port} {spec.path})"
    except (httpx.HTTPError, OSError) as exc:
        return False, f"{type(exc).__name__}: {exc} ({spec.action} port {spec.port} {spec.path})"


class ProbeRunner:
    """The kubelet's probe workers for one container (one thread per probe)."""

    def __init__(
        self,
        name: str,
        probes: dict[str, ProbeSpec],
        probe_fn: Callable[[ProbeSpec], tuple[bool, str]],
        *,
        is_running: Callable[[], bool] = lambda: True,
        on_ready_change: Callable[[bool], None] = lambda ready: None,
        on_unhealthy: Callable[[str], None] = lambda reason: None,
        history_size: int = 200,
    ) -> None:
        self.name = name
        self.probes = probes
        self.probe_fn = probe_fn
        self.is_running = is_running
        self.on_ready_change = on_ready_change
        self.on_unhealthy = on_unhealthy
        self.history: deque[ProbeResult] = deque(maxlen=history_size)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._generation = 0
        self._started_at = time.monotonic()
        self._startup_ok = "startup" not in probes
        # Without a readiness probe a running container counts as Ready (Kubernetes' rule).
        self._ready = "readiness" not in probes
        self._unhealthy = False

    # -- state ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        with self._lock:
            ready = self._ready and not self._unhealthy
        return ready and self.is_running()

    @property
    def started(self) -> bool:
        with self._lock:
            return self._startup_ok

    def reset(self) -> None:
        """The container (re)started now: probes start over, Ready is false until proven."""
        with self._lock:
            self._generation += 1
            self._started_at = time.monotonic()
            self._startup_ok = "startup" not in self.probes
            was_ready = self._ready
            self._ready = "readiness" not in self.probes
            self._unhealthy = False
            self._wake.notify_all()
        if was_ready != self._ready:
            self.on_ready_change(self._ready)

    def mark_not_ready(self) -> None:
        """The container stopped running (exit, kill): not Ready until it proves otherwise."""
        with self._lock:
            was_ready, self._ready = self._ready, False
        if was_ready:
            self.on_ready_change(False)

    def last(self, kind: str) -> ProbeResult | None:
        for result in reversed(self.history):
            if result.kind == kind:
                return result
        return None

    # -- threads -------------------------------------------------------------------------
    def start(self) -> ProbeRunner:
        for kind, spec in self.probes.items():
            thread = threading.Thread(target=self._worker, args=(kind, spec), daemon=True,
                                      name=f"probe-{self.name}-{kind}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _sleep(self, seconds: float, generation: int) -> bool:
        """Sleep unless stopped or the container restarted; True when the sleep ran out."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._stop.is_set() and self._generation == generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                self._wake.wait(timeout=min(remaining, 0.5))
            return False

    def _worker(self, kind: str, spec: ProbeSpec) -> None:
        while not self._stop.is_set():
            with self._lock:
                generation, started_at = self._generation, self._started_at
            if not self._sleep(max(0.0, started_at + spec.initial_delay - time.monotonic()), generation):
                continue
            successes = failures = 0
            while not self._stop.is_set():
                with self._lock:
                    if self._generation != generation:
                        break
                    gated = (kind != "startup" and not self._startup_ok) or (kind == "startup" and self._startup_ok)
                    gated = gated or self._unhealthy
                if not gated and self.is_running():
                    ok, detail = self.probe_fn(spec)
                    with self._lock:
                        if self._generation != generation:
                            break
                        self.history.append(ProbeResult(time.time(), kind, ok, detail))
                    successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
                    self._apply(kind, spec, ok, successes, failures, detail)
                if not self._sleep(spec.period, generation):
                    break

    def _apply(self, kind: str, spec: ProbeSpec, ok: bool, successes: int, failures: int, detail: str) -> None:
        changed: bool | None = None
        unhealthy_reason = None
        with self._lock:
            if kind == "readiness":
                if ok and successes >= spec.success_threshold and not self._ready:
                    self._ready, changed = True, True
                elif not ok and failures >= spec.failure_threshold and self._ready:
                    self._ready, changed = False, False
            elif kind == "startup":
                if ok:
                    self._startup_ok = True
                    self._wake.notify_all()
                elif failures >= spec.failure_threshold:
                    self._unhealthy = True
                    unhealthy_reason = f"startup probe failed {failures} times: {detail}"
            elif kind == "liveness" and not ok and failures >= spec.failure_threshold:
                self._unhealthy = True
                unhealthy_reason = f"liveness probe failed {failures} times: {detail}"
            if unhealthy_reason and self._ready:
                self._ready, changed = False, False
        if changed is not None:
            self.on_ready_change(changed)
        if unhealthy_reason:
            self.on_unhealthy(unhealthy_reason)
