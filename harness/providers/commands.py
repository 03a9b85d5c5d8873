"""The commands that depend on the kind of cluster, in one place: how a locally built image reaches
the nodes, and how a cluster gets more room. The providers run them, the diagnosis and the preflight
print them, and ``scripts/deploy.sh`` asks for them::

    python -m harness.providers load-command --context CTX IMAGE...   # print the commands
    python -m harness.providers load --context CTX IMAGE...           # run them

Only the standard library is imported here (``scripts/deploy.sh`` runs it with any Python 3).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence

from harness.core.paths import REPO_ROOT
from harness.providers.environment import Environment, flavour_of_context

# How the text form names the interpreter for the local cluster's loader (run from the repository root).
PYTHON_IN_TEXT = ".venv/bin/python"
REPLICAS_DOWN = "--set backend.replicaCount=1 --set frontend.replicaCount=1"


def image_load_argv(image: str, env: Environment, python: str | None = None) -> list[str] | None:
    """The command that makes a local ``image`` available to the cluster, or None when there is none.

    kind: ``kind load docker-image``; Minikube: ``minikube image load``; the local cluster:
    ``python -m harness.localk8s load`` (``docker save | ctr images import`` into its containerd);
    None for Docker Desktop and the runtime tier (the cluster uses the Docker engine's images) and
    for an unknown cluster (the image must come from a registry it can pull from).
    """
    if env.provider == "kind":
        return ["kind", "load", "docker-image", image, "--name", env.cluster or "kind"]
    if env.provider == "minikube":
        return ["minikube", "-p", env.cluster or "minikube", "image", "load", image]
    if env.provider == "local":
        return [python or sys.executable, "-m", "harness.localk8s", "load", image]
    return None


def image_remove_argv(image: str, env: Environment, python: str | None = None) -> list[str] | None:
    """The command that removes ``image`` from the cluster's runtime after :func:`image_load_argv`
    loaded it (an image built for one run, such as a seeded defect's), or None where nothing was loaded."""
    if env.provider == "kind":
        return ["docker", "exec", f"{env.cluster or 'kind'}-control-plane", "crictl", "rmi", image]
    if env.provider == "minikube":
        return ["minikube", "-p", env.cluster or "minikube", "image", "rm", image]
    if env.provider == "local":
        return [python or sys.executable, "-m", "harness.localk8s", "unload", image]
    return None


def image_load_command(image: str, env: Environment) -> str | None:
    """:func:`image_load_argv` as a command to type (the default Minikube profile needs no ``-p``)."""
    argv = image_load_argv(image, env, python=PYTHON_IN_TEXT)
    if argv is None:
        return None
    if argv[:3] == ["minikube", "-p", "minikube"]:
        del argv[1:3]
    return shlex.join(argv)


def image_load_advice(image: str, env: Environment) -> str:
    """What to do so that the cluster has ``image``, in words: the command, or why none is needed."""
    if (command := image_load_command(image, env)) is not None:
        if env.provider == "local":
            return (f"{command} (from the repository's root: it copies the image from this machine's "
                    "Docker engine into the local cluster's containerd)")
        return command
    if env.provider in ("docker-desktop", "docker"):
        return (
            f"build it into the same Docker engine ('make images'; check with 'docker image inspect {image}'): "
            "that engine's images are the cluster's images"
        )
    kind = image_load_command(image, Environment("kind"))
    minikube = image_load_command(image, Environment("minikube", "minikube"))
    return (
        f"load {image} into the cluster's container runtime (kind: '{kind}', Minikube: '{minikube}') "
        "or push it to a registry the cluster can pull from"
    )


def load_image(image: str, env: Environment) -> list[str] | None:
    """Run :func:`image_load_argv` (from the repository root); returns what ran, None when nothing had to."""
    argv = image_load_argv(image, env)
    if argv is not None:
        subprocess.run(argv, check=True, capture_output=True, text=True, cwd=REPO_ROOT)
    return argv


def remove_image(image: str, env: Environment) -> None:
    """Run :func:`image_remove_argv`; an image that is already gone is not an error."""
    if (argv := image_remove_argv(image, env)) is not None:
        subprocess.run(argv, check=False, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def more_resources_command(env: Environment, cpus: int = 4, memory_mib: int = 6144) -> str:
    """How the cluster gets room for pods that no node can take (EC-1), per kind of cluster."""
    if env.provider == "minikube":
        profile = f" -p {env.cluster}" if env.cluster and env.cluster != "minikube" else ""
        return (
            f"minikube{profile} delete && minikube{profile} start --cpus={cpus} --memory={memory_mib} "
            f"(Minikube cannot resize an existing cluster), or lower the requests: {REPLICAS_DOWN}"
        )
    if env.provider == "docker-desktop":
        return (
            f"Docker Desktop → Settings → Resources: give it at least {cpus} CPUs and {memory_mib // 1024} GB, "
            "then Apply & restart; or lower the replica counts (--set backend.replicaCount=1)"
        )
    if env.provider == "kind":
        return (
            f"kind nodes share the Docker engine's CPUs and memory: give the engine at least {cpus} CPUs and "
            f"{memory_mib // 1024} GB, or lower the replica counts (--set backend.replicaCount=1)"
        )
    if env.provider == "local":
        return (
            "the local cluster's node is this machine, so its room is this machine's CPUs and memory, and the "
            "scheduler counts the requests of the pods already on it (not how busy the host is): delete pods "
            f"it no longer needs (leftover test namespaces: 'kubectl get pods -A'), lower the requests: "
            f"{REPLICAS_DOWN}, or run the cluster on a machine with at least {cpus} CPUs and "
            f"{memory_mib // 1024} GB"
        )
    return "add a node or capacity, or lower the requests/replica counts (--set backend.replicaCount=1)"


# --- `python -m harness.providers` ----------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.providers",
        description="The command that makes locally built images available to the cluster of a context.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, text in (("load-command", "print the load command of each image (nothing when none is needed)"),
                       ("load", "load each image into the cluster of the context")):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--context", required=True, help="kubeconfig context (minikube, kind-NAME, todo-local ...)")
        cmd.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    env = flavour_of_context(args.context)
    for image in args.images:
        command = image_load_command(image, env)
        if args.cmd == "load-command":
            if command is not None:
                print(command)
            continue
        if command is None:
            if env.provider == "docker-desktop":
                print(f"{image}: the cluster of '{args.context}' shares the Docker engine's images: nothing to load")
            else:
                print(f"{image}: make it available to '{args.context}' yourself (no registry is assumed)")
            continue
        print(f"loading: {shlex.join(image_load_argv(image, env))}", flush=True)
        try:
            load_image(image, env)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            print(f"loading {image} into '{args.context}' failed: {detail.strip()}", file=sys.stderr)
            return 1
    return 0
