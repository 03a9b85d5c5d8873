"""Explicit waits: every wait says what it waits for, for how long, and what it saw last."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A condition did not hold in time; the message names it and the last state seen."""


def wait_for(
    condition: Callable[[], T],
    *,
    what: str,
    timeout: float,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns a truthy value and return that value.

    ``condition`` may raise; the exception counts as "not yet" and becomes the last
    observed state. ``describe`` adds context (for instance a process's last log
    lines) to the timeout message.
    """
    deadline = time.monotonic() + timeout
    last: object = "never checked"
    while True:
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
