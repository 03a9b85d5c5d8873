"""Peak CPU and memory of the application's containers, sampled through a run.

Docker's stats API for the runtime tier (containers found by a label filter);
the load generator itself is never counted. Restarts and OOM kills are read from
``docker inspect`` at the start and at the end, so the gate can say "no restart
during the run" rather than "none ever".
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import docker

from harness.core import docker as docker_engine
from harness.podrt.labels import LABEL_DEPLOYMENT as DEPLOYMENT_LABEL


@dataclass
class Sample:
    t: float  # seconds since the sampler started
    memory_bytes: int
    cpu_cores: float


@dataclass
class ContainerState:
    started_at: str  # changes whenever the container is restarted, by Docker or by the harness
    restarts: int
    oom_killed: bool
    running: bool


@dataclass
class ResourceSampler:
    """Samples every container matching ``label`` every ``interval`` seconds.

    ``label`` is ``key=value``, or several joined by commas, all of which must match
    (the runtime tier's app containers of one run: ``…/run=ID,…/role=container``).
    """

    label: str
    interval: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    _start_state: dict[str, ContainerState] = field(default_factory=dict)
    _cpu_start: dict[str, int] = field(default_factory=dict)  # container -> CPU nanoseconds used so far
    _cpu_end: dict[str, int] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # container -> its Deployment (the service)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.client = docker_engine.client(timeout=10)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        labels = [part.strip() for part in self.label.split(",") if part.strip()]
        found = self.client.containers.list(filters={"label": labels})
        self.containers = [c.name for c in found]
        self.groups = {c.name: c.labels.get(DEPLOYMENT_LABEL, c.name) for c in found}
        self._start_state = self.states()
        self._cpu_start = self._cpu_used()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)
        self._cpu_end = self._cpu_used()

    def cpu_seconds_by_group(self) -> dict[str, float]:
        """CPU time each service (Deployment) used between :meth:`start` and :meth:`stop`, from the
        containers' cumulative counters (a container restarted meanwhile is left out: its counter
        started again)."""
        used: dict[str, float] = {}
        for name, start in self._cpu_start.items():
            end = self._cpu_end.get(name)
            if end is None or end < start:
                continue
            group = self.groups.get(name, name)
            used[group] = round(used.get(group, 0.0) + (end - start) / 1e9, 2)
        return used

    def _cpu_used(self) -> dict[str, int]:
        used = {}
        for name in self.containers:
            try:
                stats = self.client.api.stats(name, stream=False, one_shot=True)
            except (docker.errors.APIError, TypeError):
                continue
            used[name] = int(((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0))
        return used

    # -- figures ------------------------------------------------------------------------
    @property
    def peak_memory_bytes(self) -> int:
        return max((s.memory_bytes for s in self.samples), default=0)

    @property
    def peak_cpu_cores(self) -> float:
        return max((s.cpu_cores for s in self.samples), default=0.0)

    def states(self) -> dict[str, ContainerState]:
        result = {}
        for name in self.containers:
            try:
                attrs = self.client.api.inspect_container(name)
            except docker.errors.NotFound:
                result[name] = ContainerState("", 0, oom_killed=False, running=False)
                continue
            state = attrs["State"]
            result[name] = ContainerState(state.get("StartedAt", ""), int(attrs.get("RestartCount", 0)),
                                          bool(state.get("OOMKilled")), bool(state.get("Running")))
        return result

    def restarts_and_ooms(self) -> tuple[int, int]:
        """Restarts and OOM kills since :meth:`start` (a container gone counts as a restart)."""
        end = self.states()
        restarts = ooms = 0
        for name, before in self._start_state.items():
            after = end.get(name, ContainerState("", 0, False, False))
            restarted = after.started_at != before.started_at or after.restarts != before.restarts
            restarts += int(restarted or not after.running)
            ooms += int(after.oom_killed and not before.oom_killed)
        return restarts, ooms

    # -- sampling -------------------------------------------------------------------------
    def _run(self) -> None:
        # One stats call blocks about a second (Docker takes two readings), so the
        # containers are read in parallel: each sample is one moment for all of them.
        with ThreadPoolExecutor(max_workers=max(1, len(self.containers))) as pool:
            while not self._stop.wait(self.interval):
                readings = [r for r in pool.map(self._read, self.containers) if r is not None]
                memory = sum(m for m, _ in readings)
                cpu = sum(c for _, c in readings)
                self.samples.append(Sample(time.monotonic() - self._started, memory, round(cpu, 3)))

    def _read(self, name: str) -> tuple[int, float] | None:
        try:
            stats = self.client.api.stats(name, stream=False)
        except docker.errors.APIError:
            return None  # gone: restarts_and_ooms() counts it
        return memory_in_use(stats), cpu_cores(stats)


def memory_in_use(stats: dict[str, Any]) -> int:
    """Working-set memory as the kubelet counts it: usage minus inactive file cache."""
    mem = stats.get("memory_stats") or {}
    usage = int(mem.get("usage", 0))
    detail = mem.get("stats") or {}
    cache = int(detail.get("inactive_file", detail.get("total_inactive_file", 0)))
    return max(0, usage - cache)


def cpu_cores(stats: dict[str, Any]) -> float:
    """CPU used between the two readings of one stats answer, in cores."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return cpu_delta / system_delta * online
