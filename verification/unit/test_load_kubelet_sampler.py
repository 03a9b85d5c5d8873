"""The cluster's load sampler (load/_kubelet.py) reads the kubelet's answers right: excerpts recorded
from the local cluster during `make load CLUSTER=local` (summary API, cAdvisor metrics, pod JSON),
trimmed, with a few entries added for the cases a single recording lacks (another namespace, a
container without figures yet, per-container CFS series)."""

from __future__ import annotations

import sys

import pytest

from harness.core.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "load"))  # locust loads load/ by path; its modules import each other so
from _kubelet import (  # noqa: E402
    Throttling,
    Usage,
    container_limits,
    deployment_of,
    limits_total,
    parse_cadvisor_throttling,
    parse_quantity,
    parse_summary,
    pod_state,
)

NS = "todo-load-ncrd6o"
BACKEND = "todo-todo-chatbot-backend-7c8b8f7f48-7tgpl"
FRONTEND = "todo-todo-chatbot-frontend-779649f467-vhs7c"

SUMMARY = {
    "node": {"nodeName": "todo-local", "cpu": {"usageCoreNanoSeconds": 9_000_000_000_000}},
    "pods": [
        {"podRef": {"name": BACKEND, "namespace": NS, "uid": "ce32c452-fa1a-4200-b9d6-2e16a1829c6d"},
         "containers": [{"name": "backend",
                         "cpu": {"time": "2026-12-02T05:47:54Z", "usageNanoCores": 10039788,
                                 "usageCoreNanoSeconds": 1656136240},
                         "memory": {"time": "2026-12-02T05:47:54Z", "usageBytes": 94928896,
                                    "workingSetBytes": 94928896, "rssBytes": 91533312}}],
         "cpu": {"usageNanoCores": 86796080, "usageCoreNanoSeconds": 1669677232},
         "memory": {"workingSetBytes": 95428608}},
        {"podRef": {"name": "postgres-57bbf4454c-cmphv", "namespace": NS},
         "containers": [{"name": "postgres", "cpu": {"usageCoreNanoSeconds": 5}, "memory": {"workingSetBytes": 7}}]},
        {"podRef": {"name": BACKEND, "namespace": "someone-else"},
         "containers": [{"name": "backend", "cpu": {"usageCoreNanoSeconds": 1}, "memory": {"workingSetBytes": 1}}]},
        # A container the kubelet has no figures for yet (just started): zeros, not a crash.
        {"podRef": {"name": FRONTEND, "namespace": NS}, "containers": [{"name": "frontend"}]},
    ],
}

CADVISOR = f"""\
# HELP container_cpu_cfs_periods_total Number of elapsed enforcement period intervals.
# TYPE container_cpu_cfs_periods_total counter
container_cpu_cfs_periods_total{{container="",id="/kubepods/burstable/podce32c452-fa1a-4200-b9d6-2e16a1829c6d",image="",name="",namespace="{NS}",pod="{BACKEND}"}} 115 1796190471282
container_cpu_cfs_periods_total{{container="",id="/kubepods/burstable/podce32c452-fa1a-4200-b9d6-2e16a1829c6d/64f45fadd95559fd6c3928e215faa815f91a20f961e11efaa940dcb475255cfa",image="",name="",namespace="",pod=""}} 102 1796190468880
# per-container series, as cAdvisor exports them where it knows the runtime: never counted twice
container_cpu_cfs_periods_total{{container="backend",id="/kubepods/burstable/podce32c452/abc",image="todo-backend:0.1.0",name="abc",namespace="{NS}",pod="{BACKEND}"}} 100 1796190468880
# HELP container_cpu_cfs_throttled_periods_total Number of throttled period intervals.
container_cpu_cfs_throttled_periods_total{{container="",id="/kubepods/burstable/podce32c452-fa1a-4200-b9d6-2e16a1829c6d",image="",name="",namespace="{NS}",pod="{BACKEND}"}} 2 1796190471282
container_cpu_cfs_throttled_seconds_total{{container="",id="/kubepods/burstable/podce32c452-fa1a-4200-b9d6-2e16a1829c6d",image="",name="",namespace="{NS}",pod="{BACKEND}"}} 0.041076613 1796190471282
container_cpu_cfs_periods_total{{container="",id="/kubepods/burstable/pod1",image="",name="",namespace="kube-system",pod="coredns-1"}} 9 1796190471282
container_cpu_usage_seconds_total{{container="",id="/kubepods/burstable/podce32c452",image="",name="",namespace="{NS}",pod="{BACKEND}"}} 1.6 1796190471282
"""


def pod(name: str, *, restarts: int = 0, last_reason: str | None = None, limits: dict | None = None) -> dict:
    """A pod as the API returns it (JSON, camelCase), trimmed to what the sampler reads."""
    last = {"terminated": {"reason": last_reason, "exitCode": 137}} if last_reason else {}
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": {"pod-template-hash": "7c8b8f7f48"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "todo-todo-chatbot-backend-7c8b8f7f48"}]},
        "spec": {"nodeName": "todo-local",
                 "containers": [{"name": "backend", "resources": {"limits": limits if limits is not None
                                                                  else {"cpu": "400m", "memory": "384Mi"}}}]},
        "status": {"containerStatuses": [{"name": "backend", "ready": True, "restartCount": restarts,
                                          "lastState": last}]},
    }


def test_summary_gives_the_named_pods_containers_only():
    usage = parse_summary(SUMMARY, NS, {BACKEND, FRONTEND})
    # The CPU figure's own time (cAdvisor's reading, 2026-12-02T05:47:54Z); "now" where it has none.
    assert usage == {(BACKEND, "backend"): Usage(1656136240, 10039788, 94928896, 1796190474.0),
                     (FRONTEND, "frontend"): Usage(0, 0, 0, 0.0)}
    assert parse_summary(SUMMARY, NS, {FRONTEND}, now=1796190480.5)[(FRONTEND, "frontend")].at == 1796190480.5


def test_throttling_comes_from_each_pods_own_cgroup():
    found = parse_cadvisor_throttling(CADVISOR, NS, {BACKEND})
    assert found == {BACKEND: Throttling(periods=115, throttled_periods=2, throttled_s=0.041076613)}
    assert parse_cadvisor_throttling(CADVISOR, NS, {"another-pod"}) == {}
    delta = Throttling(140, 12, 0.5) - found[BACKEND]
    assert (delta.periods, delta.throttled_periods) == (25, 10)


def test_restarts_and_oom_kills_come_from_the_pod_status():
    assert pod_state(pod("a")).restarts == 0 and pod_state(pod("a")).oom_kills == 0
    killed = pod_state(pod("a", restarts=2, last_reason="OOMKilled"))
    assert (killed.restarts, killed.oom_kills, killed.uid) == (2, 1, "uid-a")
    assert pod_state(pod("a", restarts=1, last_reason="Error")).oom_kills == 0
    assert pod_state({"metadata": {"uid": "x"}, "status": {}}).ready is False  # no status yet


def test_a_pod_belongs_to_its_replicasets_deployment():
    assert deployment_of(pod(BACKEND)) == "todo-todo-chatbot-backend"
    assert deployment_of({"metadata": {"name": "bare"}}) == "bare"


def test_limits_add_up_and_a_container_without_one_means_not_capped():
    pods = [pod("b1"), pod("b2"), pod("f1", limits={"cpu": "0.4", "memory": "320Mi"})]
    assert limits_total(pods) == {"cpu_cores": 1.2, "memory_bytes": (384 * 2 + 320) * 2**20}
    # the throwaway PostgreSQL as deployed by the harness: a memory limit only
    assert limits_total([*pods, pod("pg", limits={"memory": "512Mi"})]) is None
    assert parse_quantity("1Gi") == 2**30 and parse_quantity("250m") == 0.25 and parse_quantity("2") == 2
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("12 cores")


def test_each_containers_limits_are_read_from_the_live_pod_and_none_where_it_has_none():
    pods = [pod("b1"), pod("b2", limits={"cpu": "2", "memory": "2Gi"}), pod("b3", limits={"memory": "2048Mi"})]
    groups = {"b1": "todo-todo-chatbot-backend", "b2": "todo-todo-chatbot-backend", "b3": "todo-todo-chatbot-backend"}
    assert container_limits(pods, groups) == {
        "b1/backend": {"component": "backend", "cpu_cores": 0.4, "memory_bytes": 384 * 2**20},
        "b2/backend": {"component": "backend", "cpu_cores": 2.0, "memory_bytes": 2 * 2**30},
        "b3/backend": {"component": "backend", "cpu_cores": None, "memory_bytes": 2 * 2**30},
    }
