"""Explicit waits: every wait says what it waits for, for how long, and what it saw last."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A condition did not hold in time; the message names it and the last state seen."""


class WaitAbandoned(RuntimeError):
    """A wait stopped before its deadline: its ``give_up`` said the condition would not hold (the
    message is the one ``give_up`` returned)."""


def wait_for(
    condition: Callable[[], T],
    *,
    what: str,
    timeout: float,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
    give_up: Callable[[], str | None] | None = None,
) -> T:
    """Poll ``condition`` until it returns a truthy value and return that value.

    ``condition`` may raise; the exception counts as "not yet" and becomes the last
    observed state. ``describe`` adds context (for instance a process's last log
    lines) to the timeout message. ``give_up``, when given, is called first in each round: when
    it returns a message (say, "the process being waited on has exited"), the wait raises
    :class:`WaitAbandoned` with that message at once instead of waiting out the timeout.
    """
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
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            extra = f"\n{describe()}" if describe else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last}{extra}")
        time.sleep(interval)
