"""Bounded traffic for the tests that count failed requests (rolling restarts, failures).

* :class:`SteadyClient` — threads on this machine sending GETs to a loopback address, every
  request recorded with its time and outcome (the runtime tier).
* :class:`InClusterTraffic` — a pod inside the cluster running :data:`IN_CLUSTER_TRAFFIC` (Python's
  standard library only, so the backend image runs it): a user signed in to the frontend who lists
  and adds tasks and chats, so requests go through the Services' own
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
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind of request -> (ok, failed)
    failed_at: list[float] = field(default_factory=list)  # wall-clock times of the failures (in-cluster client)

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
        kinds = ", ".join(f"{kind} {ok}/{ok + failed}" for kind, (ok, failed) in self.by_kind.items())
        return f"{self.ok} ok, {self.failed} failed of {self.total}" + (f" ({kinds})" if kinds else "") + (
            f"; first failures: {self.failures}" if self.failures else "")


# The client of a traffic pod inside the cluster (Python's standard library only, so any image with
# python3 runs it — the backend image does): a signed-in user of the frontend, as the browser is.
# It registers and logs in through the frontend (the session cookie), then loops over what the UI
# does — list the tasks, add one, send a chat turn — so the frontend's proxy to the backend, the
# backend and the database are all on the path while a Deployment rolls. Any answer other than 2xx
# is a failure (a 401 after a restart, a 404 from a half-started server, a 502/503 from the proxy).
# argv: FRONTEND_BASE_URL; env MAX_SECONDS, MAX_REQUESTS, SIGN_IN_SECONDS. Prints "TALLY {json}" every second and
# once at the end, then "DONE"; "at" and "failed_at" are wall-clock times (the node's clock is the
# host's on every provider here), so a test can tell when requests failed and when they succeeded.
IN_CLUSTER_TRAFFIC = r"""
import json, os, secrets, sys, time, urllib.request, urllib.error
base = sys.argv[1].rstrip("/")
max_seconds = float(os.environ.get("MAX_SECONDS", "240")); max_requests = int(os.environ.get("MAX_REQUESTS", "20000"))
sign_in_seconds = float(os.environ.get("SIGN_IN_SECONDS", "60"))
t = {"ok": 0, "failed": 0, "failures": [], "by_kind": {}, "failed_at": [], "at": time.time()}
cookie = ""

def call(method, path, body=None):
    global cookie
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text, headers = r.status, r.read(2000).decode("utf-8", "replace"), r.headers
    except urllib.error.HTTPError as e:
        status, text, headers = e.code, e.read(300).decode("utf-8", "replace"), e.headers
    set_cookies = headers.get_all("Set-Cookie") or []
    if set_cookies:
        cookie = "; ".join(c.split(";", 1)[0] for c in set_cookies)
    return status, text

def record(kind, status, detail):
    counts = t["by_kind"].setdefault(kind, [0, 0])
    if 200 <= status < 300:
        t["ok"] += 1; counts[0] += 1
    else:
        t["failed"] += 1; counts[1] += 1
        if len(t["failures"]) < 10: t["failures"].append(("%s: %s" % (kind, detail))[:200])
        if len(t["failed_at"]) < 200: t["failed_at"].append(round(time.time(), 2))

start = last = time.monotonic()
email, password = "traffic-%s@example.com" % secrets.token_hex(4), secrets.token_urlsafe(12)
signed_in = False
while not signed_in and time.monotonic() - start < sign_in_seconds:  # the release is Ready already
    try:
        status, text = call("POST", "/api/auth/register", {"email": email, "password": password})
        if status in (201, 409):
            status, text = call("POST", "/api/auth/login", {"email": email, "password": password})
            signed_in = status == 200 and bool(cookie)
    except Exception as e:
        text = "%s: %s" % (type(e).__name__, e)
    if not signed_in:
        print("SIGN-IN not yet: " + text[:200], flush=True); time.sleep(1)
if not signed_in:
    print("SIGN-IN FAILED", flush=True); sys.exit(1)

steps = [("list tasks", "GET", "/api/tasks", None), ("add task", "POST", "/api/tasks", "title"),
         ("chat turn", "POST", "/api/chat", "message")]
i = 0
while time.monotonic() - start < max_seconds and t["ok"] + t["failed"] < max_requests:
    kind, method, path, field = steps[i % len(steps)]; i += 1
    body = None if field is None else {field: ("task %d" % i) if field == "title" else "list my tasks"}
    try:
        status, text = call(method, path, body)
        record(kind, status, "HTTP %d %s" % (status, text[:120]))
    except Exception as e:
        record(kind, 0, "%s: %s" % (type(e).__name__, e))
    if time.monotonic() - last >= 1:
        t["at"] = time.time(); print("TALLY " + json.dumps(t), flush=True); last = time.monotonic()
    time.sleep(0.05)
t["at"] = time.time()
print("TALLY " + json.dumps(t), flush=True)
print("DONE", flush=True)
"""


def parse_timeline(log: str) -> list[tuple[float, int, int]]:
    """Every ``TALLY`` line of the in-cluster client's log as (wall-clock time, ok, failed), cumulative."""
    points = []
    for line in log.splitlines():
        if line.startswith("TALLY "):
            data = json.loads(line[len("TALLY "):])
            points.append((float(data.get("at", 0)), int(data["ok"]), int(data["failed"])))
    return points


def parse_tally(log: str) -> TrafficTally | None:
    """The last ``TALLY {...}`` line of the in-cluster counter's log."""
    for line in reversed(log.splitlines()):
        if line.startswith("TALLY "):
            data = json.loads(line[len("TALLY "):])
            return TrafficTally(int(data["ok"]), int(data["failed"]), list(data.get("failures", [])),
                                {k: tuple(v) for k, v in data.get("by_kind", {}).items()},
                                [float(x) for x in data.get("failed_at", [])])
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
    """Context manager: a pod signed in to the frontend at ``base_url`` (a Service address inside the
    cluster) using it like the UI for at most ``max_seconds``; ``tally()`` reads the counts."""

    def __init__(self, release, base_url: str, max_seconds: int = 240, name: str = "traffic"):
        self.release, self.base_url, self.max_seconds = release, base_url, max_seconds
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
                    "command": ["python3", "-c", IN_CLUSTER_TRAFFIC, self.base_url],
                    "env": [{"name": "MAX_SECONDS", "value": str(self.max_seconds)}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                }],
            },
        }
        r.cluster.core.create_namespaced_pod(r.namespace, pod)
        wait_for(lambda: (self.tally() or TrafficTally()).ok > 0,
                 what=f"traffic pod {self.name} to sign in and see its first successful request", timeout=90,
                 interval=1, describe=self._log_tail)
        return self

    def _log_tail(self) -> str:
        try:
            return "log: " + self.log()[-400:]
        except Exception as exc:  # noqa: BLE001 - the pod may not have started
            return f"no log yet ({type(exc).__name__})"

    def log(self) -> str:
        return self.release.cluster.core.read_namespaced_pod_log(self.name, self.release.namespace)

    def tally(self) -> TrafficTally | None:
        try:
            return parse_tally(self.log())
        except Exception:  # noqa: BLE001 - not started yet
            return None

    def timeline(self) -> list[tuple[float, int, int]]:
        """(wall-clock time, ok, failed) once a second, cumulative: :func:`parse_timeline`."""
        return parse_timeline(self.log())

    def settle(self, seconds: float = 5) -> TrafficTally:
        """Let traffic run ``seconds`` more, then return the latest tally."""
        time.sleep(seconds)
        tally = self.tally()
        assert tally is not None, f"traffic pod {self.name} printed no tally: {self.log()[-500:]}"
        return tally

    def __exit__(self, *exc: object) -> None:
        self.release.cluster.core.delete_namespaced_pod(self.name, self.release.namespace, grace_period_seconds=0)
