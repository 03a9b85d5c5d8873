"""Preflight for the cluster tier: every missing prerequisite in one clear message (FR-038).

Checks, in the order a developer meets them: the tools (docker, kind or minikube, kubectl,
helm, each with how to install it), the Docker engine, the cluster answering, and the nodes'
allocatable CPU/memory against what the chart requests (EC-1, with the ``minikube start``
that fixes it). The checks are pure functions over their inputs so that they are unit-tested
with fake nodes and fake PATHs; :func:`main` runs them for ``--cluster`` values from a shell.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.kube.manifests import pod_spec
from harness.kube.quantities import parse_cpu, parse_memory
from harness.providers.commands import more_resources_command, start_command
from harness.providers.environment import Environment
from harness.providers.option import ClusterSpec, parse_cluster_option, provider_for
from harness.providers.provider import ClusterProvider
from harness.providers.registry import flavour_of_context, install_hint

INSTALL_HINTS = {
    "docker": "install Docker Desktop, or on Debian/Ubuntu 'sudo apt-get install docker.io' (scripts/ensure-docker.sh)",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/ (Debian: apt-get install kubectl)",
    "helm": "run 'make setup' (builds Helm 3 with Go via scripts/install-helm.sh) or install Helm 3",
}
# Room left on the node(s) for the control plane and system pods when sizing Minikube.
SYSTEM_RESERVE_CPU = 1.0
SYSTEM_RESERVE_MEMORY = 1536 * 1024**2


class PreflightError(RuntimeError):
    """One or more prerequisites are missing; the message lists each with its fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("cluster tier preflight failed:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


@dataclass(frozen=True)
class Resources:
    cpu: float = 0.0  # cores
    memory: int = 0  # bytes

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory)


# --- tools -----------------------------------------------------------------------------------------


def required_tools(spec: ClusterSpec) -> list[str]:
    """Every provider needs Docker: the cluster tier builds (or reuses) the images there first."""
    return provider_for(spec).required_tools()


def check_tools(tools: Iterable[str], which: Callable[[str], str | None] = shutil.which) -> list[Problem]:
    problems = []
    for tool in tools:
        if tool == "helm":
            from harness.kube.helm import HelmNotFound, find_helm

            try:
                find_helm()
                continue
            except HelmNotFound:
                pass
        elif which(tool):
            continue
        problems.append(Problem(f"{tool} not found on PATH", INSTALL_HINTS.get(tool) or install_hint(tool)))
    return problems


def check_docker(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[Problem]:
    try:
        result = run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                     timeout=20, check=False)
        ok, detail = result.returncode == 0, (result.stderr or result.stdout).strip().splitlines()[-1:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        ok, detail = False, [str(exc)]
    if ok:
        return []
    return [Problem(
        f"the Docker engine is not running ({' '.join(detail) or 'no answer'})",
        "start Docker Desktop, or 'scripts/ensure-docker.sh' (Linux: 'sudo systemctl start docker')",
    )]


def check_reachable(version: Callable[[], object], context: str, env: Environment) -> list[Problem]:
    try:
        version()
        return []
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return [Problem(f"cluster of context {context} does not answer ({type(exc).__name__}: {exc})",
                        start_command(env))]


# --- capacity (EC-1) ----------------------------------------------------------------------------------


def chart_requests(manifests: Iterable[Mapping]) -> Resources:
    """Sum of the CPU/memory requests of every workload's pod template × its replicas."""
    total = Resources()
    for doc in manifests:
        if not doc or doc.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        spec = doc.get("spec") or {}
        replicas = spec.get("replicas", 1) if doc["kind"] != "DaemonSet" else 1
        pod = pod_spec(doc) or {}
        for container in pod.get("containers") or []:  # init containers run before, not beside
            requests = (container.get("resources") or {}).get("requests") or {}
            total += Resources(parse_cpu(requests.get("cpu")) * replicas, parse_memory(requests.get("memory")) * replicas)
    return total


def allocatable_free(nodes: Iterable[Mapping[str, str]], requested: Iterable[Resources] = ()) -> Resources:
    """Allocatable of all schedulable nodes, less what running pods already request."""
    total = Resources()
    for alloc in nodes:
        total += Resources(parse_cpu(alloc.get("cpu")), parse_memory(alloc.get("memory")))
    for used in requested:
        total = Resources(total.cpu - used.cpu, total.memory - used.memory)
    return total


def check_capacity(free: Resources, needed: Resources, env: Environment) -> list[Problem]:
    short = []
    if free.cpu < needed.cpu:
        short.append(f"CPU {free.cpu:.2f} free < {needed.cpu:.2f} requested")
    if free.memory < needed.memory:
        short.append(f"memory {free.memory / 1024**2:.0f}Mi free < {needed.memory / 1024**2:.0f}Mi requested")
    if not short:
        return []
    cpus = max(2, math.ceil(needed.cpu + SYSTEM_RESERVE_CPU))
    memory_mib = max(2048, math.ceil((needed.memory + SYSTEM_RESERVE_MEMORY) / 1024**2 / 512) * 512)
    return [Problem(
        "the cluster's nodes have too little room for the chart (" + "; ".join(short) + ")",
        more_resources_command(env, cpus=cpus, memory_mib=memory_mib),
    )]


def node_facts(core: object) -> tuple[list[dict[str, str]], list[Resources], dict[str, str]]:
    """(allocatable per schedulable node, requests of pods running there, labels of the first node)."""
    nodes = [n for n in core.list_node().items if not n.spec.unschedulable]
    allocatable = [dict(n.status.allocatable or {}) for n in nodes]
    names = {n.metadata.name for n in nodes}
    used = []
    for pod in core.list_pod_for_all_namespaces(field_selector="status.phase=Running").items:
        if pod.spec.node_name in names:
            for c in pod.spec.containers:
                req = (c.resources.requests if c.resources else None) or {}
                used.append(Resources(parse_cpu(req.get("cpu")), parse_memory(req.get("memory"))))
    labels = dict(nodes[0].metadata.labels or {}) if nodes else {}
    return allocatable, used, labels


def run(provider: ClusterProvider, which: Callable[[str], str | None] = shutil.which) -> None:
    """The checks that need no cluster: tools, then the Docker engine where the provider needs it,
    then the provider's own (what the local cluster needs to be built and run)."""
    tools = provider.required_tools()
    problems = check_tools(tools, which)
    if "docker" in tools and not any(p.what.startswith("docker ") for p in problems):
        problems += check_docker()
    problems += [Problem(what, fix) for what, fix in provider.preflight_problems()]
    if problems:
        raise PreflightError(problems)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.providers.preflight",
                                     description="Check the cluster tier's prerequisites (tools, Docker).")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--cluster", help="kind | local | context:NAME")
    what.add_argument("--start-command", metavar="CONTEXT",
                      help="print how to start the cluster of a kubeconfig context that does not answer "
                           "(scripts/deploy.sh's message)")
    args = parser.parse_args(argv)
    if args.start_command:
        print(start_command(flavour_of_context(args.start_command)))
        return 0
    try:
        run(provider_for(parse_cluster_option(args.cluster)))
    except (PreflightError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print("preflight: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
