"""A small in-process limiter for sign-in and sign-up (security review, issue 16).

Sliding windows of timestamps per key, in this process only: with several replicas each counts on
its own, so the effective limit is the per-replica one times the replicas a client reaches. Good
enough against guessing one account's password or sweeping emails from one address; a limit that
holds across replicas belongs at the ingress (or in a shared store), which this product does not have.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 20_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        # Bounds the memory an attacker can make us spend by inventing keys (addresses, emails).
        self.max_keys = max_keys
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()  # FastAPI runs the sync auth handlers on a thread pool

    def retry_after(self, key: Hashable) -> int:
        """0 when another event is allowed now, else whole seconds until one is."""
        with self._lock:
            events = self._current(key, self.clock())
            if events is None or len(events) < self.limit:
                return 0
            return max(1, math.ceil(events[0] + self.window - self.clock()))

    def hit(self, key: Hashable) -> None:
        with self._lock:
            now = self.clock()
            events = self._current(key, now)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._evict(now)
                events = self._events[key] = deque()
            events.append(now)
            while len(events) > self.limit:  # older ones no longer change any answer
                events.popleft()

    def reset(self, key: Hashable) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _current(self, key: Hashable, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def _evict(self, now: float) -> None:
        for key in [k for k, events in self._events.items() if events[-1] <= now - self.window]:
            del self._events[key]
        # Still full: forget the oldest keys (insertion order). Losing a count only errs toward allowing.
        for key in list(self._events)[: max(0, len(self._events) - self.max_keys + 1)]:
            del self._events[key]


# The defaults. The load test (load/todo_user.py) signs up 100 users from one address within 10 s
# (a register and a log in each, all succeeding): distinct accounts from one address must pass, so
# the per-address limits are far above that burst and count what an attacker produces (failed logins,
# sign-ups), while one account gets 10 tries a minute.
ACCOUNT_ATTEMPTS_PER_MINUTE = 10  # per (address, email): failed logins, or sign-ups
ADDRESS_FAILED_LOGINS_PER_MINUTE = 100  # per address, over all emails: credential stuffing
ADDRESS_SIGN_UPS_PER_MINUTE = 300  # per address: the load test's burst is 100


class AuthLimits:
    """The limiters of POST /api/auth/login and /api/auth/register."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.account = SlidingWindowLimiter(ACCOUNT_ATTEMPTS_PER_MINUTE, clock=clock)
        self.failed_logins = SlidingWindowLimiter(ADDRESS_FAILED_LOGINS_PER_MINUTE, clock=clock)
        self.sign_ups = SlidingWindowLimiter(ADDRESS_SIGN_UPS_PER_MINUTE, clock=clock)
