"""One pod on Docker: its sandbox, its containers and the kubelet stand-in that supervises them.

* **sandbox** — a tiny ``kube-shim pause`` container (:mod:`harness.podrt.shim`) owns the pod's
  network namespace: its hostname is the pod name, it carries the pod name as network alias on
  the run's private network, and it publishes every container and probe port on 127.0.0.1
  only. The pod's containers join it (``network_mode=container:``), so their IP and published
  ports survive restarts, as a pod's do.
* **containers** — created from :mod:`harness.podrt.translate`. An image that is not in the
  local engine is never pulled: the container waits in ``ImagePullBackOff``.
* **kubelet** — a supervisor thread restarts exited containers with the kubelet's back-off
  (10 s, 20 s, 40 s … 5 min), restarts a container whose liveness or startup probe fails
  ``failureThreshold`` times (probes: :mod:`harness.podrt.probes`), and runs ``preStop`` then
  SIGTERM and, after the grace period, SIGKILL on deletion.

A :class:`Pod` belongs to a :class:`harness.podrt.runtime.Runtime` (its network, labels and
Service endpoints); :mod:`harness.podrt.diagnosis` turns it into facts for the diagnosis rules.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import httpx

from harness.core import docker as docker_engine
from harness.podrt.labels import LABEL_DEPLOYMENT, LABEL_POD, LABEL_ROLE
from harness.podrt.probes import ProbeRunner, run_probe
from harness.podrt.translate import LABEL_PREFIX, ContainerSpec, PodSpec, ProbeSpec, docker_create_kwargs

if TYPE_CHECKING:
    from harness.podrt.runtime import Runtime

BACKOFF_START, BACKOFF_MAX = 10.0, 300.0
SYNC_INTERVAL = 0.3
LOG_TAIL = 50


def image_present(client: docker.DockerClient, image: str) -> bool:
    """The image is in the local engine (the runtime tier never pulls)."""
    return docker_engine.image_exists(image, api=client)


def working_set_bytes(container: Any) -> int:
    """Working-set memory of a running container, as ``docker stats`` and the kubelet count it."""
    stats = container.stats(stream=False)
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return max(0, usage - int(inactive))


def restart_delay(restarts: int) -> float:
    """The kubelet's back-off before restart number ``restarts + 1``: 0, 10, 20, 40 … 300 s."""
    return 0.0 if restarts == 0 else min(BACKOFF_START * 2 ** (restarts - 1), BACKOFF_MAX)


def mebibytes(value: int | None) -> str | None:
    """Bytes as a Kubernetes quantity in whole ``Mi``, rounded up (``None`` stays ``None``)."""
    return None if value is None else f"{math.ceil(value / 2**20)}Mi"


@dataclass
class Event:
    at: float
    type: str  # Normal | Warning
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.at))} {self.type} {self.reason}: {self.message}"


@dataclass
class Termination:
    exit_code: int
    reason: str  # Completed | Error | OOMKilled
    finished_at: float
    oom_killed: bool = False


# --- one container of a pod --------------------------------------------------------------
@dataclass
class ContainerRun:
    spec: ContainerSpec
    docker_name: str
    container: Any = None
    runner: ProbeRunner | None = None
    restart_count: int = 0
    waiting_reason: str | None = "ContainerCreating"
    waiting_message: str | None = None
    last_termination: Termination | None = None
    restart_at: float | None = None
    unhealthy: str | None = None
    started_at: float | None = None
    ready_since: float | None = None
    last_image_check: float = 0.0

    @property
    def state(self) -> str:
        if self.container is None or self.waiting_reason:
            return "waiting"
        status = self.container.attrs.get("State", {}).get("Status")
        return "running" if status == "running" else "terminated"

    @property
    def ready(self) -> bool:
        return self.runner is not None and self.state == "running" and self.runner.ready


class Pod:
    """One replica: a sandbox and its containers, supervised like the kubelet supervises a pod."""

    def __init__(self, runtime: Runtime, spec: PodSpec, host_ports: Mapping[int, int] | None = None) -> None:
        self.runtime = runtime
        self.spec = spec
        self.name = spec.name
        self.host_ports_wanted = dict(host_ports or {})
        self.events: list[Event] = []
        self.terminating = False
        self.deleted = False
        self.sandbox: Any = None
        self.ip = ""
        self.host_ports: dict[int, int] = {}
        self.created_at = time.time()
        self.containers = [ContainerRun(c, f"{runtime.prefix}-{spec.name}-{c.name}") for c in spec.containers]
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sync_loop, daemon=True, name=f"kubelet-{spec.name}")
        self._logs_at_removal: dict[str, str] = {}

    # -- public ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return not self.terminating and bool(self.containers) and all(c.ready for c in self.containers)

    @property
    def component(self) -> str | None:
        return self.spec.labels.get("app.kubernetes.io/component")

    def container(self, name: str | None = None) -> ContainerRun:
        if name is None:
            return self.containers[0]
        return next(c for c in self.containers if c.spec.name == name)

    def url(self, port: int | None = None) -> str:
        """``http://127.0.0.1:<published>`` for a container port (default: the first declared)."""
        port = port or next(iter(self.spec.containers[0].ports.values()))
        return f"http://127.0.0.1:{self.host_ports[port]}"

    def logs(self, container: str | None = None, tail: int | None = None) -> str:
        run = self.container(container)
        try:
            if run.container is not None and not self.deleted:
                text = run.container.logs(tail=tail or "all").decode(errors="replace")
            else:
                text = self._logs_at_removal.get(run.spec.name, "")
        except docker.errors.NotFound:
            text = self._logs_at_removal.get(run.spec.name, "")
        if tail:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    def env(self, container: str | None = None) -> dict[str, str]:
        """The environment of the running container, as Docker reports it (``docker inspect``)."""
        run = self.container(container)
        run.container.reload()
        return dict(item.split("=", 1) for item in run.container.attrs["Config"]["Env"])

    def memory(self, container: str | None = None) -> int:
        return working_set_bytes(self.container(container).container)

    def event(self, type_: str, reason: str, message: str) -> None:
        with self._lock:
            self.events.append(Event(time.time(), type_, reason, message))

    # -- start ----------------------------------------------------------------------------
    def start(self) -> Pod:
        rt = self.runtime
        ports = {f"{p}/tcp": ("127.0.0.1", self.host_ports_wanted.get(p)) for p in self.spec.ports}
        labels = {**rt.labels, LABEL_ROLE: "sandbox", LABEL_POD: self.name, LABEL_DEPLOYMENT: self.spec.deployment}
        self.sandbox = rt.client.containers.create(
            rt.shim, command=["pause"], name=f"{rt.prefix}-{self.name}", hostname=self.name,
            labels=labels, ports=ports, mem_limit=16 * 2**20, read_only=True, detach=True,
            network=rt.network_name,
            networking_config={rt.network_name: rt.client.api.create_endpoint_config(aliases=[self.name])},
        )
        self.sandbox.start()
        self.sandbox.reload()
        self.ip = self.sandbox.attrs["NetworkSettings"]["Networks"][rt.network_name]["IPAddress"]
        for port_key, bindings in (self.sandbox.attrs["NetworkSettings"]["Ports"] or {}).items():
            if bindings:
                self.host_ports[int(port_key.split("/")[0])] = int(bindings[0]["HostPort"])
        self.event("Normal", "Scheduled", f"sandbox {self.sandbox.name} ip {self.ip} on network {rt.network_name}")
        for run in self.containers:
            self._create(run)
        self._thread.start()
        return self

    def _create(self, run: ContainerRun) -> None:
        rt, spec = self.runtime, run.spec
        run.last_image_check = time.monotonic()
        if not image_present(rt.client, spec.image):
            if run.waiting_reason != "ImagePullBackOff":
                self.event("Warning", "Failed", f"image {spec.image} is not present in the local Docker engine "
                                                 "(the runtime tier never pulls)")
            run.waiting_reason = "ImagePullBackOff"
            run.waiting_message = (f"image {spec.image} not found locally; it is built by 'make images' "
                                   f"(check: docker image inspect {spec.image})")
            return
        if spec.run_as_non_root and not spec.user:
            image_user = rt.client.images.get(spec.image).attrs["Config"].get("User") or "0"
            uid = image_user.split(":")[0]
            if not uid.isdigit() or uid == "0":
                run.waiting_reason = "CreateContainerConfigError"
                run.waiting_message = ("container has runAsNonRoot and image will run as root"
                                       if uid in ("0", "root") else
                                       f"container has runAsNonRoot and image has non-numeric user ({uid}), "
                                       "cannot verify user is non-root")
                self.event("Warning", "Failed", run.waiting_message)
                return
        labels = {**rt.labels, LABEL_ROLE: "container", LABEL_POD: self.name,
                  LABEL_DEPLOYMENT: self.spec.deployment, f"{LABEL_PREFIX}/container": spec.name}
        kwargs = docker_create_kwargs(spec, name=run.docker_name, sandbox=self.sandbox.id, labels=labels)
        run.container = rt.client.containers.create(**kwargs)
        self.event("Normal", "Created", f"container {spec.name} from image {spec.image}")
        run.runner = ProbeRunner(
            f"{self.name}/{spec.name}", spec.probes, lambda probe, r=run: self._probe(r, probe),
            is_running=lambda r=run: r.state == "running",
            on_ready_change=lambda ready, r=run: self._ready_changed(r, ready),
            on_unhealthy=lambda reason, r=run: self._unhealthy(r, reason),
        )
        self._start_container(run)
        run.runner.start()

    def _start_container(self, run: ContainerRun) -> None:
        run.container.start()
        run.container.reload()
        run.waiting_reason = run.waiting_message = None
        run.started_at = time.monotonic()
        run.unhealthy = None
        run.runner.reset()
        self.event("Normal", "Started", f"container {run.spec.name}")

    # -- probes ---------------------------------------------------------------------------
    def _probe(self, run: ContainerRun, probe: ProbeSpec) -> tuple[bool, str]:
        def port_map(port: int) -> int:
            if port not in self.host_ports:
                raise OSError(f"port {port} is not published by the pod sandbox")
            return self.host_ports[port]

        def exec_fn(command: list[str], timeout: float) -> int:
            result = run.container.exec_run(command, demux=False)
            return int(result.exit_code)

        ok, detail = run_probe(probe, host="127.0.0.1", port_map=port_map, exec_fn=exec_fn)
        if not ok and not self.terminating:
            self.event("Warning", "Unhealthy", f"{probe.kind.capitalize()} probe failed: {detail}")
        return ok, detail

    def _ready_changed(self, run: ContainerRun, ready: bool) -> None:
        run.ready_since = time.monotonic() if ready else None
        self.event("Normal" if ready else "Warning", "Ready" if ready else "NotReady",
                   f"container {run.spec.name} {'passed' if ready else 'failed'} its readiness probe")
        self.runtime.update_endpoints()

    def _unhealthy(self, run: ContainerRun, reason: str) -> None:
        run.unhealthy = reason
        self.event("Normal", "Killing", f"container {run.spec.name} {reason}, will be restarted")

    # -- the kubelet's sync loop ------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_INTERVAL):
            for run in self.containers:
                try:
                    self._sync(run)
                except docker.errors.NotFound:
                    return  # removed under us (remove_run from another process)
                except Exception as exc:  # noqa: BLE001 - keep supervising; record what went wrong
                    self.event("Warning", "SyncError", f"{type(exc).__name__}: {exc}")

    def _sync(self, run: ContainerRun) -> None:
        if self.terminating:
            return
        if run.container is None:
            if run.waiting_reason == "ImagePullBackOff" and time.monotonic() - run.last_image_check > 5:
                self._create(run)
            return
        if run.unhealthy:
            self._stop_container(run, self.spec.grace_seconds)
        run.container.reload()
        state = run.container.attrs["State"]
        if state["Status"] in ("exited", "dead") and run.waiting_reason is None:
            oom = bool(state.get("OOMKilled"))
            code = int(state.get("ExitCode", 0))
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
            run.last_termination = Termination(code, reason, time.time(), oom)
            run.runner.mark_not_ready()
            delay = restart_delay(run.restart_count)
            run.restart_at = time.monotonic() + delay
            run.waiting_reason = "CrashLoopBackOff" if delay else "ContainerCreating"
            run.waiting_message = f"back-off {delay:.0f}s restarting failed container {run.spec.name}"
            self.event("Warning", "BackOff" if delay else "Restarting",
                       f"container {run.spec.name} terminated ({reason}, exit code {code}); "
                       f"restarting in {delay:.0f}s")
        if run.waiting_reason and run.restart_at is not None and time.monotonic() >= run.restart_at:
            run.restart_at = None
            run.restart_count += 1
            self._start_container(run)

    # -- stop -----------------------------------------------------------------------------
    def _pre_stop(self, run: ContainerRun, budget: float) -> None:
        hook = run.spec.pre_stop
        if not hook or budget <= 0:
            return
        if "sleep" in hook:
            time.sleep(min(float(hook["sleep"].get("seconds", 0)), budget))
        elif "exec" in hook:
            try:
                run.container.exec_run(list(hook["exec"].get("command") or []))
            except docker.errors.APIError as exc:
                self.event("Warning", "FailedPreStopHook", str(exc))
        elif "httpGet" in hook:
            http = hook["httpGet"]
            port = http.get("port")
            port = run.spec.ports.get(port, port) if isinstance(port, str) else port
            try:
                httpx.get(f"http://127.0.0.1:{self.host_ports[int(port)]}{http.get('path', '/')}", timeout=budget)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                self.event("Warning", "FailedPreStopHook", str(exc))

    def _stop_container(self, run: ContainerRun, grace: float) -> None:
        """preStop, then SIGTERM, then SIGKILL when the grace period runs out (the kubelet's order)."""
        if run.container is None:
            return
        run.container.reload()
        if run.container.attrs["State"]["Status"] != "running":
            return
        started = time.monotonic()
        self._pre_stop(run, grace)
        remaining = max(0.0, grace - (time.monotonic() - started))
        run.container.stop(timeout=int(math.ceil(remaining)))

    def terminate(self, grace: float | None = None) -> None:
        """Delete the pod as Kubernetes does: leave the endpoints, preStop, SIGTERM, grace, SIGKILL."""
        grace = self.spec.grace_seconds if grace is None else grace
        with self._lock:
            if self.terminating:
                return
            self.terminating = True
        self.event("Normal", "Killing", f"stopping pod (grace period {grace:g}s)")
        self.runtime.update_endpoints()
        threads = [threading.Thread(target=self._stop_container, args=(run, grace)) for run in self.containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=grace + 30)
        for run in self.containers:
            if run.container is not None:
                run.container.reload()
                state = run.container.attrs["State"]
                run.last_termination = Termination(int(state.get("ExitCode", 0)),
                                                   "OOMKilled" if state.get("OOMKilled") else "Completed"
                                                   if state.get("ExitCode") == 0 else "Error",
                                                   time.time(), bool(state.get("OOMKilled")))

    def kill(self, container: str | None = None) -> None:
        """SIGKILL the container's process (a crash): the kubelet stand-in restarts it."""
        self.container(container).container.kill(signal="SIGKILL")

    def remove(self) -> None:
        """Stop supervising and remove the containers and the sandbox (after :meth:`terminate`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for run in self.containers:
            if run.runner is not None:
                run.runner.stop()
            if run.container is not None:
                try:
                    self._logs_at_removal[run.spec.name] = run.container.logs().decode(errors="replace")
                    run.container.remove(force=True)
                except docker.errors.NotFound:
                    pass
        if self.sandbox is not None:
            try:
                self.sandbox.remove(force=True)
            except docker.errors.NotFound:
                pass
        self.deleted = True

    def describe(self) -> str:
        """``kubectl describe pod``-like text: states, probe history, events, last log lines."""
        out = [f"pod {self.name} (deployment {self.spec.deployment}, ip {self.ip}, ports {self.host_ports}): "
               f"ready={self.ready} terminating={self.terminating}"]
        for run in self.containers:
            last = run.last_termination
            oom = None
            if run.container is not None:
                try:
                    run.container.reload()
                    oom = run.container.attrs["State"].get("OOMKilled")
                    exit_code = run.container.attrs["State"].get("ExitCode")
                except docker.errors.NotFound:
                    exit_code = None
            else:
                exit_code = None
            out.append(f"  container {run.spec.name} image {run.spec.image}: state {run.state}"
                       f"{' (' + run.waiting_reason + ')' if run.waiting_reason else ''}, exit code {exit_code}, "
                       f"OOMKilled {oom}, restarts {run.restart_count}, ready {run.ready}")
            if run.waiting_message:
                out.append(f"    waiting: {run.waiting_message}")
            if last:
                out.append(f"    last termination: {last.reason} exit code {last.exit_code}")
            out.append(f"    limits: memory {mebibytes(run.spec.mem_limit)}, "
                       f"cpu {run.spec.nano_cpus / 1e9 if run.spec.nano_cpus else None}; user {run.spec.user}; "
                       f"read-only root {run.spec.read_only}; tmpfs {sorted(run.spec.tmpfs)}")
            for probe in run.spec.probes.values():
                out.append(f"    {probe.describe()}")
            if run.runner is not None and run.runner.history:
                out.append("    probe history (last 20):")
                out.extend(f"      {r}" for r in list(run.runner.history)[-20:])
            out.append(f"    last {LOG_TAIL} log lines:")
            try:
                out.extend(f"      | {line}" for line in self.logs(run.spec.name, tail=LOG_TAIL).splitlines())
            except docker.errors.APIError as exc:
                out.append(f"      (logs unavailable: {exc})")
        out.append("  events:")
        out.extend(f"    {e}" for e in self.events[-30:])
        return "\n".join(out)
