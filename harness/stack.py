"""The whole application on the local Docker engine, from the chart's rendered pod templates.

    python -m harness.stack up [--ui-port 8080] [--timeout 300]    # make up
    python -m harness.stack status                                 # make status
    python -m harness.stack down                                   # make down

``up`` renders the chart with the real Helm CLI, starts PostgreSQL (``harness.testkit.postgres``), the
Service stand-ins and the Deployments' pods (:mod:`harness.podrt.runtime`), waits
until every pod is Ready and prints ``UI: http://127.0.0.1:<port>``. A detached supervisor
process keeps playing the kubelet (probes, restarts) until ``down``. The JWT secret and the
database password are generated for each run and live only in the supervisor's memory and
the containers' environment: never in a file.

``down`` stops the supervisor and removes every container, network and volume labelled as
this checkout's stack — also when ``up`` failed half-way or the supervisor died.

:class:`LocalStack` is the same assembly as a context manager, used by the runtime tier.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import yaml

from harness import contract
from harness.core import docker as docker_engine
from harness.core import processes
from harness.core.lifecycle import Managed
from harness.core.paths import REPO_ROOT
from harness.core.wait import wait_for
from harness.images import build as images_lib
from harness.kube import render
from harness.kube.manifests import pod_spec
from harness.podrt.gc import remove_run
from harness.podrt.labels import LABEL_ROLE, LABEL_RUN
from harness.podrt.pod import Pod, image_present
from harness.podrt.runtime import Runtime
from harness.podrt.translate import LABEL_PREFIX, RenderedObjects, deployment_named
from harness.testkit import postgres

STATE_DIR = REPO_ROOT / ".cache" / "stack"
STATE_FILE = STATE_DIR / "state.json"
LABEL_OWNER = f"{LABEL_PREFIX}/owner"
# `make up` of this checkout: `make up` and `make down` remove the left-overs of their own checkout's
# stack only, never another checkout's beside it on the same engine.
OWNER_MAKE_UP = f"make-up-{hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:10]}"
DEFAULT_UI_PORT = 8080
DB_ALIAS = "postgres"  # the database's host name on the stack's network, in the chart's DATABASE_URL


class StackError(RuntimeError):
    """The stack cannot start; the message says what is missing and the command that fixes it."""


def app_images(objects: RenderedObjects) -> list[str]:
    return sorted({c["image"] for d in objects.deployments.values()
                   for c in pod_spec(d)["containers"]})


def image_tags() -> dict[str, str]:
    """The images this checkout builds (``todo-*:$IMAGE_TAG``, else the chart's appVersion): without it
    a checkout with IMAGE_TAG set ran the chart's default tag, another checkout's images."""
    tag = images_lib.image_tag()
    return {"backend.image.tag": tag, "frontend.image.tag": tag}


# The runtime tier's stacks run one frontend pod (the chart's default is two): its tests
# follow one pod through restarts and rollouts, on a two-core machine. `make up` and the
# load tier run the chart's defaults.
ONE_FRONTEND = {"frontend.replicaCount": 1}


class LocalStack(Managed):
    """PostgreSQL + the chart's Services and pods on one private Docker network.

    ``set_values`` are extra chart values (``{"backend.replicaCount": 1}``); the
    credentials are generated here. ``start(apps=False)`` brings up only the database
    and the Services, for tests that start pods themselves.
    """

    def __init__(self, *, set_values: Mapping[str, Any] | None = None, ui_port: int | None = None,
                 run_id: str | None = None, extra_labels: Mapping[str, str] | None = None,
                 release: str = render.DEFAULT_RELEASE, client: docker.DockerClient | None = None) -> None:
        self.client = client or docker_engine.client(timeout=120)
        self.set_values = dict(set_values or {})  # the chart's defaults unless told otherwise
        self.ui_port = ui_port
        self.release = release
        self.runtime = Runtime(self.client, run_id=run_id, namespace=render.DEFAULT_NAMESPACE,
                               extra_labels=extra_labels)
        self.jwt_secret = secrets.token_hex(32)
        # The database: started by start(), removed by close() with the run's other containers.
        self.postgres = postgres.DockerPostgres(
            network=self.runtime.network_name, alias=DB_ALIAS, name=f"{self.runtime.prefix}-postgres",
            labels={**self.runtime.labels, LABEL_ROLE: "database"})
        self.objects: RenderedObjects | None = None

    # -- values ---------------------------------------------------------------------------
    def database_url(self, password: str | None = None, database: str = postgres.DockerPostgres.NAME,
                     user: str = postgres.DockerPostgres.USER) -> str:
        return self.postgres.database(database, user, password).url

    def render(self, set_values: Mapping[str, Any] | None = None, *, database_url: str | None = None,
               release: str | None = None) -> RenderedObjects:
        """The chart rendered with this stack's credentials (handed to Helm in a 0600 file, then deleted)."""
        secrets_values = {"secrets": {"databaseUrl": database_url or self.database_url(),
                                      "jwtSecret": self.jwt_secret}}
        with tempfile.TemporaryDirectory(prefix="todo-stack-") as tmp:
            path = Path(tmp) / "secrets.yaml"
            path.touch(mode=0o600)
            path.write_text(yaml.safe_dump(secrets_values))
            manifests = render.render(values_files=[path],
                                      set_values={**image_tags(), **self.set_values, **(set_values or {})},
                                      release=release or self.release)
        return RenderedObjects.from_manifests(render.installed(manifests), namespace=render.DEFAULT_NAMESPACE)

    def deployment(self, component: str, objects: RenderedObjects | None = None) -> str:
        return deployment_named(objects or self.objects, component)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, *, apps: bool = True, timeout: float = 240) -> LocalStack:
        self.objects = self.render()
        missing = [image for image in app_images(self.objects) if not image_present(self.client, image)]
        if apps and missing:
            raise StackError(f"image(s) {', '.join(missing)} not in the local Docker engine: run 'make images'")
        try:
            pg_image = postgres.image_in_engine(self.client)
        except postgres.PostgresUnavailable as exc:
            raise StackError(str(exc)) from None
        self.runtime.start()
        self.postgres.start(pg_image)
        frontend_service = next((n for n in self.objects.services if n.endswith("-frontend")), None)
        fixed = {frontend_service: {contract.FRONTEND_PORT: self.ui_port}} if self.ui_port and frontend_service else {}
        self.runtime.add_services(self.objects, host_ports=fixed)
        if apps:
            pods = [p for d in sorted(self.objects.deployments)
                    for p in self.runtime.run_deployment(self.objects, d)]
            self.runtime.wait_ready(pods, timeout=timeout)
        return self

    def close(self) -> None:
        self.runtime.close()  # removes the database container too (same run label)

    # -- shortcuts -----------------------------------------------------------------------------
    @property
    def ui_url(self) -> str:
        return self.runtime.service_url(self.deployment("frontend"))

    @property
    def backend_url(self) -> str:
        return self.runtime.service_url(self.deployment("backend"))

    def pods(self, component: str | None = None) -> list[Pod]:
        if component is None:
            return [p for p in self.runtime.pods if not p.terminating]
        return self.runtime.pods_of(self.deployment(component))

    def app_containers(self) -> dict[str, Any]:
        return {f"{p.name}/{c.spec.name}": c.container for p in self.pods() for c in p.containers if c.container}

    def idle_memory(self) -> dict[str, int]:
        """Working-set bytes of every app container and the database right now."""
        from harness.podrt.pod import working_set_bytes

        figures = {name: working_set_bytes(c) for name, c in self.app_containers().items()}
        figures["postgres"] = working_set_bytes(self.postgres.container)
        return figures


# --- the command line: make up / make down / make status ------------------------------------------
def _write_state(state: dict[str, Any]) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, STATE_FILE)


def _read_state() -> dict[str, Any] | None:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """The supervisor runs, and ``pid`` is it (not a process that reused the number)."""
    if not processes.alive(pid):
        return False
    line = processes.cmdline(pid)
    return not line or ("harness.stack" in line and "supervise" in line)


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def supervise(run_id: str, ui_port: int, timeout: float, set_values: Mapping[str, Any] | None = None) -> int:
    """The detached process behind ``make up``: start the stack, then keep it supervised until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = float(os.environ.get("TODO_STACK_T0", time.time()))
    state: dict[str, Any] = {"run_id": run_id, "pid": os.getpid(), "status": "starting", "ui_port": ui_port,
                             "started_at": started}
    _write_state(state)
    stack = LocalStack(ui_port=ui_port, run_id=run_id, extra_labels={LABEL_OWNER: OWNER_MAKE_UP},
                       set_values=set_values)
    try:
        stack.start(timeout=timeout)
        state.update(status="ready", ui_url=stack.ui_url, backend_url=stack.backend_url,
                     seconds_to_ready=round(time.time() - started, 1))
        _write_state(state)
        print(f"ready after {state['seconds_to_ready']} s", flush=True)
        stop.wait(10)  # let start-up work settle before measuring idle memory
        if not stop.is_set():
            state["idle_memory"] = {k: _mib(v) for k, v in stack.idle_memory().items()}
            _write_state(state)
        while not stop.wait(2):
            state["pods"] = {p.name: {"ready": p.ready, "restarts": sum(c.restart_count for c in p.containers)}
                             for p in stack.pods()}
            _write_state(state)
        return 0
    except Exception as exc:  # noqa: BLE001 - report any failure to the waiting `up`
        diagnosis = ""
        try:
            if stack.runtime.pods:
                diagnosis = stack.runtime.diagnose()
        except Exception:  # noqa: BLE001
            pass
        state.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:4000], diagnosis=diagnosis[-8000:])
        _write_state(state)
        print(state["error"], file=sys.stderr, flush=True)
        return 1
    finally:
        stack.close()
        current = _read_state() or {}
        if current.get("run_id") == run_id and current.get("status") != "failed":
            STATE_FILE.unlink(missing_ok=True)


def cmd_up(args: argparse.Namespace) -> int:
    t0 = time.time()
    client = docker_engine.client(timeout=30)
    previous = _read_state()
    if previous and _alive(int(previous.get("pid", 0))):
        print(f"the stack is already up (run {previous['run_id']}): {previous.get('ui_url', '')}\n"
              "run 'make down' first to start a new one", file=sys.stderr)
        return 1
    leftovers = _owned_runs(client)
    for run_id in leftovers:
        remove_run(client, run_id)
    if args.build and not args.set:
        print("making sure the images are built (harness.images.build, layer cache) ...", flush=True)
        try:
            images_lib.ensure_images()
        except Exception as exc:  # noqa: BLE001 - one line for people, then stop
            print(f"make up: the images could not be built: {str(exc).splitlines()[0]}\n"
                  "run 'make images' to see the whole build", file=sys.stderr)
            return 1
    run_id = f"up{secrets.token_hex(3)}"
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = STATE_DIR / f"{run_id}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.stack", "supervise", "--run-id", run_id,
             "--ui-port", str(args.ui_port), "--timeout", str(args.timeout),
             *[f"--set={item}" for item in args.set]],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "TODO_STACK_T0": str(t0)},
        )
    print(f"starting the stack (run {run_id}, supervisor pid {process.pid}, log {log_path}) ...", flush=True)

    def settled() -> dict[str, Any] | None:
        state = _read_state()
        if state and state.get("run_id") == run_id and state.get("status") in ("ready", "failed"):
            return state
        if process.poll() is not None:
            return {"status": "failed", "error": f"the supervisor exited with code {process.returncode}"}
        return None

    try:
        state = wait_for(settled, what="the stack's pods to be Ready", timeout=args.timeout + 60, interval=0.5)
    except TimeoutError as exc:
        state = {"status": "failed", "error": str(exc)}
    except KeyboardInterrupt:
        state = {"status": "failed", "error": "interrupted"}
    if state["status"] != "ready":
        print(f"make up failed: {state.get('error')}", file=sys.stderr)
        if any(s in str(state.get("error")) for s in ("port is already allocated", "address already in use")):
            print(f"port {args.ui_port} is taken: choose another with 'UI_PORT=<port> make up'", file=sys.stderr)
        if state.get("diagnosis"):
            print(state["diagnosis"], file=sys.stderr)
        print(f"supervisor log: {log_path}; cleaning up ...", file=sys.stderr)
        cmd_down(args)
        return 1
    print(f"all pods Ready {state['seconds_to_ready']} s after 'make up'")
    print(f"backend Service: {state['backend_url']}")
    print(f"UI: {state['ui_url']}", flush=True)
    try:
        wait_for(lambda: (_read_state() or {}).get("idle_memory"), what="the idle memory figures", timeout=30,
                 interval=0.5)
    except (TimeoutError, KeyboardInterrupt):
        return 0
    for name, figure in ((_read_state() or {}).get("idle_memory") or {}).items():
        print(f"  idle memory {name}: {figure}")
    print("'make status' shows the pods; 'make down' removes everything")
    return 0


def _owned_runs(client: docker.DockerClient) -> list[str]:
    selector = {"label": f"{LABEL_OWNER}={OWNER_MAKE_UP}"}
    ids = {c.labels.get(LABEL_RUN) for c in client.containers.list(all=True, filters=selector)}
    ids |= {(n.attrs.get("Labels") or {}).get(LABEL_RUN) for n in client.networks.list(filters=selector)}
    return sorted(i for i in ids if i)


def cmd_down(args: argparse.Namespace) -> int:
    state = _read_state()
    stopped = ""
    if state and state.get("pid") and _alive(int(state["pid"])):
        pid = int(state["pid"])
        stopped = f"stopped the supervisor of run {state.get('run_id')} (pid {pid}), which removed its objects; "
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    client = docker_engine.client(timeout=60)
    removed: list[str] = []
    from harness.podrt.gc import runs

    for run_id in (runs(client) if getattr(args, "all", False) else _owned_runs(client)):
        removed += remove_run(client, run_id)
    STATE_FILE.unlink(missing_ok=True)
    leftover = f"removed {len(removed)} left-over object(s): {', '.join(removed)}" if removed else "nothing left over"
    print(stopped + leftover if (stopped or removed) else "nothing was up")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _read_state()
    client = docker_engine.client(timeout=30)
    if not state:
        runs = _owned_runs(client)
        print("the stack is down" + (f" but objects of runs {runs} remain: run 'make down'" if runs else ""))
        return 1 if runs else 0
    alive = _alive(int(state.get("pid", 0)))
    print(f"run {state['run_id']}: {state['status']} (supervisor {'running' if alive else 'NOT running'})")
    if state.get("ui_url"):
        print(f"UI: {state['ui_url']}")
    for name, pod in (state.get("pods") or {}).items():
        print(f"  pod {name}: ready={pod['ready']} restarts={pod['restarts']}")
    if state.get("error"):
        print(f"error: {state['error']}")
    return 0 if alive and state["status"] == "ready" else 1


def make_up_label() -> str:
    """The Docker labels of this checkout's ``make up`` application containers (for Locust's sampler)."""
    return f"{LABEL_OWNER}={OWNER_MAKE_UP},{LABEL_PREFIX}/role=container"


def running_ui_url() -> str | None:
    """The UI address of this checkout's stack when it is up and its supervisor runs, else None."""
    state = _read_state()
    if not state or state.get("status") != "ready" or not _alive(int(state.get("pid", 0))):
        return None
    return state["ui_url"]


def cmd_url(args: argparse.Namespace) -> int:
    """Print the UI address of the running stack (for scripts: `make load`)."""
    url = running_ui_url()
    if url is None:
        print("the stack is not up: run 'make up'", file=sys.stderr)
        return 1
    print(url)
    return 0


def _parse_sets(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set wants KEY=VALUE, got {item!r}")
        values[key] = yaml.safe_load(raw) if raw else ""
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.stack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack and print the UI address")
    up.add_argument("--ui-port", type=int, default=int(os.environ.get("UI_PORT", DEFAULT_UI_PORT)))
    up.add_argument("--timeout", type=float, default=300, help="seconds to wait for every pod to be Ready")
    up.add_argument("--no-build", dest="build", action="store_false",
                    help="do not build missing images (use what the engine has)")
    up.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a chart value (YAML-typed), e.g. --set backend.replicaCount=1; repeatable")
    down = sub.add_parser("down", help="remove everything 'up' created")
    down.add_argument("--all", action="store_true",
                      help="also remove what interrupted runtime-tier test sessions left behind "
                           "(every run labelled todo-chatbot.runtime/run; do not use while tests run)")
    sub.add_parser("status", help="show the stack's state")
    sub.add_parser("url", help="print the UI address of the running stack")
    sup = sub.add_parser("supervise", help="internal: the detached supervisor behind up")
    sup.add_argument("--run-id", required=True)
    sup.add_argument("--ui-port", type=int, required=True)
    sup.add_argument("--timeout", type=float, default=300)
    sup.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        if args.command == "supervise":
            return supervise(args.run_id, args.ui_port, args.timeout, _parse_sets(args.set))
        return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "url": cmd_url}[args.command](args)
    except docker.errors.DockerException as exc:
        print(f"no Docker engine answers ({exc}): run scripts/ensure-docker.sh", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
