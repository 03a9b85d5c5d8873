"""``--cluster=auto`` and ``--cluster=none`` (``CLUSTER=`` for make), decided in this one place for
the pytest plugin, ``make load`` and the acceptance run: :func:`choose_cluster`.

``auto`` is the best cluster this machine can have without touching the user's own: kind (a
throwaway cluster) when ``kind`` and a Docker engine are there, else the cluster built here from
sources when this machine can run it, else none. Named contexts (minikube, docker-desktop) are
never chosen: they are used only when asked for.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from harness.providers.option import ClusterSpec, parse_cluster_option

AUTO = "auto"
NONE = "none"


@dataclass(frozen=True)
class ClusterChoice:
    """What a ``--cluster`` value comes to: the cluster to use (``kind``, ``local``,
    ``context:NAME``; None: no cluster) and, when ``auto`` or ``none`` decided it, why."""

    option: str | None
    why: str | None = None

    @cached_property
    def spec(self) -> ClusterSpec:
        """The option parsed (once); :class:`~harness.providers.option.ClusterOptionError` when it
        names no cluster."""
        return parse_cluster_option(self.option or "")


def choose_cluster(value: str | None, none_said_as: str = "--cluster=none, CLUSTER=none") -> ClusterChoice:
    """``auto`` → :func:`choose_automatically`; ``none`` or no option → no cluster; anything else as
    named (a malformed value fails when :attr:`ClusterChoice.spec` is asked for, where it is used).
    ``none_said_as``: how the caller's user wrote ``none``, for the reason shown."""
    if value == AUTO:
        return ClusterChoice(*choose_automatically())
    if value == NONE:
        return ClusterChoice(None, f"the cluster tier was switched off ({none_said_as})")
    return ClusterChoice(value)


def choose_automatically(
    which: Callable[[str], str | None] = shutil.which,
    docker_answers: Callable[[], bool] | None = None,
    local_missing: Callable[[], list[tuple[str, str]]] | None = None,
) -> tuple[str | None, str]:
    """(the --cluster value ``auto`` stands for, or None; why: the choice, or what would give a cluster)."""
    if docker_answers is None:
        docker_answers = _docker_answers
    if local_missing is None:
        from harness.localk8s.prerequisites import missing_prerequisites as local_missing
    if which("kind") and docker_answers():
        return "kind", "kind and a Docker engine are here: a throwaway kind cluster"
    problems = local_missing()
    if not problems:
        return "local", "no kind here; this machine can build and run the local cluster"
    first = "; ".join(f"{what} ({fix})" for what, fix in problems[:3])
    return None, (f"no cluster to use: install kind ('go install sigs.k8s.io/kind@v0.33.0') with a Docker engine, "
                  f"or make the local cluster possible: {first}; or name one: make test CLUSTER=context:minikube")


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
