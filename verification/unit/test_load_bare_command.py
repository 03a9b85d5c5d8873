"""`locust -f load/` from the repository root, as a person types it (one of the commands the project
is built around): Locust finds the project's configuration (the scenario, the target `make up`
prints, the web UI on loopback), and with nothing to load it says in one line how to get a target
and exits, instead of a StopTest traceback and a gate blaming latency. `make load`'s
`--config load/locust.conf` still makes the headless acceptance run."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.core.net import free_port
from harness.core.paths import REPO_ROOT

pytestmark = pytest.mark.harness

LOCUST = Path(sys.executable).with_name("locust")


def options_from_the_root(*argv: str) -> dict:
    """The options Locust parses from the repository root, read in a process of its own (Locust's
    parser reads the config files of the current directory)."""
    code = ("import json, sys; from locust.argument_parser import parse_options; "
            "o = parse_options(sys.argv[1:]); "
            "print(json.dumps({k: getattr(o, k) for k in ('locustfile', 'host', 'web_host', 'headless', "
            "'run_time', 'num_users', 'spawn_rate')}))")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, check=True)

    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bare_locust_finds_the_scenario_the_target_and_a_loopback_web_ui():
    options = options_from_the_root()
    assert options["locustfile"].rstrip("/") == "load"
    assert options["host"] == "http://127.0.0.1:8080"  # what `make up` prints by default
    assert options["web_host"] == "127.0.0.1", "Locust's web UI would listen on every interface"
    assert (options["num_users"], options["spawn_rate"]) == (100, 10)
    assert not options["headless"], "bare `locust -f load/` serves the web UI"


def test_make_loads_config_still_makes_the_headless_acceptance_run():
    options = options_from_the_root("--config", "load/locust.conf")
    assert options["headless"] and options["run_time"] == 180 and options["num_users"] == 100


def _run_headless(host: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LOCUST), "-f", "load/", "--headless", "-t", "5s", "--host", host], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_with_nothing_at_the_target_one_line_says_how_to_get_one():
    host = f"http://127.0.0.1:{free_port()}"
    done = _run_headless(host)
    assert done.returncode == 2, done.stderr[-2000:]
    said = [line for line in done.stderr.splitlines() if line.startswith("load: ")]
    assert len(said) == 1 and f"nothing answers at {host}" in said[0] and "make up" in said[0] and "--host" in said[0]
    assert "Traceback" not in done.stderr and "StopTest" not in done.stderr
    assert "load gate" not in done.stderr, "the gate judged a run that never started"


def test_a_target_that_answers_is_loaded(tmp_path):
    """The check lets a run start when something listens (here a server that answers 404: every
    request fails, which is the gate's business, not the target check's)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run([str(LOCUST), "-f", "load/", "--headless", "-t", "3s", "-u", "1", "-r", "1",
                               "--host", f"http://127.0.0.1:{server.server_port}", "--results-dir", str(tmp_path),
                               "--stack-label", "todo-chatbot.test/none=1"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    assert "load: nothing answers" not in done.stderr
    assert (tmp_path / "summary.json").exists(), done.stderr[-2000:]
