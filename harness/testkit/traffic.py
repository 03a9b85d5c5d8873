"""Bounded traffic for the tests that count failed requests (rolling restarts, failures).

* :class:`SteadyClient` — threads on this machine sending GETs to a loopback address, every
  request recorded with its time and outcome (the runtime tier).
* :class:`InClusterTraffic` — a pod inside the cluster running :data:`IN_CLUSTER_TRAFFIC` (Python's
  standard library only, so the backend image runs it): a user signed in to the frontend who lists
  and adds tasks and chats, so requests go through the Services' own
  load balancing on every provider (a ``kubectl port-forward`` sticks to one pod and would break
  on its restart, not the app's fault); it runs until the test stops it, judges every answer's body,
  and its final tally (:func:`parse_final`) is the test's verdict.

Every loop is bounded in requests and in time: :class:`SteadyClient` by its limits, the in-cluster
client by a generous hard bound that is a safety net only (reaching it fails the test).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from harness.core.names import random_suffix
from harness.core.wait import wait_for


@dataclass
class TrafficTally:
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # the first few, for the message
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind of request -> (ok, failed)
    failed_at: list[float] = field(default_factory=list)  # wall-clock times the failed requests were sent (in-cluster client)
    # The in-cluster client's final tally only: it is the last word of a client that ran to the end.
    final: bool = False
    ended: str | None = None  # "stop" (told to), or "max_seconds"/"max_requests" (its safety net)
    at: float | None = None  # wall-clock time the tally was written
    stop_at: float | None = None  # wall-clock time the stop signal arrived
    last_ok_at: float | None = None  # wall-clock time the last request answered right was sent

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
# does — add a task, list the tasks, send a chat turn, delete the task — so the frontend's proxy to
# the backend, the backend and the database are all on the path while a Deployment rolls.
#
# Every answer is judged on its status *and* its body, so a proxy that answers 200 with an error
# page, an empty chat answer or a list from another database is a failure too:
#   add task    201, a JSON object whose id is an integer and whose title is the one sent;
#   list tasks  200, a JSON list of task objects that holds the task added just before;
#   chat turn   200, a JSON object with a non-empty string "response" and an integer conversation_id;
#   delete task 204 (the task added in this round; so the list stays short over a long run).
# A request gets REQUEST_TIMEOUT seconds for its whole answer (the socket timeout bounds each read
# only, so the request runs in a thread the loop waits for); one not answered by then is a failure,
# also when it is the one in flight when the test stops the client.
#
# It runs until it is told to stop (SIGTERM or SIGINT — the test sends SIGTERM to PID 1 of the pod):
# the request in flight then gets its answer or its timeout, is counted, and a final tally is
# printed. MAX_SECONDS and MAX_REQUESTS are a safety net only (a client left behind by a killed test
# run); a final tally whose "ended" is not "stop" means the client stopped before the test said so.
# argv: FRONTEND_BASE_URL; env MAX_SECONDS (900), MAX_REQUESTS, SIGN_IN_SECONDS, REQUEST_TIMEOUT (10).
# Prints "TALLY {json}" every second and "TALLY {json}" with "final": true at the end, then "DONE";
# "at", "failed_at" (when each failed request was sent), "stop_at" and "last_ok_at" (when the last
# request answered right was sent) are wall-clock times (the node's clock is the host's on every
# provider here), so a test can tell when requests failed and whether requests sent after a rollout
# finished still succeeded.
IN_CLUSTER_TRAFFIC = r"""
import json, os, secrets, signal, sys, threading, time, urllib.request, urllib.error
base = sys.argv[1].rstrip("/")
max_seconds = float(os.environ.get("MAX_SECONDS", "900")); max_requests = int(os.environ.get("MAX_REQUESTS", "100000"))
sign_in_seconds = float(os.environ.get("SIGN_IN_SECONDS", "60")); timeout = float(os.environ.get("REQUEST_TIMEOUT", "10"))
t = {"ok": 0, "failed": 0, "failures": [], "by_kind": {}, "failed_at": [], "at": time.time(), "last_ok_at": None,
     "final": False, "ended": None, "stop_at": None}
cookie = ""
stop = threading.Event()

def on_stop(signum, frame):
    if t["stop_at"] is None:
        t["stop_at"] = time.time()
    stop.set()

signal.signal(signal.SIGTERM, on_stop); signal.signal(signal.SIGINT, on_stop)

def call(method, path, body=None):
    global cookie
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text, headers = r.status, r.read(1000000).decode("utf-8", "replace"), r.headers
    except urllib.error.HTTPError as e:
        status, text, headers = e.code, e.read(300).decode("utf-8", "replace"), e.headers
    set_cookies = headers.get_all("Set-Cookie") or []
    if set_cookies:
        cookie = "; ".join(c.split(";", 1)[0] for c in set_cookies)
    return status, text

def bounded_call(method, path, body=None):
    # The whole answer within `timeout`: a server that sends headers and then trickles (or nothing)
    # never trips the socket timeout of each read, so the request runs in a thread waited for.
    out = {}
    def run():
        try:
            out["answer"] = call(method, path, body)
        except Exception as e:
            out["error"] = e
    worker = threading.Thread(target=run, daemon=True); worker.start(); worker.join(timeout + 1)
    if worker.is_alive():
        raise TimeoutError("no whole answer within %g s" % timeout)
    if "error" in out:
        raise out["error"]
    return out["answer"]

def body_of(text, kind):
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("%s: not JSON: %r" % (kind, text[:80]))

def is_task(x):
    return isinstance(x, dict) and isinstance(x.get("id"), int) and isinstance(x.get("title"), str)

def judge(kind, status, text, title, added):
    # None when the answer is right, else what is wrong with it; for "add task" also the new id.
    want = {"add task": 201, "list tasks": 200, "chat turn": 200, "delete task": 204}[kind]
    if status != want:
        return "HTTP %d (want %d) %s" % (status, want, text[:120]), None
    if kind == "delete task":
        return None, None
    data = body_of(text, kind)
    if kind == "add task":
        if not is_task(data) or data["title"] != title:
            return "HTTP 201 but not the task sent (%r): %s" % (title, text[:120]), None
        return None, data["id"]
    if kind == "list tasks":
        if not isinstance(data, list) or not all(is_task(x) for x in data):
            return "HTTP 200 but not a list of tasks: %s" % text[:120], None
        if added is not None and not any(x["id"] == added for x in data):
            return "HTTP 200 but task %d, added just before, is not in the list (%d tasks)" % (added, len(data)), None
        return None, None
    if not (isinstance(data, dict) and isinstance(data.get("response"), str) and data["response"].strip()
            and isinstance(data.get("conversation_id"), int)):
        return "HTTP 200 but no chat answer: %s" % text[:120], None
    return None, None

def record(kind, problem, sent):
    counts = t["by_kind"].setdefault(kind, [0, 0])
    if problem is None:
        t["ok"] += 1; counts[0] += 1; t["last_ok_at"] = sent
    else:
        t["failed"] += 1; counts[1] += 1
        if len(t["failures"]) < 10: t["failures"].append(("%s: %s" % (kind, problem))[:240])
        if len(t["failed_at"]) < 200: t["failed_at"].append(round(sent, 2))

def show():
    t["at"] = time.time(); print("TALLY " + json.dumps(t), flush=True)

start = last = time.monotonic()
email, password = "traffic-%s@example.com" % secrets.token_hex(4), secrets.token_urlsafe(12)
signed_in = False
while not signed_in and not stop.is_set() and time.monotonic() - start < sign_in_seconds:  # the release is Ready already
    try:
        status, text = bounded_call("POST", "/api/auth/register", {"email": email, "password": password})
        if status in (201, 409):
            status, text = bounded_call("POST", "/api/auth/login", {"email": email, "password": password})
            signed_in = status == 200 and bool(cookie)
    except Exception as e:
        text = "%s: %s" % (type(e).__name__, e)
    if not signed_in:
        print("SIGN-IN not yet: " + text[:200], flush=True); time.sleep(1)
if not signed_in:
    print("SIGN-IN FAILED", flush=True); sys.exit(1)

steps = ["add task", "list tasks", "chat turn", "delete task"]
i, added, title, tag = 0, None, None, secrets.token_hex(3)
while True:
    if stop.is_set():
        t["ended"] = "stop"; break
    if time.monotonic() - start >= max_seconds:
        t["ended"] = "max_seconds"; break
    if t["ok"] + t["failed"] >= max_requests:
        t["ended"] = "max_requests"; break
    kind = steps[i % len(steps)]; i += 1
    if kind == "add task":
        title = "traffic %s %d" % (tag, i); request = ("POST", "/api/tasks", {"title": title})
    elif kind == "list tasks":
        request = ("GET", "/api/tasks", None)
    elif kind == "chat turn":
        request = ("POST", "/api/chat", {"message": "list my tasks"})
    elif added is None:
        continue  # the add failed (counted): nothing of this round to delete
    else:
        request = ("DELETE", "/api/tasks/%d" % added, None)
    sent = time.time()
    try:
        status, text = bounded_call(*request)
        problem, new_id = judge(kind, status, text, title, added)
    except Exception as e:
        problem, new_id = "%s: %s" % (type(e).__name__, e), None
    if kind == "add task":
        added = new_id
    elif kind == "delete task":
        added = None
    record(kind, problem, sent)
    if time.monotonic() - last >= 1:
        show(); last = time.monotonic()
    stop.wait(0.05)
t["final"] = True
show()
print("DONE", flush=True)
sys.stdout.flush(); os._exit(0)
"""


def parse_timeline(log: str) -> list[tuple[float, int, int]]:
    """Every ``TALLY`` line of the in-cluster client's log as (wall-clock time, ok, failed), cumulative."""
    points = []
    for line in log.splitlines():
        if line.startswith("TALLY "):
            data = json.loads(line[len("TALLY "):])
            points.append((float(data.get("at", 0)), int(data["ok"]), int(data["failed"])))
    return points


def _tally_of(data: dict) -> TrafficTally:
    return TrafficTally(int(data["ok"]), int(data["failed"]), list(data.get("failures", [])),
                        {k: tuple(v) for k, v in data.get("by_kind", {}).items()},
                        [float(x) for x in data.get("failed_at", [])], bool(data.get("final", False)),
                        data.get("ended"), data.get("at"), data.get("stop_at"), data.get("last_ok_at"))


def parse_tally(log: str) -> TrafficTally | None:
    """The last ``TALLY {...}`` line of the in-cluster counter's log (a running count, up to 1 s old,
    unless it is the final one)."""
    for line in reversed(log.splitlines()):
        if line.startswith("TALLY "):
            return _tally_of(json.loads(line[len("TALLY "):]))
    return None


def parse_final(log: str) -> TrafficTally | None:
    """The final tally of the in-cluster client (printed once it stopped, all requests counted), or
    None when its log has none: the client died, or has not stopped yet."""
    tally = parse_tally(log)
    return tally if tally is not None and tally.final else None


def final_verdict(log: str, after: float | None = None, who: str = "the traffic client") -> TrafficTally:
    """The final tally in the in-cluster client's ``log``, if the client was alive to the end: it was
    stopped by the test (not by its safety net, not by dying), and wrote the tally after the stop
    signal; with ``after`` (a wall-clock time, e.g. when a rollout finished), the tally is from after
    it and a request succeeded after it. Else :class:`TrafficClientProblem` says what went wrong."""
    final = parse_final(log)
    if final is None:
        raise TrafficClientProblem(f"{who} printed no final tally (it died, or never stopped): {log[-600:]}")
    if final.ended != "stop":
        raise TrafficClientProblem(f"{who} stopped by itself ({final.ended}) before the test stopped it: "
                                   f"{final.summary()}")
    if final.stop_at is None or final.at is None or final.at < final.stop_at:
        raise TrafficClientProblem(f"{who}'s final tally was not written after the stop signal "
                                   f"(stop_at={final.stop_at}, at={final.at})")
    if after is not None:
        if final.at < after:
            raise TrafficClientProblem(f"{who} wrote its final tally at {final.at:.1f}, before {after:.1f}, "
                                       "the moment it had to cover")
        if final.last_ok_at is None or final.last_ok_at < after:
            raise TrafficClientProblem(f"no request of {who} succeeded after {after:.1f} (last success at "
                                       f"{final.last_ok_at}): {final.summary()}")
    return final


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


class TrafficClientProblem(AssertionError):
    """The in-cluster traffic client did not run to the end the test gave it: its count is no proof."""


class InClusterTraffic:
    """Context manager: a pod signed in to the frontend at ``base_url`` (a Service address inside the
    cluster) using it like the UI until the test stops it (:meth:`stop`, :meth:`finish`).

    ``hard_bound_s`` is a safety net only, for a pod a killed test run leaves behind; a client that
    reaches it before the test stops it fails :meth:`stop`. ``tally()`` and ``timeline()`` read the
    running counts (printed once a second); the verdict of a test is :meth:`stop`'s final tally.
    """

    HARD_BOUND_S = 15 * 60
    REQUEST_TIMEOUT_S = 10

    def __init__(self, release, base_url: str, name: str = "traffic", hard_bound_s: float = HARD_BOUND_S):
        self.release, self.base_url, self.hard_bound_s = release, base_url, hard_bound_s
        self.name = f"{name}-{random_suffix(5)}"
        self.final: TrafficTally | None = None

    def manifest(self) -> dict:
        """The client pod: the backend's image (python3, urllib), its non-root user, admitted by Pod
        Security "restricted" like every pod the harness makes in a test namespace (issue 27)."""
        r = self.release
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "labels": {"app.kubernetes.io/part-of": "todo-chatbot-verification"}},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": self.REQUEST_TIMEOUT_S + 20,
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "traffic", "image": r.images.backend, "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", IN_CLUSTER_TRAFFIC, self.base_url],
                    "env": [{"name": "MAX_SECONDS", "value": str(int(self.hard_bound_s))},
                            {"name": "REQUEST_TIMEOUT", "value": str(self.REQUEST_TIMEOUT_S)}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }],
            },
        }

    def __enter__(self) -> InClusterTraffic:
        r = self.release
        pod = self.manifest()
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
        """The running count (up to a second old); the verdict is :meth:`stop`'s."""
        try:
            return parse_tally(self.log())
        except Exception:  # noqa: BLE001 - not started yet
            return None

    def timeline(self) -> list[tuple[float, int, int]]:
        """(wall-clock time, ok, failed) once a second, cumulative: :func:`parse_timeline`."""
        return parse_timeline(self.log())

    def _phase(self) -> str:
        return self.release.cluster.core.read_namespaced_pod(self.name, self.release.namespace).status.phase

    def stop(self, after: float | None = None) -> TrafficTally:
        """Tell the client to stop (SIGTERM to the pod's PID 1), wait until it has counted the
        request in flight (answered, or failed by its timeout) and exited, and return its final tally.

        Fails unless the client was alive to the end: it exited by itself or by its safety net, or
        printed no final tally. With ``after`` (a wall-clock time, e.g. when a rollout finished):
        the final tally must be written after it and a request must have succeeded after it.
        """
        if self.final is not None:
            return self.final
        r = self.release
        if self._phase() != "Running":
            raise TrafficClientProblem(f"traffic pod {self.name} is {self._phase()} before the test stopped it: "
                                       f"{self.log()[-600:]}")
        signal_sent_at = time.time()
        # The exit status of the exec is no answer: when the client (PID 1) is quick to finish, the
        # kernel kills the exec'd process with the rest of the PID namespace (137). The final tally says
        # whether the signal arrived ("stop_at", "ended": "stop").
        r.cluster.target.kubectl("-n", r.namespace, "exec", self.name, "-c", "traffic", "--", "python3", "-c",
                                 "import os, signal; os.kill(1, signal.SIGTERM)", check=False, timeout=60)
        wait_for(lambda: self._phase() in ("Succeeded", "Failed"),
                 what=f"traffic pod {self.name} to count its last request and exit",
                 timeout=self.REQUEST_TIMEOUT_S + 60, interval=1, describe=self._log_tail)
        final = final_verdict(self.log(), after, who=f"traffic pod {self.name}")
        if after is not None and signal_sent_at < after:
            raise TrafficClientProblem(f"traffic pod {self.name} was stopped before {after:.1f}, the moment it had "
                                       "to cover")
        self.final = final
        return final

    def finish(self, after: float, seconds: float = 5, patience: float = 30) -> TrafficTally:
        """Let traffic run ``seconds`` more past ``after`` (e.g. the end of a rollout) — and on a slow
        machine up to ``patience`` more until a request sent after it has succeeded — then :meth:`stop`,
        whose verdict requires such a success."""
        time.sleep(max(0.0, after + seconds - time.time()))
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and ((self.tally() or TrafficTally()).last_ok_at or 0) < after:
            time.sleep(1)
        return self.stop(after=after)

    def __exit__(self, *exc: object) -> None:
        self.release.cluster.core.delete_namespaced_pod(self.name, self.release.namespace, grace_period_seconds=0)
