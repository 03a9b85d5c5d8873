"""In-process limits on sign-in, sign-up and the costly per-user routes (security reviews, issues 16 and 27).

Keys are the *caller* (the client address the frontend saw: :func:`todo_api.caller.client_address`),
the account, or the user. Every limiter *reserves* before the work it guards (hashing a password,
inserting a row): a check followed by a later record let 60 parallel guesses through a limit of 10,
since all 60 were checked before the first was recorded.

In this process only: with several replicas each counts on its own, so the effective limit is the
per-replica one times the replicas a client reaches. A limit that holds across replicas belongs at the
ingress (or in a shared store), which this product does not have.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


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
        self._lock = threading.Lock()  # callers may be on the event loop or on worker threads

    def retry_after(self, key: Hashable) -> int:
        """0 when another event is allowed now, else whole seconds until one is."""
        with self._lock:
            return self._wait(self._current(key, self.clock()))

    def acquire(self, key: Hashable) -> int:
        """Check and record in one step: 0 when the event is allowed (and now counted), else the wait."""
        with self._lock:
            now = self.clock()
            events = self._current(key, now)
            wait = self._wait(events)
            if not wait:
                self._record(key, events, now)
            return wait

    def hit(self, key: Hashable) -> None:
        with self._lock:
            now = self.clock()
            self._record(key, self._current(key, now), now)

    def forgive(self, key: Hashable) -> None:
        """Take back the latest event of ``key`` (a reserved attempt that turned out not to count)."""
        with self._lock:
            events = self._events.get(key)
            if events:
                events.pop()
                if not events:
                    del self._events[key]

    def reset(self, key: Hashable) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _wait(self, events: deque[float] | None) -> int:
        if events is None or len(events) < self.limit:
            return 0
        return max(1, math.ceil(events[0] + self.window - self.clock()))

    def _record(self, key: Hashable, events: deque[float] | None, now: float) -> None:
        if events is None:
            if len(self._events) >= self.max_keys:
                self._evict(now)
            events = self._events[key] = deque()
        events.append(now)
        while len(events) > self.limit:  # older ones no longer change any answer
            events.popleft()

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


@dataclass
class _Attempts:
    failures: int = 0
    pending: int = 0  # reserved, not yet answered
    blocked_until: float = 0.0
    last: float = 0.0


class BackoffLimiter:
    """Failed attempts at one key (a caller and an account): ``free`` of them at once, then backoff.

    After the free failures each further one doubles the wait before the next attempt
    (``base``, 2 x ``base``, ... up to ``cap`` seconds): a guesser is slowed to a handful of guesses an
    hour, while nobody else is locked out, since the key includes the caller. A success forgets the
    key; so does ``forget_after`` seconds without a failure.

    An attempt is reserved before the password is verified. While the free ones are used up and
    one is still being verified, others wait for its outcome (Retry-After 1), so parallel guesses
    cannot slip past the count.
    """

    def __init__(self, free: int, *, base: float = 2.0, cap: float = 300.0, forget_after: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 20_000) -> None:
        self.free, self.base, self.cap, self.forget_after = free, base, cap, forget_after
        self.clock = clock
        self.max_keys = max_keys
        self._keys: dict[Hashable, _Attempts] = {}
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> int:
        """0 when an attempt may go ahead (it is reserved: call :meth:`failed`, :meth:`succeeded` or
        :meth:`release` after it), else whole seconds to wait."""
        with self._lock:
            now = self.clock()
            state = self._state(key, now)
            if state is None:
                if len(self._keys) >= self.max_keys:
                    self._evict(now)
                state = self._keys[key] = _Attempts(last=now)
            if now < state.blocked_until:
                return max(1, math.ceil(state.blocked_until - now))
            if state.failures + state.pending >= self.free and state.pending:
                return 1  # the outcome of the attempt in flight decides the next wait
            state.pending += 1
            return 0

    def failed(self, key: Hashable) -> None:
        with self._lock:
            now = self.clock()
            state = self._keys.get(key)
            if state is None:  # evicted meanwhile: start counting again
                state = self._keys[key] = _Attempts(pending=1)
            state.pending = max(0, state.pending - 1)
            state.failures += 1
            state.last = now
            if state.failures >= self.free:
                step = state.failures - self.free
                state.blocked_until = now + min(self.cap, self.base * 2 ** min(step, 30))

    def succeeded(self, key: Hashable) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def release(self, key: Hashable) -> None:
        """The reserved attempt ended without an answer about the password (an error)."""
        with self._lock:
            state = self._keys.get(key)
            if state is not None:
                state.pending = max(0, state.pending - 1)

    def _state(self, key: Hashable, now: float) -> _Attempts | None:
        state = self._keys.get(key)
        if state is not None and not state.pending and now - state.last > self.forget_after \
                and now >= state.blocked_until:
            del self._keys[key]
            return None
        return state

    def _evict(self, now: float) -> None:
        for key in [k for k, s in self._keys.items() if not s.pending and now >= s.blocked_until]:
            del self._keys[key]
            if len(self._keys) < self.max_keys:
                return
        # Still full (all blocked or in flight): forget the oldest. Losing a count only errs toward allowing.
        for key in list(self._keys)[: max(0, len(self._keys) - self.max_keys + 1)]:
            del self._keys[key]


# The defaults. The load test (load/todo_user.py) signs up 100 users from one address within 10 s
# (a register and a log in each, all succeeding): distinct accounts from one address must pass, so
# the per-caller limits are far above that burst and count what an attacker produces (failed logins,
# sign-ups), while one caller gets 10 free failures at one account, then backoff.
ACCOUNT_ATTEMPTS_PER_MINUTE = 10  # per (caller, email): free failed logins before backoff; sign-ups a minute
ADDRESS_FAILED_LOGINS_PER_MINUTE = 100  # per caller, over all emails: credential stuffing
ADDRESS_SIGN_UPS_PER_MINUTE = 300  # per caller: the load test's burst is 100


class AuthLimits:
    """The limiters of POST /api/auth/login and /api/auth/register."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.account = BackoffLimiter(ACCOUNT_ATTEMPTS_PER_MINUTE, clock=clock)
        self.account_sign_ups = SlidingWindowLimiter(ACCOUNT_ATTEMPTS_PER_MINUTE, clock=clock)
        self.failed_logins = SlidingWindowLimiter(ADDRESS_FAILED_LOGINS_PER_MINUTE, clock=clock)
        self.sign_ups = SlidingWindowLimiter(ADDRESS_SIGN_UPS_PER_MINUTE, clock=clock)


class UserLimits:
    """Per-user rates of the costly routes: creating tasks and chat turns (issue 27)."""

    def __init__(self, tasks_created_per_minute: int, chat_turns_per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.task_creation = SlidingWindowLimiter(tasks_created_per_minute, clock=clock)
        self.chat_turns = SlidingWindowLimiter(chat_turns_per_minute, clock=clock)
