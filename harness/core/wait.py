"""Explicit waits: every wait says what it waits for, for how long, and what it saw last.

A condition answers "not yet" by returning something falsy. An exception is not "not yet":
an ``AssertionError`` is a wrong answer, a ``RuntimeError("the process exited")`` will not
get better by waiting, so both end the wait at once. Only the errors a caller names in
``retry_on`` are retried; the default names the network errors of a server that is still
starting (connection refused or reset, a timeout, a name not resolvable yet, an HTTP 5xx/429
raised as an exception), and nothing else.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# A retry_on entry: an exception class (retried with its subclasses) or a predicate.
RetryRule = type[BaseException] | Callable[[BaseException], bool]


class WaitTimeout(TimeoutError):
    """A condition did not hold in time; the message names it and the last state seen."""


class WaitAbandoned(RuntimeError):
    """A wait stopped before its deadline: its ``give_up`` said the condition would not hold (the
    message is the one ``give_up`` returned)."""


# HTTP statuses that mean "the server is there but not ready yet" rather than "wrong request".
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}


def _connection_error_types() -> tuple[type[BaseException], ...]:
    """Connection-level failures of the HTTP clients the harness uses (each only if installed)."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException]
    try:
        import httpx

        types.append(httpx.TransportError)  # ConnectError, ReadTimeout, RemoteProtocolError, …
    except ImportError:
        pass
    try:
        import requests  # the docker SDK's transport

        types += [requests.ConnectionError, requests.Timeout]
    except ImportError:
        pass
    try:
        from urllib3 import exceptions as u3  # the kubernetes client's transport

        types += [u3.MaxRetryError, u3.NewConnectionError, u3.ProtocolError, u3.TimeoutError]
    except ImportError:
        pass
    return tuple(types)


_CONNECTION_ERRORS = _connection_error_types()


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (urllib, httpx, requests/docker, kubernetes), if any."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status
    if type(exc).__name__ == "ApiException":  # kubernetes.client.exceptions, without importing it
        return getattr(exc, "status", None)
    return None


def network_error(exc: BaseException) -> bool:
    """The default ``retry_on``: the server cannot be reached yet (refused, reset, timed out, not
    resolvable) or answered with a transient HTTP status (429, 5xx) raised as an exception."""
    if isinstance(exc, (WaitTimeout, WaitAbandoned)):
        return False  # a nested wait's verdict, not a network hiccup
    status = _http_status(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS
    if isinstance(exc, urllib.error.URLError):  # urlopen wraps a refused connection in URLError
        return True
    return isinstance(exc, _CONNECTION_ERRORS)


def _retried(exc: BaseException, rules: Iterable[RetryRule]) -> bool:
    for rule in rules:
        if isinstance(rule, type):
            if isinstance(exc, rule):
                return True
        elif rule(exc):
            return True
    return False


def wait_for(
    condition: Callable[[], T],
    *,
    what: str | None = None,
    timeout: float,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
    give_up: Callable[[], str | None] | None = None,
    retry_on: Iterable[RetryRule] = (network_error,),
) -> T:
    """Poll ``condition`` until it returns a truthy value and return that value.

    ``condition`` returns a falsy value for "not yet". An exception it raises ends the wait at
    once (an ``AssertionError`` is a wrong answer, not a late one), unless ``retry_on`` allows
    it: a sequence of exception classes and predicates; the default, :func:`network_error`,
    allows the network errors of a server that is still starting. A retried exception becomes
    the last observed state. Pass ``retry_on=()`` to retry nothing.

    ``describe`` adds context (for instance a process's last log lines) to the timeout message.
    ``give_up``, when given, is called first in each round: when it returns a message (say, "the
    process being waited on has exited"), the wait raises :class:`WaitAbandoned` with that
    message at once instead of waiting out the timeout.

    ``condition`` may be a named condition (``harness.deploy.conditions``): an object with a
    ``what`` and a ``describe()``, used when ``what`` and ``describe`` are not given here.
    """
    if what is None:
        what = getattr(condition, "what", None)
        if what is None:
            raise TypeError("wait_for needs what= (or a condition with a `what`): a wait must say what it waits for")
    if describe is None:
        describe = getattr(condition, "describe", None)
    rules = tuple(retry_on)
    deadline = time.monotonic() + timeout
    last: object = "never checked"
    while True:
        if give_up is not None and (reason := give_up()):
            raise WaitAbandoned(reason)
        try:
            result = condition()
            if result:
                return result
            last = repr(result)
        except Exception as exc:
            if not _retried(exc, rules):
                raise
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            extra = f"\n{text}" if describe and (text := describe()) else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last}{extra}")
        time.sleep(interval)
