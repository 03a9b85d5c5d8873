"""CPU per request: the application's cumulative CPU counters, read at a few moments of a run, set
against the number of requests Locust had completed at the very moment each counter was read.

Why the moment of each reading matters: the kubelet's summary API serves cAdvisor's counters, which
are refreshed every few seconds, each container on its own schedule, and each figure carries the
time it was taken (``cpu.time``); Docker's stats carry theirs too (``read``). Dividing a counter's
growth by the requests of the wall-clock window it actually covers keeps a stale reading from
counting seconds of load it has not seen, or seconds it has seen as no load.

Two windows are figured (``budget_gate.py``): the whole run, and the signed-in use, from the moment
every user has registered and logged in (argon2 hashing, slow on purpose) to the end. The second is
what one ordinary request (a task list, a chat turn) costs; the first includes each user's sign-up.
Pure functions and plain data: verification/unit tests them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CpuReading:
    at: float  # when the engine read the counter (Unix seconds)
    cpu_ns: int  # the container's cumulative CPU time then


def timestamp(value: str | None, default: float) -> float:
    """An RFC 3339 time from the kubelet or Docker (``2026-12-02T05:47:54Z``, nanoseconds allowed) as
    Unix seconds; ``default`` when it is missing or unreadable (an old engine: the reading is then
    taken to be as fresh as the call that fetched it)."""
    if not value or value.startswith("0001-"):
        return default
    head, _, rest = value.partition(".")
    if rest:  # Python reads at most microseconds: keep six digits of the fraction, and the zone
        digits = "".join(c for c in rest if c.isdigit())
        value = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return default


@dataclass
class RequestClock:
    """Locust's count of completed requests over wall-clock time, ticked every second or so."""

    ticks: list[tuple[float, int]] = field(default_factory=list)  # (Unix seconds, requests so far)

    def tick(self, at: float, requests: int) -> None:
        if not self.ticks or at > self.ticks[-1][0]:
            self.ticks.append((at, requests))

    def requests_at(self, at: float) -> float:
        """Requests completed by ``at``: interpolated between ticks, 0 before the first, the last count
        after the last (the load has stopped; the counters read after it count no more requests)."""
        if not self.ticks or at <= self.ticks[0][0]:
            return float(self.ticks[0][1]) if self.ticks else 0.0
        if at >= self.ticks[-1][0]:
            return float(self.ticks[-1][1])
        i = bisect.bisect_right(self.ticks, (at, float("inf")))
        (t0, n0), (t1, n1) = self.ticks[i - 1], self.ticks[i]
        return n0 + (n1 - n0) * (at - t0) / (t1 - t0)


def cpu_seconds_by_group(start: dict, end: dict, groups: dict) -> dict[str, float]:
    """CPU time each group (Deployment) used between two readings of its containers (a container
    whose counter went back, i.e. restarted, or that is missing from either, is left out)."""
    used: dict[str, float] = {}
    for key, first in start.items():
        last = end.get(key)
        if last is None or last.cpu_ns < first.cpu_ns:
            continue
        group = groups.get(_container_of(key), _container_of(key))
        used[group] = used.get(group, 0.0) + (last.cpu_ns - first.cpu_ns) / 1e9
    return {group: round(seconds, 2) for group, seconds in used.items()}


def cpu_ms_per_request(start: dict, end: dict, groups: dict, clock: RequestClock) -> dict[str, float]:
    """CPU milliseconds per request served, per group and in total: each container's CPU growth over
    the requests completed between the moments of its own two readings. Empty when no container has a
    window with requests in it."""
    per_group: dict[str, float] = {}
    for key, first in start.items():
        last = end.get(key)
        if last is None or last.cpu_ns < first.cpu_ns:
            continue
        requests = clock.requests_at(last.at) - clock.requests_at(first.at)
        if requests <= 0:
            continue
        group = groups.get(_container_of(key), _container_of(key))
        per_group[group] = per_group.get(group, 0.0) + (last.cpu_ns - first.cpu_ns) / 1e6 / requests
    if not per_group:
        return {}
    return {**{group: round(ms, 2) for group, ms in per_group.items()}, "total": round(sum(per_group.values()), 2)}


def _container_of(key: str | tuple[str, str]) -> str:
    """The name groups are keyed by: a Docker container's name, or a pod's of (pod, container)."""
    return key[0] if isinstance(key, tuple) else key
