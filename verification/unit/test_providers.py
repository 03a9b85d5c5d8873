"""--cluster parsing, provider flavours, image loading, namespaces and the explicit target."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.core.paths import REPO_ROOT
from harness.deploy.namespaces import namespace_name
from harness.deploy.target import Target
from harness.providers import (
    ClusterOptionError,
    ClusterSpec,
    Environment,
    choose_automatically,
    flavour_of_context,
    image_load_argv,
    parse_cluster_option,
)

REPO = REPO_ROOT


@pytest.mark.parametrize("value, spec", [
    ("kind", ClusterSpec("kind", "todo-verify")),
    ("kind:ci-1", ClusterSpec("kind", "ci-1")),
    ("context:minikube", ClusterSpec("context", "minikube")),
    ("context:docker-desktop", ClusterSpec("context", "docker-desktop")),
    ("context:arn:aws:eks:eu-west-1:1:cluster/x", ClusterSpec("context", "arn:aws:eks:eu-west-1:1:cluster/x")),
])
def test_parse_cluster_option(value, spec):
    assert parse_cluster_option(value) == spec


@pytest.mark.parametrize("value", ["", "minikube", "context:", "context", "kind:Bad_Name", "docker-desktop"])
def test_bad_cluster_values_show_the_accepted_forms(value):
    with pytest.raises(ClusterOptionError, match="--cluster="):
        parse_cluster_option(value)


def test_flavour_from_context_name_and_node_labels():
    assert flavour_of_context("minikube") == Environment("minikube", "minikube")
    assert flavour_of_context("dev", {"minikube.k8s.io/name": "dev"}) == Environment("minikube", "dev")
    assert flavour_of_context("kind-todo") == Environment("kind", "todo")
    assert flavour_of_context("docker-desktop").provider == "docker-desktop"
    assert flavour_of_context("gke_x").provider == "unknown"


def test_image_load_command_per_provider():
    assert image_load_argv("todo-backend:0.1.0", Environment("kind", "t")) == [
        "kind", "load", "docker-image", "todo-backend:0.1.0", "--name", "t"]
    assert image_load_argv("todo-backend:0.1.0", Environment("minikube", "dev")) == [
        "minikube", "-p", "dev", "image", "load", "todo-backend:0.1.0"]
    assert image_load_argv("todo-backend:0.1.0", Environment("docker-desktop")) is None


def test_namespace_names_are_unique_dns_labels():
    names = {namespace_name("todo-verify") for _ in range(200)}
    assert len(names) == 200
    for name in names:
        assert len(name) <= 63 and name.startswith("todo-verify-")
        assert all(c.islower() or c.isdigit() or c == "-" for c in name)
    assert namespace_name("Todo_Verify!", suffix="abc") == "todo-verify-abc"


def test_target_always_names_kubeconfig_and_context(tmp_path):
    target = Target(tmp_path / "kubeconfig", "minikube")
    argv = target.kubectl_argv("get", "pods")
    assert argv[:3] == ["kubectl", f"--kubeconfig={tmp_path / 'kubeconfig'}", "--context=minikube"]
    helm = target.helm_argv("list")
    assert f"--kube-context=minikube" in helm and f"--kubeconfig={tmp_path / 'kubeconfig'}" in helm


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
clusters:
- {name: prod, cluster: {server: 'https://127.0.0.1:1'}}
- {name: mk, cluster: {server: 'https://127.0.0.1:2'}}
contexts:
- {name: prod, context: {cluster: prod, user: u}}
- {name: minikube, context: {cluster: mk, user: u}}
users:
- {name: u, user: {token: x}}
"""


def test_context_provider_uses_only_the_named_context(tmp_path):
    from harness.providers.context import ContextProvider

    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    provider = ContextProvider("minikube", str(path))
    provider.create()
    assert provider.environment == Environment("minikube", "minikube")
    client = Target(provider.kubeconfig, provider.context).api_client()
    assert client.configuration.host == "https://127.0.0.1:2"  # not the current context 'prod'
    with pytest.raises(LookupError, match="context 'docker-desktop' not found.*known: prod, minikube"):
        ContextProvider("docker-desktop", str(path)).create()


def test_kind_provider_keeps_its_kubeconfig_apart(tmp_path):
    from harness.providers.kind import KindProvider

    provider = KindProvider("todo-verify", keep=True, workdir=tmp_path)
    assert provider.context == "kind-todo-verify"
    assert provider.kubeconfig == (tmp_path / "todo-verify" / "kubeconfig").resolve()
    provider.close()  # never created: nothing to delete, no kind call


def test_cluster_tier_without_a_cluster_prints_one_clear_skip_reason():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "verification/cluster", "-m", "cluster", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "REQUIRE_TIERS": ""})
    assert result.returncode == 0, result.stdout[-2000:]
    skip_lines = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skip_lines) == 1, skip_lines
    assert "--cluster=auto" in skip_lines[0] and "--cluster=context:NAME" in skip_lines[0]


def test_context_provider_picks_the_kubeconfig_file_that_has_the_context(tmp_path, monkeypatch):
    from harness.providers.context import ContextProvider

    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text(KUBECONFIG.replace("name: minikube", "name: other"))
    second.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert ContextProvider("minikube").kubeconfig == second
    assert ContextProvider("absent").kubeconfig == first


# --- --cluster=auto (the Makefile's default) ------------------------------------------------------
ALL_TOOLS = lambda tool: f"/usr/bin/{tool}"  # noqa: E731 - a PATH that has every tool


@pytest.mark.harness
def test_auto_prefers_kind_when_kind_and_docker_are_here():
    chosen, why = choose_automatically(which=ALL_TOOLS, docker_answers=lambda: True, local_missing=lambda: [])
    assert chosen == "kind" and "throwaway kind cluster" in why


@pytest.mark.harness
def test_auto_takes_the_local_cluster_without_kind_or_without_docker():
    no_kind = lambda tool: None if tool == "kind" else f"/usr/bin/{tool}"  # noqa: E731
    assert choose_automatically(which=no_kind, docker_answers=lambda: True, local_missing=lambda: [])[0] == "local"
    assert choose_automatically(which=ALL_TOOLS, docker_answers=lambda: False, local_missing=lambda: [])[0] == "local"


@pytest.mark.harness
def test_auto_without_any_cluster_says_what_would_give_one():
    missing = [("the local cluster needs root", "run as root"), ("conntrack not found on PATH", "make setup")]
    chosen, why = choose_automatically(which=lambda tool: None, docker_answers=lambda: True,
                                       local_missing=lambda: missing)
    assert chosen is None
    assert "go install sigs.k8s.io/kind@" in why and "needs root (run as root)" in why and "conntrack" in why
    assert "CLUSTER=context:minikube" in why  # a context of the user's is only ever named, never picked


@pytest.mark.harness
def test_local_cluster_prerequisites_name_each_missing_piece():
    from harness.localk8s.prerequisites import HOST_TOOLS, missing_prerequisites

    assert [what for what, _ in missing_prerequisites(platform="darwin")] == ["the local cluster runs only on Linux"]
    problems = dict(missing_prerequisites(which=lambda tool: None, platform="linux", euid=1000))
    assert any("needs root" in what for what in problems)
    for tool in HOST_TOOLS:
        assert f"{tool} not found on PATH" in problems
    assert "apt-get install conntrack" in problems["conntrack not found on PATH"]


@pytest.mark.harness
def test_cluster_none_switches_the_tier_off_with_that_reason():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "verification/cluster/test_values_files.py", "--cluster=none", "-rs",
         "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "REQUIRE_TIERS": ""})
    assert result.returncode == 0, result.stdout[-2000:]
    assert "tier cluster skips: the cluster tier was switched off" in result.stdout
    assert all("switched off (--cluster=none" in line for line in result.stdout.splitlines() if line.startswith("SKIPPED"))
