"""Preflight of the cluster tier on fake inputs: tools, Docker, reachability, node capacity."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.core.paths import REPO_ROOT
from harness.providers import ClusterSpec, Environment
from harness.providers import preflight as pf

REPO = REPO_ROOT
MINIKUBE = Environment("minikube", "minikube")


def test_missing_tools_each_come_with_how_to_install():
    problems = pf.check_tools(["docker", "kind", "kubectl"], which=lambda tool: None)
    text = "\n".join(map(str, problems))
    assert [p.what for p in problems] == ["docker not found on PATH", "kind not found on PATH", "kubectl not found on PATH"]
    assert "apt-get install docker.io" in text and "go install sigs.k8s.io/kind@" in text and "kubernetes.io/docs/tasks/tools" in text


def test_required_tools_per_provider():
    assert pf.required_tools(ClusterSpec("kind", "x")) == ["docker", "kind", "kubectl", "helm"]
    assert pf.required_tools(ClusterSpec("local", "todo-local")) == ["docker", "kubectl", "helm"]
    assert pf.required_tools(ClusterSpec("context", "minikube")) == ["docker", "kubectl", "helm", "minikube"]
    assert pf.required_tools(ClusterSpec("context", "kind-dev")) == ["docker", "kubectl", "helm", "kind"]
    assert pf.required_tools(ClusterSpec("context", "docker-desktop")) == ["docker", "kubectl", "helm"]
    assert pf.required_tools(ClusterSpec("context", "prod")) == ["docker", "kubectl", "helm"]


def test_preflight_cli_with_an_empty_path_names_every_missing_tool(tmp_path):
    """A real subprocess whose PATH holds nothing: kind, kubectl and docker are reported with hints."""
    result = subprocess.run([sys.executable, "-m", "harness.providers.preflight", "--cluster", "kind"],
                            env={**os.environ, "PATH": str(tmp_path), "HELM": ""}, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cluster tier preflight failed" in result.stderr
    for tool in ("docker", "kind", "kubectl"):
        assert f"{tool} not found on PATH" in result.stderr
    assert "minikube" not in result.stderr


def test_preflight_cli_rejects_an_unknown_cluster_value():
    result = subprocess.run([sys.executable, "-m", "harness.providers.preflight", "--cluster", "minikube"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "--cluster=context:NAME" in result.stderr


def test_docker_not_running_is_reported_with_the_start_command():
    def fake_run(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")

    [p] = pf.check_docker(run=fake_run)
    assert "not running" in p.what and "Cannot connect" in p.what and "ensure-docker.sh" in p.fix
    assert pf.check_docker(run=lambda argv, **kw: subprocess.CompletedProcess(argv, 0, "27.0", "")) == []

    def missing(argv, **kwargs):
        raise FileNotFoundError("docker")

    assert pf.check_docker(run=missing)


def test_unreachable_cluster_says_how_to_start_it():
    def refused():
        raise ConnectionRefusedError("connection refused")

    [p] = pf.check_reachable(refused, "minikube", MINIKUBE)
    assert "context minikube does not answer" in p.what and p.fix == "minikube start"
    [p] = pf.check_reachable(refused, "docker-desktop", Environment("docker-desktop"))
    assert "Enable Kubernetes" in p.fix
    assert pf.check_reachable(lambda: {"major": "1"}, "minikube", MINIKUBE) == []
    [p] = pf.check_reachable(refused, "todo-local", Environment("local", "todo-local"))
    assert p.fix == "make cluster-up"


def test_start_command_cli_tells_deploy_sh_how_to_start_each_kind_of_cluster():
    """``scripts/deploy.sh`` asks it for the fix of a cluster that does not answer."""
    for context, fix in (("minikube", "minikube start"), ("kind-dev", "kind create cluster --name dev"),
                         ("todo-local", "make cluster-up"), ("docker-desktop", "Enable Kubernetes"),
                         ("prod-eu", "kubectl config get-contexts")):
        result = subprocess.run([sys.executable, "-m", "harness.providers.preflight", "--start-command", context],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and fix in result.stdout, (context, result.stdout, result.stderr)


DEPLOYMENTS = [
    {"kind": "Deployment", "spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"resources": {"requests": {"cpu": "100m", "memory": "192Mi"}}}]}}}},
    {"kind": "Deployment", "spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}}},
    {"kind": "Service", "spec": {}},
]


def test_chart_requests_sum_requests_times_replicas():
    total = pf.chart_requests(DEPLOYMENTS)
    assert total.cpu == pytest.approx(0.7) and total.memory == 2 * (192 + 256) * 1024**2


def test_chart_requests_of_the_real_chart_fit_a_two_cpu_minikube():
    from harness.kube import render

    total = pf.chart_requests(render.installed(render.render([render.TEST_SECRETS_VALUES])))
    assert 0 < total.cpu < 2 and 0 < total.memory < 2 * 1024**3


def test_node_allocatable_below_the_chart_requests_gives_the_minikube_command():
    free = pf.allocatable_free([{"cpu": "1", "memory": "2Gi"}], [pf.Resources(0.75, 1024**3)])
    assert free == pf.Resources(0.25, 1024**3)
    [p] = pf.check_capacity(free, pf.chart_requests(DEPLOYMENTS), MINIKUBE)
    assert "CPU 0.25 free < 0.70 requested" in p.what
    assert "minikube delete && minikube start --cpus=2 --memory=2560" in p.fix
    assert pf.check_capacity(pf.Resources(4, 8 * 1024**3), pf.chart_requests(DEPLOYMENTS), MINIKUBE) == []


def test_memory_shortage_alone_is_reported():
    [p] = pf.check_capacity(pf.Resources(8, 512 * 1024**2), pf.Resources(0.5, 1024**3), Environment("docker-desktop"))
    assert "memory 512Mi free < 1024Mi requested" in p.what and "CPU" not in p.what
    assert "Docker Desktop → Settings → Resources" in p.fix


def test_preflight_error_lists_every_problem():
    error = pf.PreflightError([pf.Problem("a", "fix a"), pf.Problem("b", "fix b")])
    assert str(error) == "cluster tier preflight failed:\n  - a: fix a\n  - b: fix b"
