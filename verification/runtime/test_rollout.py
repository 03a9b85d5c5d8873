"""The application's half of SC-006: replacing pods one at a time drops no request.

Done the way the chart's RollingUpdate (maxSurge 1, maxUnavailable 0) does it: start a new
pod, wait until it is Ready, then delete an old one (it leaves the Service's endpoints,
runs preStop, gets SIGTERM and the chart's grace period). The cluster tier proves that the
Deployment controller really proceeds this way; here we prove the applications cooperate:
the backend finishes in-flight requests and the frontend's connections to it survive.
"""

from __future__ import annotations

import time

import pytest

from harness.podrt.translate import replica_spec
from harness.testkit import journey, traffic


@pytest.mark.requirement("SC-006", "FR-016")
def test_replacing_both_backend_replicas_one_at_a_time_under_a_continuous_client_fails_no_request(
        make_stack, record_property):
    stack = make_stack()  # 2 backend replicas, 1 frontend
    deployment = stack.deployment("backend")
    old_pods = stack.pods("backend")
    assert len(old_pods) == 2
    user = journey.register_and_login(stack.ui_url, prefix="rollout")
    journey.chat(user, "add check the rollout")
    url = user.tasks_url
    started = time.monotonic()
    with traffic.SteadyClient(url, headers=user.headers, max_seconds=240) as client:
        time.sleep(3)
        for old in old_pods:
            new = stack.runtime.run_pod(replica_spec(stack.objects, deployment))
            stack.runtime.wait_ready([new], timeout=120)
            stack.runtime.delete_pod(old)  # preStop sleep, SIGTERM, grace period
        time.sleep(3)
    elapsed = time.monotonic() - started
    assert {p.name for p in stack.pods("backend")}.isdisjoint({p.name for p in old_pods})
    assert all(p.ready for p in stack.pods("backend"))
    for old in old_pods:
        code = old.container().last_termination.exit_code
        assert code in (0, 143), f"{old.name} did not stop cleanly on SIGTERM (exit code {code})"
    record_property("evidence", f"rolling replacement of 2 backend pods in {elapsed:.0f} s: {client.summary()}")
    assert client.total > 50, client.summary()
    if client.failures():
        frontend_lines = [line for pod in stack.pods("frontend") for line in pod.logs().splitlines()
                          if "backend_unreachable" in line or "backend_error" in line]
        pytest.fail(
            f"requests failed while pods were replaced: {client.summary()}\n"
            f"frontend log lines about the backend: {frontend_lines[-5:]}\n"
            "'other side closed' means the frontend reused a keep-alive connection that the stopping backend "
            "had just closed (the HTTP/1.1 keep-alive race): the frontend's proxy should retry an idempotent "
            "request once on such a connection error",
            pytrace=False,
        )
