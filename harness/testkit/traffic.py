"""Bounded traffic for the tests that count failed requests (rolling restarts, failures).

* :class:`SteadyClient` — threads on this machine sending GETs to a loopback address, every
  request recorded with its time and outcome (the runtime tier).
* :class:`InClusterTraffic` — a pod inside the cluster running :data:`IN_CLUSTER_TRAFFIC` (Python's
  standard library only, so the backend image runs it), so requests go through the Services' own
  load balancing on every provider (a ``kubectl port-forward`` sticks to one pod and would break
  on its restart, not the app's fault); :func:`parse_tally` reads its counts from the pod's log.

Both stop by themselves: every loop is bounded in requests and in time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from harness.core.wait import wait_for
from harness.deploy import k8s


@dataclass
class TrafficTally:
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # the first few, for the message

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def record(self, error: str | None, keep: int = 10) -> None:
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.failures) < keep:
                self.failures.append(error)

    def summary(self) -> str:
        return f"{self.ok} ok, {self.failed} failed of {self.total}" + (
            f"; first failures: {self.failures}" if self.failures else "")


# The counter of a traffic pod inside the cluster (Python's standard library only, so any image
# with python3 runs it — the backend image does). argv: URL... ; env MAX_SECONDS, MAX_REQUESTS.
# Prints "TALLY {json}" every second and once at the end.
IN_CLUSTER_TRAFFIC = r"""
import json, os, sys, time, urllib.request, urllib.error
urls = sys.argv[1:]
max_seconds = float(os.environ.get("MAX_SECONDS", "240")); max_requests = int(os.environ.get("MAX_REQUESTS", "20000"))
t = {"ok": 0, "failed": 0, "failures": []}
start = last = time.monotonic(); i = 0
while time.monotonic() - start < max_seconds and t["ok"] + t["failed"] < max_requests:
    url = urls[i % len(urls)]; i += 1
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            status = r.status
        err = None if status < 500 else "HTTP %d %s" % (status, url)
    except urllib.error.HTTPError as e:
        err = None if e.code < 500 else "HTTP %d %s" % (e.code, url)
    except Exception as e:
        err = "%s: %s %s" % (type(e).__name__, e, url)
    if err is None:
        t["ok"] += 1
    else:
        t["failed"] += 1
        if len(t["failures"]) < 10: t["failures"].append(err[:200])
    if time.monotonic() - last >= 1:
        print("TALLY " + json.dumps(t), flush=True); last = time.monotonic()
    time.sleep(0.05)
print("TALLY " + json.dumps(t), flush=True)
print("DONE", flush=True)
"""


def parse_tally(log: str) -> TrafficTally | None:
    """The last ``TALLY {...}`` line of the in-cluster counter's log."""
    for line in reversed(log.splitlines()):
        if line.startswith("TALLY "):
            data = json.loads(line[len("TALLY "):])
            return TrafficTally(int(data["ok"]), int(data["failed"]), list(data.get("failures", [])))
    return None


@dataclass
class SteadyClient:
    """``workers`` threads sending ``GET url`` in a loop until stopped, bounded by ``max_seconds``
    and ``max_requests``; a request is ok when ``ok(status)`` (HTTP 200 by default).

    Every request is recorded with its time and outcome, so a test can count failures in a
    window (``failures_between``). Only the given loopback address is contacted.
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    pause: float = 0.02
    max_seconds: float = 180.0
    max_requests: int = 20_000
    timeout: float = 10.0
    ok: Callable[[int], bool] = lambda status: status == 200
    results: list[tuple[float, float, bool, str]] = field(default_factory=list)  # (start, end, ok, detail)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._sent = 0

    def __enter__(self) -> SteadyClient:
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.workers):
            thread = threading.Thread(target=self._run, args=(deadline,), daemon=True, name=f"steady-{i}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _run(self, deadline: float) -> None:
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            while not self._stop.is_set() and time.monotonic() < deadline and self._claim():
                start = time.monotonic()
                try:
                    response = client.get(self.url)
                    ok, detail = self.ok(response.status_code), f"{response.status_code}"
                    if not ok:
                        detail += f" {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.results.append((start, time.monotonic(), ok, detail))
                self._stop.wait(self.pause)

    def _claim(self) -> bool:
        """Take one of the ``max_requests`` (False when none is left)."""
        with self._lock:
            if self._sent >= self.max_requests:
                return False
            self._sent += 1
            return True

    # -- figures ------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.results)

    def failures(self) -> list[tuple[float, float, bool, str]]:
        with self._lock:
            return [r for r in self.results if not r[2]]

    def failures_between(self, start: float, end: float) -> list[tuple[float, float, bool, str]]:
        return [r for r in self.failures() if r[0] >= start and r[0] < end]

    def successes_after(self, moment: float) -> int:
        with self._lock:
            return sum(1 for r in self.results if r[0] >= moment and r[2])

    def summary(self) -> str:
        failed = self.failures()
        sample = "; ".join(sorted({r[3] for r in failed})[:5])
        return f"{self.total} requests, {len(failed)} failed" + (f" ({sample})" if failed else "")

    def tally(self) -> TrafficTally:
        tally = TrafficTally()
        with self._lock:
            for _, _, ok, detail in self.results:
                tally.record(None if ok else detail[:200])
        return tally


class InClusterTraffic:
    """Context manager: a pod GETting ``urls`` in turn for at most ``max_seconds``; ``tally()`` reads the counts."""

    def __init__(self, release, urls: list[str], max_seconds: int = 240, name: str = "traffic"):
        self.release, self.urls, self.max_seconds = release, urls, max_seconds
        self.name = f"{name}-{k8s.random_suffix(5)}"

    def __enter__(self) -> InClusterTraffic:
        r = self.release
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "labels": {"app.kubernetes.io/part-of": "todo-chatbot-verification"}},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                "containers": [{
                    "name": "traffic", "image": r.images.backend, "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", IN_CLUSTER_TRAFFIC, *self.urls],
                    "env": [{"name": "MAX_SECONDS", "value": str(self.max_seconds)}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                }],
            },
        }
        r.cluster.core.create_namespaced_pod(r.namespace, pod)
        wait_for(lambda: (self.tally() or TrafficTally()).ok > 0,
                 what=f"traffic pod {self.name} to see its first successful request", timeout=90, interval=1)
        return self

    def log(self) -> str:
        return self.release.cluster.core.read_namespaced_pod_log(self.name, self.release.namespace)

    def tally(self) -> TrafficTally | None:
        try:
            return parse_tally(self.log())
        except Exception:  # noqa: BLE001 - not started yet
            return None

    def settle(self, seconds: float = 5) -> TrafficTally:
        """Let traffic run ``seconds`` more, then return the latest tally."""
        time.sleep(seconds)
        tally = self.tally()
        assert tally is not None, f"traffic pod {self.name} printed no tally: {self.log()[-500:]}"
        return tally

    def __exit__(self, *exc: object) -> None:
        self.release.cluster.core.delete_namespaced_pod(self.name, self.release.namespace, grace_period_seconds=0)
