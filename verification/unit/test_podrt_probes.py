"""The kubelet stand-in's probe rules (harness/podrt/probes.py) with a fake container."""

from __future__ import annotations

import threading
import time

import pytest

from harness.core.wait import wait_for
from harness.podrt.pod import restart_delay
from harness.podrt.probes import ProbeRunner, run_probe
from harness.podrt.translate import ProbeSpec

pytestmark = pytest.mark.harness


def probe(kind: str, **kwargs) -> ProbeSpec:
    base = dict(kind=kind, action="httpGet", port=8000, path=f"/{kind}", period=0.05, timeout=0.5)
    base.update(kwargs)
    return ProbeSpec(**base)


class FakeContainer:
    def __init__(self) -> None:
        self.answers = {"startup": True, "liveness": True, "readiness": True}
        self.calls: list[str] = []
        self.ready_changes: list[bool] = []
        self.unhealthy: list[str] = []
        self.lock = threading.Lock()

    def probe(self, spec: ProbeSpec) -> tuple[bool, str]:
        with self.lock:
            self.calls.append(spec.kind)
            return self.answers[spec.kind], spec.kind


def runner(fake: FakeContainer, probes: dict[str, ProbeSpec]) -> ProbeRunner:
    return ProbeRunner("test", probes, fake.probe, on_ready_change=fake.ready_changes.append,
                       on_unhealthy=fake.unhealthy.append).start()


def test_runtime_readiness_waits_for_startup_and_follows_thresholds():
    fake = FakeContainer()
    fake.answers["startup"] = False
    r = runner(fake, {"startup": probe("startup", failure_threshold=1000), "readiness": probe("readiness",
                                                                                           failure_threshold=2)})
    try:
        time.sleep(0.4)
        assert not r.ready and "readiness" not in fake.calls  # gated by the startup probe
        fake.answers["startup"] = True
        wait_for(lambda: r.ready, what="Ready after startup succeeded", timeout=5)
        fake.answers["readiness"] = False
        wait_for(lambda: not r.ready, what="not Ready after failureThreshold failures", timeout=5)
        assert fake.ready_changes == [True, False]
        assert fake.unhealthy == []  # readiness failures never restart
    finally:
        r.stop()


def test_runtime_liveness_failures_reach_the_threshold_then_unhealthy_and_reset_starts_over():
    fake = FakeContainer()
    r = runner(fake, {"liveness": probe("liveness", failure_threshold=3), "readiness": probe("readiness")})
    try:
        wait_for(lambda: r.ready, what="Ready", timeout=5)
        fake.answers["liveness"] = False
        wait_for(lambda: fake.unhealthy, what="liveness to declare the container unhealthy", timeout=5)
        assert "liveness probe failed 3 times" in fake.unhealthy[0]
        assert not r.ready
        fake.answers["liveness"] = True
        r.reset()  # the caller restarted the container
        wait_for(lambda: r.ready, what="Ready again after the restart", timeout=5)
        assert len(fake.unhealthy) == 1
    finally:
        r.stop()


def test_runtime_initial_delay_is_respected():
    fake = FakeContainer()
    r = runner(fake, {"readiness": probe("readiness", initial_delay=0.5)})
    try:
        time.sleep(0.3)
        assert fake.calls == []
        wait_for(lambda: r.ready, what="Ready after the initial delay", timeout=5)
    finally:
        r.stop()


def test_runtime_without_readiness_probe_a_running_container_is_ready():
    fake = FakeContainer()
    r = runner(fake, {"liveness": probe("liveness")})
    try:
        assert r.ready
    finally:
        r.stop()


def test_runtime_http_probe_against_nothing_reports_the_connection_error():
    from harness.core.net import free_port

    port = free_port()
    ok, detail = run_probe(probe("readiness", port=8000), host="127.0.0.1", port_map=lambda p: port)
    assert not ok and "ConnectError" in detail and "/readiness" in detail


def test_runtime_restart_back_off_is_the_kubelets():
    assert [restart_delay(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 300]
