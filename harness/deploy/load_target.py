"""Where a load run points: the chart installed on a cluster (``make load CLUSTER=…``,
``make bench-load CLUSTER=…``), or the Docker stack ``make up`` runs (without CLUSTER).

``python -m harness.deploy.load_target --cluster=local -- COMMAND …`` opens the cluster
(``harness.deploy.session``: the cluster tier's own code, so a cluster the harness starts is
stopped again), loads the images, installs the chart with a throwaway PostgreSQL
(``release.install_release``, as the cluster tier does), runs COMMAND with ``{url}`` replaced by the
frontend's address (its NodePort, else a port-forward) and the ``LOAD_*`` variables that tell
``load/budget_gate.py`` to sample the pods through the kubelet, then uninstalls, deletes the
namespace and closes the cluster, also after a failure or Ctrl-C. Exits with COMMAND's code.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.deploy.release import COMPONENT_LABEL, Release, install_release, remove_release
from harness.deploy.session import ClusterSetupError, close_cluster, load_images, open_cluster
from harness.providers import AUTO, choose_automatically

LOAD_PREFIX = "todo-load"


def sampler_env(release: Release) -> dict[str, str]:
    """What ``load/budget_gate.py`` needs to sample the release's application pods (not PostgreSQL)."""
    target = release.cluster.target
    return {"LOAD_KUBE_NAMESPACE": release.namespace,
            "LOAD_KUBE_SELECTOR": f"{release.selector},{COMPONENT_LABEL} in (backend,frontend)",
            "LOAD_KUBECONFIG": str(target.kubeconfig), "LOAD_KUBE_CONTEXT": target.context}


def resolve(option: str) -> str:
    """``auto`` → the cluster ``--cluster=auto`` would pick; a one-line error when there is none."""
    if option != AUTO:
        return option
    chosen, why = choose_automatically()
    if not chosen:
        raise ClusterSetupError(f"CLUSTER=auto: {why}")
    return chosen


@contextmanager
def chart_on_cluster(option: str, say=print) -> Iterator[tuple[str, dict[str, str], Release]]:
    """(frontend URL, sampler environment, release) of a fresh install on the cluster ``option`` names."""
    cluster = open_cluster(resolve(option), say=lambda text: say(f"load: {text}"))
    try:
        started = time.monotonic()
        images = load_images(cluster)
        with tempfile.TemporaryDirectory(prefix="todo-load-") as tmp:
            release = install_release(cluster, images, Path(tmp), prefix=LOAD_PREFIX)
            say(f"load: chart installed in {release.namespace} ({time.monotonic() - started:.0f} s with the images)")
            try:
                access = release.frontend_access()
                with access as url:
                    say(f"load: frontend at {url} ({access.via})")
                    yield url, sampler_env(release), release
            finally:
                remove_release(release)
    finally:
        close_cluster(cluster, say=say)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True, help="auto, kind, local or context:NAME")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS… ({url} is the frontend's URL)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --, e.g. -- locust --config load/locust.conf --host {url}")
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: the release and the cluster are still removed.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        with chart_on_cluster(args.cluster, say=lambda text: print(text, file=sys.stderr, flush=True)) as (url, env, _):
            argv = [part.replace("{url}", url) for part in command]
            print(f"load: running {' '.join(argv)}", file=sys.stderr, flush=True)
            code = subprocess.call(argv, cwd=REPO_ROOT, env={**os.environ, **env, "LOAD_HOST": url})
    except ClusterSetupError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"load: done in {time.monotonic() - started:.0f} s (cluster, install, run, uninstall)", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
