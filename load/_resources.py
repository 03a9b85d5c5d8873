"""Peak CPU and memory of the application's containers, sampled through a run.

The Docker stack's sampler; ``_kubelet.py`` is the cluster's, with the same shape (``start``,
``stop``, ``mark``, ``samples``, ``peak_*``, ``cpu_seconds_by_group``, ``cpu_ms_per_request``,
``throttling_by_group``, ``container_limits``, ``limits_total``, ``restarts_and_ooms``), so ``budget_gate.py``
judges either.

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
from _cpu import CpuReading, RequestClock, cpu_ms_per_request, cpu_seconds_by_group, timestamp

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


class SamplerFigures:
    """What both samplers (Docker, kubelet) figure the same way, in one place: the peaks over their
    ``samples``, and CPU time and CPU per request between the cumulative counters read at the start
    (``start``), when every user has signed up (``signed_in``, see :meth:`mark`) and at the end."""

    samples: list[Sample]
    groups: dict[str, str]
    cpu_readings: dict[str, dict]  # moment -> container -> CpuReading

    def read_cpu(self) -> dict:
        raise NotImplementedError

    def mark(self, moment: str) -> None:
        """Read every container's CPU counter now, as ``moment`` (a window's start or end)."""
        self.cpu_readings[moment] = self.read_cpu()

    def cpu_seconds_by_group(self, since: str = "start", until: str = "end") -> dict[str, float]:
        """CPU time each service (Deployment) used between two moments (a container restarted
        meanwhile is left out: its counter started again)."""
        return cpu_seconds_by_group(self.cpu_readings.get(since, {}), self.cpu_readings.get(until, {}), self.groups)

    def cpu_ms_per_request(self, clock: RequestClock, since: str = "start", until: str = "end") -> dict[str, float]:
        """CPU milliseconds per request completed between two moments, per service and in total."""
        return cpu_ms_per_request(self.cpu_readings.get(since, {}), self.cpu_readings.get(until, {}), self.groups,
                                  clock)

    @property
    def peak_memory_bytes(self) -> int:
        return max((s.memory_bytes for s in self.samples), default=0)

    @property
    def peak_cpu_cores(self) -> float:
        return max((s.cpu_cores for s in self.samples), default=0.0)


@dataclass
class ResourceSampler(SamplerFigures):
    """Samples every container matching ``label`` every ``interval`` seconds.

    ``label`` is ``key=value``, or several joined by commas, all of which must match
    (the runtime tier's app containers of one run: ``…/run=ID,…/role=container``).
    """

    label: str
    interval: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    _start_state: dict[str, ContainerState] = field(default_factory=dict)
    cpu_readings: dict[str, dict[str, CpuReading]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # container -> its Deployment (the service)
    source: str = "docker"
    _throttle_start: dict[str, dict] = field(default_factory=dict)  # container -> Docker's throttling_data
    _throttle_end: dict[str, dict] = field(default_factory=dict)
    _peak_by_container: dict[str, int] = field(default_factory=dict)
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
        self.cpu_readings["start"], self._throttle_start = self._cpu_used()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)
        self.cpu_readings["end"], self._throttle_end = self._cpu_used()

    def read_cpu(self) -> dict[str, CpuReading]:
        return self._cpu_used()[0]

    def _cpu_used(self) -> tuple[dict[str, CpuReading], dict[str, dict]]:
        """Each container's cumulative CPU time (with the moment Docker read it) and CFS throttling
        counters."""
        used, throttling = {}, {}
        for name in self.containers:
            try:
                stats = self.client.api.stats(name, stream=False, one_shot=True)
            except (docker.errors.APIError, TypeError):
                continue
            cpu = stats.get("cpu_stats") or {}
            used[name] = CpuReading(timestamp(stats.get("read"), time.time()),
                                    int((cpu.get("cpu_usage") or {}).get("total_usage", 0)))
            throttling[name] = cpu.get("throttling_data") or {}
        return used, throttling

    def throttling_by_group(self) -> dict[str, dict[str, float]]:
        """Per service, during the run: CFS periods, those throttled (and their share), and the
        seconds the containers waited for their CPU limit (Docker's ``throttling_data``)."""
        totals: dict[str, list[float]] = {}
        for name, start in self._throttle_start.items():
            end = self._throttle_end.get(name) or {}
            periods = end.get("periods", 0) - start.get("periods", 0)
            if periods < 0:
                continue  # restarted: the counters began again
            t = totals.setdefault(self.groups.get(name, name), [0, 0, 0.0])
            t[0] += periods
            t[1] += end.get("throttled_periods", 0) - start.get("throttled_periods", 0)
            t[2] += (end.get("throttled_time", 0) - start.get("throttled_time", 0)) / 1e9
        return {group: {"periods": int(p), "throttled_periods": int(tp),
                        "throttled_share": round(tp / p, 4) if p else 0.0, "throttled_s": round(ts, 2)}
                for group, (p, tp, ts) in sorted(totals.items())}

    def container_limits(self) -> dict[str, dict]:
        """Each sampled container's CPU (cores) and memory (bytes) limit, None where it has none, as the
        engine applies them (``docker inspect``: what actually capped it, whatever the chart asked for)."""
        found = {}
        for name in self.containers:
            try:
                host = self.client.api.inspect_container(name).get("HostConfig") or {}
            except docker.errors.NotFound:
                continue
            found[name] = {"component": self.groups.get(name, name).rsplit("-", 1)[-1],
                           **docker_limits(host)}
        return dict(sorted(found.items()))

    def limits_total(self) -> dict[str, float] | None:
        """The containers' limits added up, or None when one of them has none on CPU or memory."""
        return limits_sum(self.container_limits())

    def peak_memory_by_pod(self) -> dict[str, int]:
        return dict(sorted(self._peak_by_container.items()))

    # -- figures ------------------------------------------------------------------------

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
                readings = [(n, r) for n, r in zip(self.containers, pool.map(self._read, self.containers),
                                                   strict=True) if r is not None]
                for name, (m, _) in readings:
                    self._peak_by_container[name] = max(self._peak_by_container.get(name, 0), m)
                memory = sum(m for _, (m, _) in readings)
                cpu = sum(c for _, (_, c) in readings)
                self.samples.append(Sample(time.monotonic() - self._started, memory, round(cpu, 3)))

    def _read(self, name: str) -> tuple[int, float] | None:
        try:
            stats = self.client.api.stats(name, stream=False)
        except docker.errors.APIError:
            return None  # gone: restarts_and_ooms() counts it
        return memory_in_use(stats), cpu_cores(stats)


def docker_limits(host_config: dict[str, Any]) -> dict[str, float | int | None]:
    """A container's CPU limit (cores: ``NanoCpus``, else ``CpuQuota``/``CpuPeriod``) and memory limit
    (bytes), None where the engine applies none (Docker's 0)."""
    cpu = None
    if host_config.get("NanoCpus"):
        cpu = host_config["NanoCpus"] / 1e9
    elif (host_config.get("CpuQuota") or 0) > 0 and host_config.get("CpuPeriod"):
        cpu = host_config["CpuQuota"] / host_config["CpuPeriod"]
    return {"cpu_cores": cpu, "memory_bytes": int(host_config["Memory"]) if host_config.get("Memory") else None}


def limits_sum(container_limits: dict[str, dict]) -> dict[str, float] | None:
    """CPU (cores) and memory (bytes) limits of all containers added up; None when one has no limit on either."""
    if not container_limits or any(lim.get("cpu_cores") is None or lim.get("memory_bytes") is None
                                   for lim in container_limits.values()):
        return None
    return {"cpu_cores": round(sum(lim["cpu_cores"] for lim in container_limits.values()), 3),
            "memory_bytes": int(sum(lim["memory_bytes"] for lim in container_limits.values()))}


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
