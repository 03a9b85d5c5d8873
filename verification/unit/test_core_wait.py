"""harness.core.wait: "not yet" is a falsy answer; a wrong answer ends the wait at once."""

from __future__ import annotations

import socket
import time
import urllib.error

import httpx
import pytest

from harness.core.net import free_port
from harness.core.wait import WaitAbandoned, WaitTimeout, network_error, wait_for

pytestmark = pytest.mark.harness

# Long enough that a wait which swallowed the error would visibly run it out.
TIMEOUT = 30.0


def test_an_assertion_in_the_condition_propagates_at_once():
    calls = []

    def condition():
        calls.append(1)
        assert len(calls) > 99, "the answer is wrong"

    started = time.monotonic()
    with pytest.raises(AssertionError, match="the answer is wrong"):
        wait_for(condition, what="a wrong answer", timeout=TIMEOUT, interval=0.01)
    assert len(calls) == 1, "the condition was called again after it failed an assertion"
    assert time.monotonic() - started < 1, "the wait did not stop at the assertion"


def test_an_error_outside_the_allow_list_propagates_at_once():
    def condition():
        raise RuntimeError("the process exited with code 3")

    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_for(condition, what="a server that died", timeout=TIMEOUT, interval=0.01)
    # an HTTP 404 is an answer, not a server still starting
    with pytest.raises(urllib.error.HTTPError):
        wait_for(lambda: (_ for _ in ()).throw(urllib.error.HTTPError("http://x/", 404, "Not Found", None, None)),
                 what="a page", timeout=TIMEOUT, interval=0.01)


def test_a_refused_connection_is_retried_until_the_server_answers():
    """A real refused connection (nothing listens on the port yet), then a real listener."""
    port = free_port()
    attempts = []
    server = None

    def condition():
        nonlocal server
        attempts.append(1)
        if len(attempts) == 3:  # the server "comes up" after two refusals
            server = socket.create_server(("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return "connected"

    try:
        assert wait_for(condition, what="the listener", timeout=TIMEOUT, interval=0.01) == "connected"
    finally:
        if server is not None:
            server.close()
    assert len(attempts) == 3


def test_the_caller_names_what_else_to_retry():
    seen = []

    def condition():
        seen.append(1)
        if len(seen) < 3:
            raise KeyError("not there yet")
        return True

    assert wait_for(condition, what="a key", timeout=TIMEOUT, interval=0.01, retry_on=(KeyError,))
    assert len(seen) == 3
    # retry_on=() retries nothing, not even a refused connection
    with pytest.raises(ConnectionRefusedError):
        wait_for(lambda: (_ for _ in ()).throw(ConnectionRefusedError(111, "refused")), what="x",
                 timeout=TIMEOUT, interval=0.01, retry_on=())


def test_the_timeout_names_what_was_awaited_and_the_last_error():
    port = free_port()  # nothing listens: httpx raises ConnectError every time

    def condition():
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200

    with pytest.raises(WaitTimeout) as info:
        wait_for(condition, what="the backend's /healthz", timeout=0.3, interval=0.05,
                 describe=lambda: "last log lines: (none)")
    message = str(info.value)
    assert "waiting for the backend's /healthz" in message
    assert "last: ConnectError" in message
    assert "last log lines: (none)" in message


def test_the_timeout_names_the_last_value():
    class Replicas(list):
        """Falsy until three are Ready; its repr is what the timeout should show."""

        def __bool__(self) -> bool:
            return len(self) >= 3

    with pytest.raises(WaitTimeout, match=r"waiting for three replicas; last: \['pod-a', 'pod-b'\]"):
        wait_for(lambda: Replicas(["pod-a", "pod-b"]), what="three replicas", timeout=0.2, interval=0.05)


def test_give_up_ends_the_wait_before_the_deadline():
    started = time.monotonic()
    with pytest.raises(WaitAbandoned, match="etcd exited"):
        wait_for(lambda: False, what="etcd", timeout=TIMEOUT, interval=0.01, give_up=lambda: "etcd exited")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("exc, transient", [
    (ConnectionRefusedError(111, "Connection refused"), True),
    (ConnectionResetError(104, "reset by peer"), True),
    (socket.timeout("timed out"), True),
    (socket.gaierror(-2, "Name or service not known"), True),
    (urllib.error.URLError(ConnectionRefusedError(111, "refused")), True),
    (urllib.error.HTTPError("http://x/", 503, "Service Unavailable", None, None), True),
    (urllib.error.HTTPError("http://x/", 403, "Forbidden", None, None), False),
    (httpx.ConnectError("refused"), True),
    (httpx.HTTPStatusError("502", request=httpx.Request("GET", "http://x/"),
                           response=httpx.Response(502, request=httpx.Request("GET", "http://x/"))), True),
    (httpx.HTTPStatusError("404", request=httpx.Request("GET", "http://x/"),
                           response=httpx.Response(404, request=httpx.Request("GET", "http://x/"))), False),
    (AssertionError("wrong"), False),
    (FileNotFoundError(2, "no such file"), False),
    (WaitTimeout("a nested wait timed out"), False),
])
def test_the_default_allow_list_is_network_errors_only(exc, transient):
    assert network_error(exc) is transient


def test_kubernetes_api_errors_are_transient_only_when_the_server_is_unavailable():
    from kubernetes.client.exceptions import ApiException

    assert network_error(ApiException(status=503, reason="Service Unavailable"))
    assert network_error(ApiException(status=500, reason="etcdserver: request timed out"))
    assert not network_error(ApiException(status=404, reason="Not Found"))
    assert not network_error(ApiException(status=403, reason="Forbidden"))
