"""Where a load run points, and the two runs of a load verdict (SC-004, SC-010): the chart installed on
a cluster (``make load CLUSTER=…``, ``make bench-load CLUSTER=…``), or the Docker stack ``make up``
runs (without CLUSTER, ``--cluster=none``).

``python -m harness.deploy.load_target --cluster=local -- COMMAND …`` opens the cluster
(``harness.deploy.session``: the cluster tier's own code, so a cluster the harness starts is
stopped again), loads the images, installs the chart with a throwaway PostgreSQL
(``release.install_release``, as the cluster tier does), runs COMMAND with ``{url}`` replaced by the
frontend's address (its NodePort, else a port-forward) and the ``LOAD_*`` variables that tell
``load/budget_gate.py`` to sample the pods through the kubelet, then uninstalls, deletes the
namespace and closes the cluster, also after a failure or Ctrl-C. With ``--cluster=none``, COMMAND
runs against the stack ``make up`` started (``{url}`` is its UI address).

With ``--budget-run-time 70s`` (``make load``), COMMAND is the SC-004 run at the chart's default
limits, and a second, shorter run measures the budget (SC-010) with the limits lifted
(``load/_verdict.py``: a limit caps usage, so a run under limits proves nothing about the budget): on
the cluster, ``helm upgrade`` of the same release with every container's limit raised to the whole
budget (requests unchanged), waited until the new pods serve; on Docker, a throwaway stack rendered
with the same values. Both summaries are merged into the one ``summary.json`` of ``--results-dir``
(the budget run's own files in its ``budget/`` folder) and the exit code is the merged verdict.
Otherwise the exit code is COMMAND's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.contract import LOAD_USERS
from harness.core.paths import CHART_DIR, REPO_ROOT
from harness.deploy.release import COMPONENT_LABEL, Release, install_release, remove_release
from harness.deploy.session import ClusterSetupError, close_cluster, load_images, open_cluster
from harness.providers import NONE, ClusterChoice, choose_cluster

LOAD_PREFIX = "todo-load"
LOAD_DIR = REPO_ROOT / "load"
SPAWN_RATE = 10  # users a second, as load/locust.conf
BUDGET_DIR = "budget"  # the budget run's own files, under the results folder

Say = Callable[[str], None]


def _verdict_module() -> Any:
    """``load/_verdict.py`` (the load gate's judging; load/ is Locust's folder, not a package)."""
    if str(LOAD_DIR) not in sys.path:
        sys.path.insert(0, str(LOAD_DIR))
    import _verdict

    return _verdict


def lifted_set_values() -> dict[str, str]:
    """The chart values of the budget run: every container's limit raised to the whole budget."""
    return dict(_verdict_module().LIFTED_SET_VALUES)


def sampler_env(release: Release) -> dict[str, str]:
    """What ``load/budget_gate.py`` needs to sample the release's application pods (not PostgreSQL)."""
    target = release.cluster.target
    return {"LOAD_KUBE_NAMESPACE": release.namespace,
            "LOAD_KUBE_SELECTOR": f"{release.selector},{COMPONENT_LABEL} in (backend,frontend)",
            "LOAD_KUBECONFIG": str(target.kubeconfig), "LOAD_KUBE_CONTEXT": target.context}


def locust_argv(host: str, out: Path, *, run_time: str, users: int = LOAD_USERS, spawn_rate: int = SPAWN_RATE,
                budget_run: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """The scenario of ``load/`` with ``load/locust.conf``'s defaults, its reports in ``out`` (made here:
    Locust opens its CSV files there as the run starts)."""
    out.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "locust", "--config", str(LOAD_DIR / "locust.conf"), "-f", str(LOAD_DIR),
            "--host", host, "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", run_time,
            "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--results-dir", str(out),
            *(["--budget-run"] if budget_run else []), *extra]


def run_locust(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float | None = None,
               capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=REPO_ROOT, env={**os.environ, **(env or {})}, timeout=timeout,
                          capture_output=capture, text=True, check=False)


def seconds(run_time: str) -> int:
    """Locust's ``--run-time`` (``70s``, ``3m``, ``1m30s``, ``90``) in seconds."""
    total, number = 0, ""
    for char in run_time.strip():
        if char.isdigit():
            number += char
        elif char in "hms" and number:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
        else:
            raise ValueError(f"not a Locust run time: {run_time!r}")
    return total + int(number or 0)


# --- the budget run: the same scenario with the limits lifted ---------------------------------------------
def lift_limits(release: Release, say: Say = print) -> float:
    """``helm upgrade`` of ``release`` with every container's limit raised to the whole budget (its
    values file otherwise, so the same images and credentials), waited until the new pods are Ready,
    the old ones gone and the Services route to the new ones. Returns the seconds it took."""
    started = time.monotonic()
    sets = [f"--set={key}={value}" for key, value in lifted_set_values().items()]
    release.helm("upgrade", release.name, str(CHART_DIR), "-f", str(release.values_file), *sets)
    release.wait_rolled_out()
    release.wait_ready()
    took = time.monotonic() - started
    say(f"load: limits lifted for the budget run ({', '.join(sets)}): rolled out in {took:.0f} s")
    return took


def budget_run_on_release(release: Release, out: Path, run_time: str, say: Say = print,
                          capture: bool = False) -> subprocess.CompletedProcess:
    """Lift the release's limits, then the budget run against it (its reports in ``out``)."""
    lift_limits(release, say)
    with release.frontend_access() as url:  # a fresh port-forward if need be: the old pods are gone
        return run_locust(locust_argv(url, out, run_time=run_time, budget_run=True), env=sampler_env(release),
                          timeout=seconds(run_time) + 180, capture=capture)


def budget_run_on_docker(out: Path, run_time: str, say: Say = print,
                         capture: bool = False) -> subprocess.CompletedProcess:
    """The budget run against a throwaway Docker stack rendered with the limits lifted (only its
    containers sampled), removed after."""
    from harness.podrt.translate import LABEL_PREFIX
    from harness.stack import LocalStack

    started = time.monotonic()
    with LocalStack(set_values=lifted_set_values()) as stack:
        say(f"load: a stack with the limits lifted is up for the budget run ({time.monotonic() - started:.0f} s)")
        labels = f"{LABEL_PREFIX}/run={stack.runtime.run_id},{LABEL_PREFIX}/role=container"
        return run_locust(locust_argv(stack.ui_url, out, run_time=run_time, budget_run=True,
                                      extra=("--stack-label", labels)),
                          timeout=seconds(run_time) + 180, capture=capture)


# --- one summary ---------------------------------------------------------------------------------------
def read_summary(folder: Path) -> dict | None:
    path = folder / "summary.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def merge_runs(sc004_dir: Path, budget_dir: Path, out: Path) -> dict:
    """``out/summary.json``: the SC-004 run's summary and the budget run's merged (``load/_verdict.merge``)."""
    merged = _verdict_module().merge(read_summary(sc004_dir), read_summary(budget_dir))
    merged["budget"]["run_summary"] = str(budget_dir / "summary.json")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(merged, indent=2))
    return merged


def clear(folder: Path) -> None:
    """No summary left from an earlier run where this one writes (a run that writes none must fail)."""
    (folder / "summary.json").unlink(missing_ok=True)


def report(merged: dict, out: Path, say: Say = print) -> None:
    verdict = _verdict_module()
    say(f"load gate (both runs): {verdict.verdict(merged)}; summary: {out / 'summary.json'}")
    say(f"load budget: {merged['budget']['measured']}")


# --- where the load goes -----------------------------------------------------------------------------------
def chart_default_limits() -> dict[str, Any]:
    """``backend.limits`` of the chart's own values.yaml (the per-account caps and rates)."""
    import yaml

    return dict((yaml.safe_load((CHART_DIR / "values.yaml").read_text()) or {})["backend"]["limits"])


@contextmanager
def release_on_cluster(choice: ClusterChoice, say: Say = print) -> Iterator[Release]:
    """A fresh install of the chart on the cluster ``choice`` names, removed after (and the cluster
    closed, when the harness started it); a one-line error when ``auto`` found none."""
    if choice.option is None:
        raise ClusterSetupError(f"CLUSTER=auto: {choice.why}")
    cluster = open_cluster(choice, say=lambda text: say(f"load: {text}"))
    try:
        started = time.monotonic()
        images = load_images(cluster)
        with tempfile.TemporaryDirectory(prefix="todo-load-") as tmp:
            # The load run measures the chart as a user installs it: the per-account rates the
            # cluster tier lifts for its synthetic traffic user (release.TRAFFIC_RATES) stay the chart's.
            release = install_release(cluster, images, Path(tmp), prefix=LOAD_PREFIX,
                                      values={"backend": {"limits": chart_default_limits()}})
            say(f"load: chart installed in {release.namespace} ({time.monotonic() - started:.0f} s with the images)")
            try:
                yield release
            finally:
                remove_release(release)
    finally:
        close_cluster(cluster, say=say)


@contextmanager
def chart_on_cluster(choice: ClusterChoice, say: Say = print) -> Iterator[tuple[str, dict[str, str], Release]]:
    """(frontend URL, sampler environment, release) of a fresh install on the cluster ``choice`` names."""
    with release_on_cluster(choice, say) as release:
        access = release.frontend_access()
        with access as url:
            say(f"load: frontend at {url} ({access.via})")
            yield url, sampler_env(release), release


def stack_url() -> str:
    """The UI address of the stack ``make up`` started (``make load`` brings it up first)."""
    result = subprocess.run([sys.executable, "-m", "harness.stack", "url"], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise ClusterSetupError("the Docker stack is not up: run 'make up' first (make load does)")
    return result.stdout.strip()


def make_up_label() -> str:
    """The Docker labels of the ``make up`` stack's application containers (not another stack's: the
    runtime tier's may be running beside it)."""
    from harness.podrt.translate import LABEL_PREFIX
    from harness.stack import LABEL_OWNER, OWNER_MAKE_UP

    return f"{LABEL_OWNER}={OWNER_MAKE_UP},{LABEL_PREFIX}/role=container"


def _run_command(command: list[str], url: str, env: dict[str, str], say: Say) -> int:
    argv = [part.replace("{url}", url) for part in command]
    say(f"load: running {' '.join(argv)}")
    return subprocess.call(argv, cwd=REPO_ROOT, env={**os.environ, **env, "LOAD_HOST": url})


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True, help="auto, kind, local, context:NAME, or none (the Docker stack)")
    parser.add_argument("--budget-run-time", default="",
                        help="after COMMAND (the SC-004 run), measure the budget with the limits lifted for this "
                             "long (Locust's --run-time, e.g. 70s) and merge both runs' summaries")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "reports" / "load",
                        help="where COMMAND's load gate writes summary.json (load/locust.conf's; the merged one "
                             "goes there too)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS… ({url} is the frontend's URL)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --, e.g. -- locust --config load/locust.conf --host {url}")
    if args.budget_run_time:
        seconds(args.budget_run_time)  # refuse a malformed run time before anything is installed

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: the release and the cluster are still removed.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    results, budget_dir = args.results_dir, args.results_dir / BUDGET_DIR
    # The gate of COMMAND writes where --results-dir says (unless COMMAND names another folder itself).
    gate_env = {"LOAD_RESULTS_DIR": str(results)}
    if args.budget_run_time:
        clear(results)
        clear(budget_dir)
    try:
        if args.cluster == NONE:
            code = _run_command(command, stack_url(), {**gate_env, "LOAD_STACK_LABEL": make_up_label()}, say)
            if args.budget_run_time:
                budget_run_on_docker(budget_dir, args.budget_run_time, say)
        else:
            with release_on_cluster(choose_cluster(args.cluster), say) as release:
                access = release.frontend_access()
                with access as url:
                    say(f"load: frontend at {url} ({access.via})")
                    code = _run_command(command, url, {**sampler_env(release), **gate_env}, say)
                if args.budget_run_time:
                    budget_run_on_release(release, budget_dir, args.budget_run_time, say)
    except ClusterSetupError as exc:
        say(f"load: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    if args.budget_run_time:
        merged = merge_runs(results, budget_dir, results)
        report(merged, results, say)
        code = 0 if merged["passed"] else 1
    say(f"load: done in {time.monotonic() - started:.0f} s (cluster, install, run(s), uninstall)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
