"""Is there an application at the run's ``--host``? If not, one line saying how to get one.

Without this, Locust starts its users anyway: with no host at all each one stops with a StopTest
traceback, with a host where nothing listens every request fails, and the gate then judges an empty
run and blames latency. A person who typed ``locust -f load/`` needs the command that brings the
application up instead.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 3.0
HOW_TO_START = "start the application with `make up` (it prints the UI address), or pass --host URL of one that runs"


def target_problem(host: str | None, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when something accepts connections at ``host``, else one line: what is wrong and the fix."""
    if not host:
        return f"no target: {HOW_TO_START}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--host {host!r} is not an http(s) URL such as http://127.0.0.1:8080"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except ValueError:
        return f"--host {host!r} has an invalid port"
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
    running = _running_stack_url()
    if running and running.rstrip("/") != host.rstrip("/"):
        return f"nothing answers at {host} ({why}); this checkout's `make up` stack is at {running}: pass --host {running}"
    return f"nothing answers at {host} ({why}): {HOW_TO_START}"


def _running_stack_url() -> str | None:
    """Where this checkout's ``make up`` stack serves (it may run on another UI_PORT), if it is up."""
    try:
        from harness.stack import running_ui_url
    except ImportError:  # the harness is not installed beside Locust: only the generic hint then
        return None
    return running_ui_url()
