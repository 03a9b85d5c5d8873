"""CPU, memory, CPU throttling, restarts and OOM kills of the application's pods on a cluster,
sampled through a run: the cluster's counterpart of ``_resources.py`` (same shape, so the budget
gate judges either).

Everything comes through the API server, so it works on any cluster the harness can reach (kind,
minikube, the local cluster built here), with no metrics-server:

* usage from the kubelet's summary API (``/api/v1/nodes/NODE/proxy/stats/summary``): per container
  ``cpu.usageCoreNanoSeconds`` (cumulative: CPU seconds and CPU per request per Deployment; with
  ``cpu.time``, when cAdvisor read it, which ``_cpu.py`` matches to the requests of that moment),
  ``cpu.usageNanoCores`` and ``memory.workingSetBytes`` (what the kubelet compares to the limit);
* CPU throttling from the kubelet's cAdvisor endpoint (``/proxy/metrics/cadvisor``):
  ``container_cpu_cfs_periods_total``, ``…_throttled_periods_total`` and
  ``…_throttled_seconds_total`` of each pod's cgroup, which are that cgroup's own ``cpu.stat``
  counters (the summary API has none). Read through the kubelet rather than the host's cgroupfs, so
  it needs no access to the node and means the same on cgroup v1 and v2 and on any cluster;
* restarts and OOM kills from the pods' status (``restartCount``, ``lastState.terminated.reason``),
  at the start and at the end, so the gate can say "no restart during the run".

Only the pods matching the label selector are counted (the chart's backend and frontend: the
throwaway PostgreSQL and the load generator are not the application).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The same sample shape as the Docker sampler (locust puts load/ on sys.path).
from _cpu import CpuReading, timestamp
from _resources import Sample, SamplerFigures

from harness.kube.quantities import parse_cpu, parse_memory, quantity

# --- parsing (pure functions: verification/unit tests them on recorded answers) ----------------


@dataclass(frozen=True)
class Usage:
    cpu_ns: int  # cumulative CPU time of the container
    nano_cores: int  # the kubelet's current rate
    working_set: int
    at: float  # when cAdvisor read the CPU counter (Unix seconds)


def parse_summary(summary: dict[str, Any], namespace: str, pods: set[str],
                  now: float = 0.0) -> dict[tuple[str, str], Usage]:
    """(pod, container) → :class:`Usage` for the named pods of ``namespace`` in one summary answer
    (``now``: the moment of a CPU figure that carries no time of its own)."""
    found: dict[tuple[str, str], Usage] = {}
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        if ref.get("namespace") != namespace or ref.get("name") not in pods:
            continue
        for container in pod.get("containers") or []:
            cpu, memory = container.get("cpu") or {}, container.get("memory") or {}
            found[(ref["name"], container.get("name", ""))] = Usage(
                int(cpu.get("usageCoreNanoSeconds") or 0), int(cpu.get("usageNanoCores") or 0),
                int(memory.get("workingSetBytes") or 0), timestamp(cpu.get("time"), now))
    return found


@dataclass(frozen=True)
class Throttling:
    periods: float = 0.0  # CFS enforcement periods (100 ms each) in which the container wanted CPU
    throttled_periods: float = 0.0  # of those, the periods in which it hit its CPU limit
    throttled_s: float = 0.0  # time its threads waited for the next period

    def __sub__(self, other: Throttling) -> Throttling:
        return Throttling(self.periods - other.periods, self.throttled_periods - other.throttled_periods,
                          self.throttled_s - other.throttled_s)

    def __add__(self, other: Throttling) -> Throttling:
        return Throttling(self.periods + other.periods, self.throttled_periods + other.throttled_periods,
                          self.throttled_s + other.throttled_s)


_CFS = {"container_cpu_cfs_periods_total": "periods",
        "container_cpu_cfs_throttled_periods_total": "throttled_periods",
        "container_cpu_cfs_throttled_seconds_total": "throttled_s"}
_SAMPLE_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_cadvisor_throttling(text: str, namespace: str, pods: set[str]) -> dict[str, Throttling]:
    """pod → :class:`Throttling` from the kubelet's cAdvisor metrics (Prometheus text).

    The pod's own cgroup (the series without a ``container`` label): its CFS quota is the sum of
    its containers' CPU limits, and cAdvisor exports it whatever the runtime (with containerd on
    cgroupfs it exports no per-container CFS series at all)."""
    values: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line.startswith("container_cpu_cfs_"):
            continue
        match = _SAMPLE_LINE.match(line)
        if not match or match["name"] not in _CFS:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("namespace") != namespace or labels.get("pod") not in pods or labels.get("container"):
            continue
        values.setdefault(labels["pod"], {})[_CFS[match["name"]]] = float(match["value"])
    return {pod: Throttling(**fields) for pod, fields in values.items()}


@dataclass(frozen=True)
class PodState:
    uid: str
    restarts: int
    oom_kills: int  # containers whose last termination was an OOM kill
    ready: bool


def pod_state(pod: dict[str, Any]) -> PodState:
    """A pod's restarts and OOM kills from its status (the API's JSON, camelCase)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ooms = sum(1 for s in statuses
               if ((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled")
    return PodState((pod.get("metadata") or {}).get("uid", ""), sum(int(s.get("restartCount") or 0) for s in statuses),
                    ooms, bool(statuses) and all(s.get("ready") for s in statuses))


def deployment_of(pod: dict[str, Any]) -> str:
    """The Deployment a pod belongs to: its ReplicaSet's name without the pod-template-hash."""
    meta = pod.get("metadata") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"]
    template_hash = (meta.get("labels") or {}).get("pod-template-hash", "")
    if owners and template_hash:
        return owners[0]["name"].removesuffix(f"-{template_hash}")
    return meta.get("name", "")


def parse_quantity(value: str | None) -> float | None:
    """A Kubernetes quantity (``400m``, ``384Mi``, ``1G``) as a number (cores or bytes), None when not
    set: the harness's one parser (the Kubernetes client's ``parse_quantity`` underneath)."""
    if value is None or not str(value).strip():
        return None
    return float(quantity(value))


def limits_total(pods: list[dict[str, Any]]) -> dict[str, float] | None:
    """The sum of the containers' CPU (cores) and memory (bytes) limits, or None when a container
    has no limit on either (then usage is not capped by construction)."""
    cpu = memory = 0.0
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            limits = (container.get("resources") or {}).get("limits") or {}
            c, m = parse_quantity(limits.get("cpu")), parse_quantity(limits.get("memory"))
            if c is None or m is None:
                return None
            cpu, memory = cpu + c, memory + m
    return {"cpu_cores": round(cpu, 3), "memory_bytes": int(memory)}


def container_limits(pods: list[dict[str, Any]], groups: dict[str, str]) -> dict[str, dict]:
    """``pod/container`` → its component (the Deployment's last word), CPU limit (cores) and memory limit
    (bytes), None for a limit it does not have."""
    found: dict[str, dict] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        for container in (pod.get("spec") or {}).get("containers") or []:
            limits = (container.get("resources") or {}).get("limits") or {}
            found[f"{name}/{container.get('name', '')}"] = {
                "component": groups.get(name, name).rsplit("-", 1)[-1],
                "cpu_cores": parse_cpu(limits["cpu"]) if limits.get("cpu") else None,
                "memory_bytes": parse_memory(limits["memory"]) if limits.get("memory") else None}
    return dict(sorted(found.items()))


# --- the sampler ------------------------------------------------------------------------------------


@dataclass
class KubeletSampler(SamplerFigures):
    """Samples the pods matching ``selector`` in ``namespace`` every ``interval`` seconds."""

    namespace: str
    selector: str
    kubeconfig: str
    context: str
    interval: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)  # pod/container
    groups: dict[str, str] = field(default_factory=dict)  # pod -> its Deployment
    source: str = "kubelet"
    _pods: dict[str, dict] = field(default_factory=dict)
    _nodes: set[str] = field(default_factory=set)
    _start_states: dict[str, PodState] = field(default_factory=dict)
    cpu_readings: dict[str, dict[tuple[str, str], CpuReading]] = field(default_factory=dict)
    _throttle_start: dict[str, Throttling] = field(default_factory=dict)  # pod -> counters
    _throttle_end: dict[str, Throttling] = field(default_factory=dict)
    _peak_by_pod: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(Path(self.kubeconfig)), context=self.context)
        self.core = client.CoreV1Api(api)

    # -- the API ------------------------------------------------------------------------------
    def _list_pods(self) -> list[dict]:
        answer = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector,
                                               _preload_content=False, _request_timeout=15)
        return [p for p in json.loads(answer.data)["items"] if not (p.get("metadata") or {}).get("deletionTimestamp")]

    def _node_get(self, node: str, path: str) -> bytes:
        # The raw answer: the client's own deserialisation of a proxied body as 'str' mangles JSON.
        return self.core.connect_get_node_proxy_with_path(node, path, _preload_content=False,
                                                          _request_timeout=15).data

    def _usage(self) -> dict[tuple[str, str], Usage]:
        found: dict[tuple[str, str], Usage] = {}
        for node in self._nodes:
            found.update(parse_summary(json.loads(self._node_get(node, "stats/summary")),
                                       self.namespace, set(self._pods), time.time()))
        return found

    def _throttling(self) -> dict[str, Throttling]:
        found: dict[str, Throttling] = {}
        for node in self._nodes:
            found.update(parse_cadvisor_throttling(self._node_get(node, "metrics/cadvisor").decode(),
                                                   self.namespace, set(self._pods)))
        return found

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        pods = self._list_pods()
        if not pods:
            raise RuntimeError(f"no pod matches {self.selector!r} in namespace {self.namespace}")
        self._pods = {p["metadata"]["name"]: p for p in pods}
        self._nodes = {p["spec"].get("nodeName") for p in pods if p["spec"].get("nodeName")}
        self.groups = {name: deployment_of(p) for name, p in self._pods.items()}
        self._start_states = {name: pod_state(p) for name, p in self._pods.items()}
        usage = self._usage()
        self.containers = sorted(f"{pod}/{container}" for pod, container in usage)
        self.cpu_readings["start"] = {key: CpuReading(u.at, u.cpu_ns) for key, u in usage.items()}
        self._throttle_start = self._throttling()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="kubelet-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=20)
        # The summary's counters are cAdvisor's, refreshed every few seconds: one more reading after
        # the housekeeping interval, so the last seconds of the run are in it (its own time says
        # which requests it covers: _cpu.py).
        time.sleep(self.interval)
        self.mark("end")
        self._throttle_end = self._throttling()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                usage = self._usage()
            except Exception:  # noqa: BLE001 - a missed sample is no verdict; restarts are judged at the end
                continue
            by_pod: dict[str, int] = {}
            for (pod, _container), u in usage.items():
                by_pod[pod] = by_pod.get(pod, 0) + u.working_set
            for pod, memory in by_pod.items():
                self._peak_by_pod[pod] = max(self._peak_by_pod.get(pod, 0), memory)
            self.samples.append(Sample(time.monotonic() - self._started, sum(by_pod.values()),
                                       round(sum(u.nano_cores for u in usage.values()) / 1e9, 3)))

    # -- figures (the shape of _resources.ResourceSampler) ------------------------------------

    def peak_memory_by_pod(self) -> dict[str, int]:
        return dict(sorted(self._peak_by_pod.items()))

    def read_cpu(self) -> dict[tuple[str, str], CpuReading]:
        return {key: CpuReading(u.at, u.cpu_ns) for key, u in self._usage().items()}

    def throttling_by_group(self) -> dict[str, dict[str, float]]:
        """Per Deployment, during the run: CFS periods, those throttled (and their share), and the
        seconds the containers waited for their CPU limit."""
        totals: dict[str, Throttling] = {}
        for pod, end in self._throttle_end.items():
            start = self._throttle_start.get(pod)
            if start is None or end.periods < start.periods:
                continue
            group = self.groups.get(pod, pod)
            totals[group] = totals.get(group, Throttling()) + (end - start)
        return {group: {"periods": int(t.periods), "throttled_periods": int(t.throttled_periods),
                        "throttled_share": round(t.throttled_periods / t.periods, 4) if t.periods else 0.0,
                        "throttled_s": round(t.throttled_s, 2)}
                for group, t in sorted(totals.items())}

    def limits_total(self) -> dict[str, float] | None:
        return limits_total(list(self._pods.values()))

    def container_limits(self) -> dict[str, dict]:
        """Each sampled container's CPU (cores) and memory (bytes) limit, None where it has none, from the
        live pods: what actually capped it during the run, whatever the chart was asked for."""
        return container_limits(list(self._pods.values()), self.groups)

    def restarts_and_ooms(self) -> tuple[int, int]:
        """Restarts and OOM kills since :meth:`start`; a pod gone or replaced counts as a restart."""
        now = {p["metadata"]["name"]: pod_state(p) for p in self._list_pods()}
        restarts = ooms = 0
        for name, before in self._start_states.items():
            after = now.get(name)
            if after is None or after.uid != before.uid:
                restarts += 1
                continue
            restarts += after.restarts - before.restarts
            ooms += max(0, after.oom_kills - before.oom_kills)
        restarts += len(set(now) - set(self._start_states))  # a replacement pod: something went away
        return restarts, ooms
