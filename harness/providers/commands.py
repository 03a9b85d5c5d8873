"""The commands that depend on the kind of cluster, asked of its :class:`~harness.providers.provider.Provider`
by :class:`Environment`: how a locally built image reaches the nodes (and leaves them), how a cluster
starts and gets more room. The providers run them, the diagnosis and the preflight print them, and
``scripts/deploy.sh`` asks for them::

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
from harness.providers.environment import Environment
from harness.providers.registry import flavour_of_context, provider_of

# How the text form names the interpreter for the local cluster's loader (run from the repository root).
PYTHON_IN_TEXT = ".venv/bin/python"


def image_load_argv(image: str, env: Environment, python: str | None = None) -> list[str] | None:
    """The command that makes a local ``image`` available to the cluster, or None when there is none
    (the cluster uses the Docker engine's images, or the image must come from a registry)."""
    return provider_of(env).image_load_argv(image, env.cluster, python or sys.executable)


def image_remove_argv(image: str, env: Environment, python: str | None = None) -> list[str] | None:
    """The command that removes ``image`` from the cluster's runtime after :func:`image_load_argv`
    loaded it (an image built for one run, such as a seeded defect's), or None where nothing was loaded."""
    return provider_of(env).image_remove_argv(image, env.cluster, python or sys.executable)


def image_load_command(image: str, env: Environment) -> str | None:
    """:func:`image_load_argv` as a command to type."""
    argv = image_load_argv(image, env, python=PYTHON_IN_TEXT)
    return None if argv is None else provider_of(env).typed(argv)


def image_load_advice(image: str, env: Environment) -> str:
    """What to do so that the cluster has ``image``, in words: the command, or why none is needed."""
    return provider_of(env).image_load_advice(image, image_load_command(image, env))


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
    """How the cluster gets room for pods that no node can take (EC-1)."""
    return provider_of(env).more_resources_command(env.cluster, cpus, memory_mib)


def start_command(env: Environment) -> str:
    """How to start (or create) the cluster of a context that does not answer (FR-038)."""
    return provider_of(env).start_command(env.cluster)


def nothing_to_load(env: Environment, context: str) -> str:
    """Why ``python -m harness.providers load`` loads nothing into the cluster of ``context``."""
    if provider_of(env).shares_docker_images:
        return f"the cluster of '{context}' shares the Docker engine's images: nothing to load"
    return f"make it available to '{context}' yourself (no registry is assumed)"


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
            print(f"{image}: {nothing_to_load(env, args.context)}")
            continue
        print(f"loading: {shlex.join(image_load_argv(image, env))}", flush=True)
        try:
            load_image(image, env)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            print(f"loading {image} into '{args.context}' failed: {detail.strip()}", file=sys.stderr)
            return 1
    return 0
