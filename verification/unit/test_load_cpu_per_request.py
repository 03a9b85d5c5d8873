"""CPU per request in the load gate (load/_cpu.py): each container's CPU growth set against the
requests completed between the moments its two readings were taken, not between the calls that
fetched them (the kubelet serves counters seconds old, each container on its own schedule)."""

from __future__ import annotations

import sys

import pytest

from harness.core.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "load"))  # locust loads load/ by path; its modules import each other so
from _cpu import CpuReading, RequestClock, cpu_ms_per_request, cpu_seconds_by_group, timestamp  # noqa: E402

GROUPS = {"backend-1": "backend", "backend-2": "backend", "frontend-1": "frontend"}


def clock(*ticks: tuple[float, int]) -> RequestClock:
    c = RequestClock()
    for at, n in ticks:
        c.tick(at, n)
    return c


def test_requests_are_interpolated_between_ticks_and_held_outside_them():
    c = clock((100.0, 0), (110.0, 500), (120.0, 1500))
    assert c.requests_at(90.0) == 0 and c.requests_at(105.0) == 250 and c.requests_at(115.0) == 1000
    assert c.requests_at(500.0) == 1500  # after the run: no more requests
    c.tick(115.0, 9)  # a tick out of order is ignored, never a count going back
    assert c.requests_at(120.0) == 1500
    assert RequestClock().requests_at(1.0) == 0


def test_each_container_is_divided_by_the_requests_of_its_own_window():
    c = clock((0.0, 0), (10.0, 1000), (20.0, 2000))
    start = {"backend-1": CpuReading(0.0, 0), "frontend-1": CpuReading(0.0, 0)}
    # The frontend's last reading is 10 s stale: it covers 1,000 requests, not the 2,000 of the run.
    end = {"backend-1": CpuReading(20.0, 6_000_000_000), "frontend-1": CpuReading(10.0, 1_000_000_000)}
    assert cpu_ms_per_request(start, end, GROUPS, c) == {"backend": 3.0, "frontend": 1.0, "total": 4.0}
    assert cpu_seconds_by_group(start, end, GROUPS) == {"backend": 6.0, "frontend": 1.0}


def test_replicas_add_up_and_a_restarted_or_missing_container_is_left_out():
    c = clock((0.0, 0), (10.0, 1000))
    start = {"backend-1": CpuReading(0.0, 0), "backend-2": CpuReading(0.0, 500_000_000),
             "frontend-1": CpuReading(0.0, 9_000_000_000)}
    end = {"backend-1": CpuReading(10.0, 1_000_000_000), "backend-2": CpuReading(10.0, 1_500_000_000),
           "frontend-1": CpuReading(10.0, 1_000)}  # counter went back: restarted
    assert cpu_ms_per_request(start, end, GROUPS, c) == {"backend": 2.0, "total": 2.0}
    assert cpu_ms_per_request(start, {}, GROUPS, c) == {}
    # a window without a request in it (a reading taken before the load and another right after) has no figure
    assert cpu_ms_per_request({"backend-1": CpuReading(20.0, 0)}, {"backend-1": CpuReading(30.0, 5)}, GROUPS, c) == {}


def test_pod_keyed_readings_group_by_the_pod():
    c = clock((0.0, 0), (10.0, 100))
    start = {("backend-1", "backend"): CpuReading(0.0, 0)}
    end = {("backend-1", "backend"): CpuReading(10.0, 250_000_000)}
    assert cpu_ms_per_request(start, end, GROUPS, c) == {"backend": 2.5, "total": 2.5}


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-02T05:47:54Z", 1796190474.0),
    ("2026-12-02T05:47:54.123456789Z", 1796190474.123456),  # Docker's nanoseconds
    ("2026-12-02T05:47:54.5+00:00", 1796190474.5),
    ("0001-01-01T00:00:00Z", 7.0),  # Docker's zero time: unknown
    ("yesterday", 7.0), (None, 7.0), ("", 7.0),
])
def test_engine_timestamps(value, expected):
    assert timestamp(value, 7.0) == pytest.approx(expected)
