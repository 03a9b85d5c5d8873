"""The simulated user (load/todo_user.py) counts every wrong answer as a failed request: the load gate's
``zero_failures`` (SC-004) is only as good as this.

The real user class, run by Locust's own runner (in a process of its own: Locust patches the standard
library with gevent) against a tiny real HTTP server on 127.0.0.1 that answers like the frontend's API
(images/frontend/src/lib/api-routes.ts), or answers wrongly: the right status with an HTML page, JSON of
the wrong shape, a missing field, a body that is not JSON at all under a JSON content type, JSON
under an HTML content type, a 200 where a 204 belongs. Every such request must be a failure in Locust's statistics, and an exception in a
task (outside any request) must be one too; a server that answers right must give none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from harness.core.paths import REPO_ROOT

pytestmark = pytest.mark.guards("SC-004")

ROUTES = ("register", "login", "list", "create", "complete", "delete", "chat")
HTML = b"<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"


class FakeFrontend:
    """The frontend's API, in memory: right, or wrong in the way ``how`` says for the routes in ``broken``."""

    def __init__(self, broken: set[str] = frozenset(), how: str = "html") -> None:
        self.broken, self.how = set(broken), how
        self.tasks: dict[int, dict] = {}
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, body: dict) -> tuple[int, str, bytes]:
        route, status, value = self._right(method, path, body)
        if route not in self.broken:
            return status, "application/json", b"" if value is None else json.dumps(value).encode()
        if self.how == "html":
            return status, "text/html; charset=utf-8", HTML
        return self._wrong_shape(route, status, value)

    def _right(self, method: str, path: str, body: dict) -> tuple[str, int, object]:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")  # api, tasks, 3, complete
        with self.lock:
            if url.path == "/api/auth/register":
                return "register", 201, {"id": "u-1", "email": body.get("email")}
            if url.path == "/api/auth/login":
                return "login", 200, {"user_id": "u-1", "email": body.get("email")}
            if url.path == "/api/chat":
                return "chat", 200, {"conversation_id": 1, "response": "Added it.", "tool_calls": []}
            if url.path == "/api/tasks" and method == "GET":
                status = dict(p.split("=") for p in url.query.split("&") if "=" in p).get("status", "all")
                return "list", 200, [t for t in self.tasks.values()
                                     if status == "all" or t["completed"] == (status == "completed")]
            if url.path == "/api/tasks" and method == "POST":
                task = {"id": len(self.tasks) + 1, "title": body["title"], "description": None, "completed": False}
                self.tasks[task["id"]] = task
                return "create", 201, task
            task = self.tasks.get(int(parts[2]), {"id": int(parts[2]), "title": "gone", "completed": True})
            if method == "PATCH":
                task["completed"] = True
                return "complete", 200, task
            self.tasks.pop(task["id"], None)
            return "delete", 204, None

    def _wrong_shape(self, route: str, status: int, value: object) -> tuple[int, str, bytes]:
        def as_json(body: object, code: int = status) -> tuple[int, str, bytes]:
            return code, "application/json", json.dumps(body).encode()

        if route == "login":
            return as_json({"email": "x@example.test"})  # no user_id
        if route == "list":
            return as_json({"tasks": value})  # an object, not a list
        if route == "create":
            return as_json({"title": value["title"]})  # no id
        if route == "complete":  # the right task, served as an HTML page (an error page's content type)
            return status, "text/html; charset=utf-8", json.dumps(value).encode()
        if route == "delete":
            return as_json({}, 200)  # 200 and a body where the API answers 204
        if route == "chat":  # a JSON content type over a body that is not JSON: the judging itself raises
            return status, "application/json", b'{"conversation_id": 1, "response": "Add'
        return as_json([])  # register: a list, not the new user


@contextmanager
def serving(app: FakeFrontend) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Locust's client expects

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, content_type, payload = app.answer(self.command, self.path, json.loads(raw) if raw else {})
            self.send_response(status)
            if status != 204:
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if status != 204:
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Locust's own runner drives the real user class for a moment against each server; every task at one
# weight (the user's own weights would leave deleting to chance) and almost no thinking time.
DRIVER = r"""
import json, sys
import gevent
import locust
from locust import constant
from locust.env import Environment
sys.path.insert(0, "load")
import todo_user

class Quick(todo_user.ChatbotUser):
    wait_time = constant(0.01)

def boom(user):
    raise RuntimeError("a bug in a task, outside any request")

class Raising(todo_user.ChatbotUser):
    wait_time = constant(0.05)

# Set after the classes are made: Locust's metaclass adds a subclass's tasks to its base's.
Quick.tasks = [todo_user.ChatbotUser.list_tasks, todo_user.ChatbotUser.create_task,
               todo_user.ChatbotUser.complete_task, todo_user.ChatbotUser.delete_task, todo_user.ChatbotUser.chat]
Raising.tasks = [boom]

result = {}
for name, host in json.loads(sys.argv[1]).items():
    # The global event hooks, as the locust command's own environment has them (todo_user listens there).
    env = Environment(user_classes=[Raising if name == "raising" else Quick], host=host, events=locust.events)
    runner = env.create_local_runner()
    runner.start(3, spawn_rate=100)
    gevent.sleep(2)
    runner.quit()
    result[name] = {"entries": {n: [s.num_requests, s.num_failures] for (n, _m), s in env.stats.entries.items()},
                    "total": [env.stats.total.num_requests, env.stats.total.num_failures]}
print(json.dumps(result))
"""


def run_users(servers: dict[str, FakeFrontend]) -> dict:
    """Each server's run in a Locust process of its own, all at once: a run is mostly the 2 s of
    gevent.sleep, and runs in one process could not overlap (their runners would share the global
    event hooks, so each would count the others' requests)."""

    def drive(name: str, host: str) -> dict:
        done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps({name: host})], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])

    with ExitStack() as stack, ThreadPoolExecutor(max_workers=len(servers)) as pool:
        hosts = {name: stack.enter_context(serving(app)) for name, app in servers.items()}
        runs = [pool.submit(drive, name, host) for name, host in hosts.items()]
        return {name: result for run in runs for name, result in run.result().items()}


@pytest.fixture(scope="module")
def runs() -> dict:
    return run_users({
        "right": FakeFrontend(),
        "html": FakeFrontend(broken=set(ROUTES), how="html"),
        "html_after_sign_up": FakeFrontend(broken=set(ROUTES) - {"register"}, how="html"),
        "wrong_shape": FakeFrontend(broken=set(ROUTES) - {"register", "list"}, how="shape"),
        "raising": FakeFrontend(),
    })


def test_right_answers_are_no_failure(runs):
    """The control: without it, "everything failed" below could be a user that fails everything."""
    entries, total = runs["right"]["entries"], runs["right"]["total"]
    names = {"register", "login", "list tasks", "create task", "complete task", "delete task", "chat turn"}
    assert names <= entries.keys(), entries
    assert total[0] > 20 and total[1] == 0, entries


def test_the_right_status_with_an_html_page_is_a_failure(runs):
    for run, expected in (("html", {"register", "list tasks", "create task", "chat turn"}),
                          ("html_after_sign_up", {"login", "list tasks", "create task", "chat turn"})):
        entries = runs[run]["entries"]
        assert expected <= entries.keys(), (run, entries)
        for name in expected:
            requests, failures = entries[name]
            assert requests > 0 and failures == requests, (run, name, entries)
    assert runs["html"]["total"][1] == runs["html"]["total"][0]  # nothing at all was right there
    assert runs["html_after_sign_up"]["entries"]["register"][1] == 0  # the one route answered right


def test_wrong_shapes_missing_fields_and_unparsable_json_are_failures(runs):
    entries = runs["wrong_shape"]["entries"]
    for name in ("login", "create task", "complete task", "delete task", "chat turn"):
        requests, failures = entries.get(name, [0, 0])
        assert requests > 0 and failures == requests, (name, entries)
    for name in ("register", "list tasks"):  # answered right: no failure
        assert entries[name][0] > 0 and entries[name][1] == 0, (name, entries)


def test_an_exception_in_a_task_is_a_failed_request(runs):
    entries = runs["raising"]["entries"]
    assert entries["register"][1] == 0 and entries["login"][1] == 0, entries
    requests, failures = entries.get("task error", [0, 0])
    assert requests > 0 and failures == requests, entries
