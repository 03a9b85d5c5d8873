"""Running mutants: each in a scratch copy, checked valid, then the tests that carry its IDs.

For every mutant:

1. a scratch copy of the tree (:mod:`harness.mutation.scratch`), the edit applied (a text edit
   must match exactly once; a values override becomes an extra values file put first by a
   ``helm`` wrapper);
2. validity: a chart mutant must still render with ``helm template``, an image mutant must still
   build when its tier builds images (else it is *invalid*: trivially caught, counted apart);
3. the tests that carry one of its spec IDs, in stages from the cheapest tier up to the mutant's
   own (static and docs, then image, runtime, cluster), each stage one pytest run with ``-x``,
   cheapest tests first, stopping at the first failure: *killed* (that test named), else
   *survived*; a stage past its time limit is a *timeout*.

Which tests carry which IDs comes from a baseline: the records of ``--results-json`` for the
same tiers on an unmutated copy. Only tests that passed there can kill (a test that already fails
proves nothing about the mutant); the baseline is kept in ``reports/`` per tree fingerprint.

Nothing outlives a mutant: the scratch copy is removed, the pytest process group is interrupted
(SIGINT, so fixture teardown removes namespaces, releases and containers) and killed if it
lingers, and images built for the mutant (``todo-*:mut-<id>``) are removed from Docker and from the
cluster they were loaded into.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.paths import REPO_ROOT
from harness.mutation import scratch
from harness.mutation.catalogue import OVERRIDE_DIR, EditError, Mutant, apply

# Stages a mutant of each tier runs, cheapest first: the test tiers (pytest markers) of each stage.
STAGES: dict[str, tuple[tuple[str, ...], ...]] = {
    "static": (("static", "docs"),),
    "docs": (("static", "docs"),),
    "image": (("static", "docs"), ("image",)),
    "runtime": (("static", "docs"), ("image",), ("runtime",)),
    "cluster": (("static", "docs"), ("image",), ("runtime",), ("cluster",)),
}
# A stage's time limit (seconds), by its most expensive tier.
TIMEOUTS = {"static": 300, "docs": 300, "image": 1800, "runtime": 1800, "cluster": 2400}
# Baselines that are run (cheap); heavier tiers' baselines are only collected (assumed passing).
RUN_BASELINE = frozenset({"static", "docs"})
INTERRUPT_GRACE_S = 60
# The cheap tiers need no third-party pytest plugin but pytest-timeout (the ini's `timeout`): not
# loading the others (hypothesis, schemathesis, pytest-kind) saves about 1.3 s of each pytest start.
LEAN_TIERS = frozenset({"static", "docs"})
LEAN_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
LEAN_ARGS = ("-p", "pytest_timeout")

KILLED, SURVIVED, TIMEOUT, INVALID, EQUIVALENT, NO_COVERAGE, ERROR = (
    "killed", "survived", "timeout", "invalid", "equivalent", "no coverage", "error")


@dataclass(frozen=True)
class Project:
    """What the runner needs to know about a tree (one object, passed everywhere)."""

    root: Path = REPO_ROOT
    test_root: str = "verification"
    chart: str = "chart/todo-chatbot"
    # Empty: the harness's per-run test credentials (harness.kube.render.TEST_SECRETS_VALUES).
    chart_values: tuple[str, ...] = ()
    kube_version: str = "1.33.0"
    reports: Path = REPO_ROOT / "reports"
    cluster: str | None = None  # --cluster=… for cluster stages
    fallback_path: Path | None = REPO_ROOT  # last on PYTHONPATH, for a tree without the harness


@dataclass
class Outcome:
    mutant: Mutant
    status: str
    killed_by: str = ""
    reason: str = ""
    tests: list[str] = field(default_factory=list)  # the tests selected (coveredBy)
    completed: int = 0
    seconds: float = 0.0
    validity: str = ""  # how it was found valid: "rendered", "built", "applied"


@dataclass
class TestInfo:
    nodeid: str
    ids: tuple[str, ...]
    tier: str | None
    seconds: float
    passed: bool


# --- processes: every pytest/helm/docker child is tracked so Ctrl-C can stop it -----------------
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` in its own process group; (exit code, output), exit code None on timeout."""
    if _stopping.is_set():
        raise KeyboardInterrupt
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    with _children_lock:
        _children.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        out, _ = proc.communicate()
        return None, out
    finally:
        with _children_lock:
            _children.discard(proc)


def _stop_group(proc: subprocess.Popen, grace: float = INTERRUPT_GRACE_S) -> None:
    """SIGINT the group (pytest then runs fixture teardown), SIGKILL it if it is still there."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_all() -> None:
    """Interrupt every running child (Ctrl-C of the runner)."""
    _stopping.set()
    with _children_lock:
        procs = list(_children)
    threads = [threading.Thread(target=_stop_group, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- the baseline: which test carries which IDs, how long it takes, whether it passes ------------
def baseline(project: Project, tiers: Iterable[str], *, refresh: bool = False,
             log: Callable[[str], None] = print) -> dict[str, TestInfo]:
    """The tests of ``tiers`` on an unmutated copy: run for the cheap tiers, collected for the rest.

    Cached in ``reports/mutation-baseline-<tiers>.json`` by the tree's file list and contents."""
    from verification.fingerprint import tree_fingerprint  # no pytest in it

    tiers = sorted(set(tiers))
    files = scratch.tree_files(project.root)
    key = json.dumps({"tree": tree_fingerprint(project.root, files), "tiers": tiers, "root": str(project.root)})
    cache = project.reports / f"mutation-baseline-{'-'.join(tiers)}.json"  # one per tier set: runs side by side
    if not refresh and cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return {n: TestInfo(**{**t, "ids": tuple(t["ids"])}) for n, t in saved["tests"].items()}
    tests: dict[str, TestInfo] = {}
    with scratch.scratch_copy(project.root, files) as copy:
        env = scratch.test_env(copy, _no_images_env(), project.fallback_path)
        scratch.check_imports(copy, env)
        for run, chosen in ((True, [t for t in tiers if t in RUN_BASELINE]),
                            (False, [t for t in tiers if t not in RUN_BASELINE])):
            if not chosen:
                continue
            started = time.monotonic()
            run_env = env | (LEAN_ENV if set(chosen) <= LEAN_TIERS else {})
            records = _pytest(project, copy, run_env, [project.test_root, "-m", " or ".join(chosen)],
                              collect_only=not run, timeout=1800)[1]
            mine = [r for r in records if r.get("tier") in chosen]
            log(f"baseline: {'ran' if run else 'collected'} {len(mine)} tests of {', '.join(chosen)} "
                f"in {time.monotonic() - started:.0f} s")
            for r in records:
                if r.get("tier") in chosen and r.get("ids"):
                    passed = (r["outcome"] == "passed") if run else r["outcome"] in ("not run", "passed")
                    tests[r["nodeid"]] = TestInfo(r["nodeid"], tuple(r["ids"]), r["tier"], r["duration_s"], passed)
            if failing := [n for n, t in tests.items() if t.tier in chosen and not t.passed and run]:
                log(f"baseline: {len(failing)} test(s) do not pass on the unmutated tree and cannot kill: "
                    + ", ".join(failing[:5]) + (" …" if len(failing) > 5 else ""))
    project.reports.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "tests": {n: t.__dict__ | {"ids": list(t.ids)}
                                                       for n, t in tests.items()}}, indent=1))
    return tests


def _pytest(project: Project, copy: Path, env: dict[str, str], args: list[str], *, collect_only: bool = False,
            timeout: float, exit_first: bool = False) -> tuple[int | None, list[dict[str, Any]], str]:
    """One pytest run in ``copy``: (exit code or None on timeout, its result records, its output)."""
    out = copy / OVERRIDE_DIR / f"results-{time.monotonic_ns()}.json"
    out.parent.mkdir(exist_ok=True)
    lean = env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") == "1"
    argv = [scratch.python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", *(LEAN_ARGS if lean else ()),
            "--rootdir", str(copy),
            f"--results-json={out}", *(["--collect-only"] if collect_only else []), *(["-x"] if exit_first else []),
            *([f"--cluster={project.cluster}"] if project.cluster else []), *args]
    code, text = _run(argv, cwd=copy, env=env, timeout=timeout)
    records = json.loads(out.read_text())["records"] if out.is_file() else []
    return code, records, text


def select(mutant: Mutant, tests: dict[str, TestInfo], tiers: tuple[str, ...], first: str = "") -> list[str]:
    """The test functions of ``tiers`` with a passing baseline test that carries one of the
    mutant's IDs, cheapest first.

    Whole functions, not single parameter sets: a mutant of a file a test is parametrized from
    (the docs' commands, the chart's values files) changes the parameter ids. Cheapest by module
    first, then by function: a module's session fixtures (the scanners' runs) are paid by whichever
    of its tests runs first, so a test's own duration understates it. ``first``: the test that
    killed this mutant last time (PIT's history), tried before the others."""
    chosen = [t for t in tests.values() if t.tier in tiers and t.passed and set(t.ids) & set(mutant.ids)]
    module_cost: dict[str, float] = {}
    function_cost: dict[str, float] = {}
    for t in tests.values():
        module_cost[t.nodeid.split("::")[0]] = module_cost.get(t.nodeid.split("::")[0], 0.0) + t.seconds
        function_cost[_function(t.nodeid)] = function_cost.get(_function(t.nodeid), 0.0) + t.seconds
    functions = dict.fromkeys(_function(t.nodeid) for t in chosen)
    return sorted(functions, key=lambda f: (f != _function(first), module_cost[f.split("::")[0]], function_cost[f], f))


def _function(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


# --- one mutant -----------------------------------------------------------------------------------
def run_mutant(mutant: Mutant, project: Project, tests: dict[str, TestInfo], *, build_images: bool = True,
               first: str = "") -> Outcome:
    started = time.monotonic()
    if mutant.equivalent:
        return Outcome(mutant, EQUIVALENT, reason=mutant.equivalent)
    tag = "mut-" + re.sub(r"[^a-z0-9-]", "-", mutant.id.lower())[:100]
    built: list[str] = []
    try:
        with scratch.scratch_copy(project.root) as copy:
            outcome = _in_copy(mutant, project, tests, copy, tag, built, build_images, first)
    except EditError as exc:
        outcome = Outcome(mutant, ERROR, reason=str(exc))
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:  # the runner's own failure
        outcome = Outcome(mutant, ERROR, reason=f"{type(exc).__name__}: {exc}")
    finally:
        _remove_images(built, project.cluster)
    outcome.seconds = time.monotonic() - started
    return outcome


def _in_copy(mutant: Mutant, project: Project, tests: dict[str, TestInfo], copy: Path, tag: str,
             built: list[str], build_images: bool, first: str = "") -> Outcome:
    from harness.kube.helm import find_helm

    apply(mutant, copy)
    extra: dict[str, str] = {}
    override = copy / OVERRIDE_DIR / "values-mutant.yaml"
    if override.is_file():
        extra["HELM"] = str(scratch.helm_wrapper(copy, find_helm(), [override]))
    validity = "applied"
    if mutant.touches_chart:
        problem = _render_problem(project, copy, extra)
        if problem:
            return Outcome(mutant, INVALID, reason=f"helm template fails: {problem}", validity="render")
        validity = "rendered"
    stages = STAGES[mutant.tier]
    heavy = any(t in ("image", "runtime", "cluster") for stage in stages for t in stage)
    if mutant.touches_images and heavy and build_images:
        problem = _build_problem(copy, tag, built)
        if problem:
            return Outcome(mutant, INVALID, reason=f"docker build fails: {problem}", validity="build")
        validity = "built"
    selected: list[str] = []
    completed = 0
    for stage in stages:
        nodeids = select(mutant, tests, stage, first)
        if not nodeids:
            continue
        selected += nodeids
        env = scratch.test_env(copy, {**extra, **_stage_env(mutant, stage, copy, tag, extra, bool(built))},
                               project.fallback_path)
        timeout = max(TIMEOUTS[t] for t in stage)
        stage_started = time.time()
        try:
            code, records, text = _pytest(project, copy, env, nodeids, timeout=timeout, exit_first=True)
        finally:
            if "cluster" in stage and project.cluster:
                sweep_escaped(project.cluster, stage_started)
        completed += sum(1 for r in records if r["outcome"] in ("passed", "failed"))
        if code is None:
            return Outcome(mutant, TIMEOUT, reason=f"{'/'.join(stage)} tests passed {timeout} s", tests=selected,
                           completed=completed, validity=validity)
        if failed := [r for r in records if r["outcome"] == "failed"]:
            return Outcome(mutant, KILLED, failed[0]["nodeid"], failed[0]["reason"], selected, completed,
                           validity=validity)
        if code not in (0, 5):
            return Outcome(mutant, ERROR, reason=f"pytest exited {code}: {_tail(text)}", tests=selected,
                           completed=completed, validity=validity)
    if not selected:
        return Outcome(mutant, NO_COVERAGE, reason=f"no passing test of tiers {stages} carries {list(mutant.ids)}",
                       validity=validity)
    return Outcome(mutant, SURVIVED, reason=f"{completed} test(s) passed", tests=selected, completed=completed,
                   validity=validity)


def _stage_env(mutant: Mutant, stage: tuple[str, ...], copy: Path, tag: str, extra: dict[str, str],
               built: bool = False) -> dict[str, str]:
    """Image, runtime and cluster stages: a mutant of the images gets its own tag (never the shared
    one), and the chart is pointed at it through the helm wrapper; any other mutant reuses the
    images as they are (SKIP_IMAGE_BUILD=1: nothing is built or re-tagged). Images the validity
    check built under the mutant's tag are used as they are too."""
    if set(stage) <= LEAN_TIERS:
        return _no_images_env() | LEAN_ENV
    if not mutant.touches_images:
        return {"SKIP_IMAGE_BUILD": "1"}
    from harness.kube.helm import find_helm

    tag_file = copy / OVERRIDE_DIR / "values-image-tag.yaml"
    tag_file.parent.mkdir(exist_ok=True)
    tag_file.write_text(f"backend:\n  image:\n    tag: {tag}\nfrontend:\n  image:\n    tag: {tag}\n")
    files = [tag_file] + ([copy / OVERRIDE_DIR / "values-mutant.yaml"] if "HELM" in extra else [])
    return {"IMAGE_TAG": tag, "HELM": str(scratch.helm_wrapper(copy, find_helm(), files)),
            **({"SKIP_IMAGE_BUILD": "1"} if built else {})}


# Kinds a chart mutant may put outside the namespace the test gave its release.
SWEPT_KINDS = "deployments,services,configmaps,secrets,serviceaccounts,poddisruptionbudgets,networkpolicies,ingresses,pods"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"


def sweep_escaped(cluster_option: str, since: float, log: Callable[[str], None] = print) -> list[str]:
    """Delete what a mutant's release left outside its namespace: objects created since ``since``
    whose Helm release namespace is not their own and no longer exists (the test's teardown
    deleted it, so nothing else owns them). A mutant that hard-codes ``namespace: default``
    would otherwise leave its Deployments in the shared cluster."""
    import datetime as dt

    from harness.providers import make_provider

    _, provider = make_provider(cluster_option)
    kubeconfig, context = provider.kubeconfig, provider.context
    if not kubeconfig or not context:
        return []
    kubectl = ["kubectl", f"--kubeconfig={kubeconfig}", f"--context={context}"]
    listed = subprocess.run([*kubectl, "get", SWEPT_KINDS, "-A", "-o", "json"], capture_output=True, text=True,
                            timeout=60, check=False)
    spaces = subprocess.run([*kubectl, "get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"],
                            capture_output=True, text=True, timeout=60, check=False)
    if listed.returncode != 0 or spaces.returncode != 0:
        return []
    alive = set(spaces.stdout.split())
    removed = []
    for item in json.loads(listed.stdout).get("items", []):
        meta = item["metadata"]
        home = (meta.get("annotations") or {}).get(RELEASE_NAMESPACE)
        created = dt.datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00")).timestamp()
        if home and home != meta.get("namespace") and home not in alive and created >= since - 5:
            ref = f"{item['kind'].lower()}/{meta['name']}"
            subprocess.run([*kubectl, "-n", meta["namespace"], "delete", ref, "--wait=false"], capture_output=True,
                           timeout=60, check=False)
            removed.append(f"{meta['namespace']}/{ref}")
    if removed:
        log(f"mutate: removed what a release left outside its deleted namespace: {', '.join(removed)}")
    return removed


def _no_images_env() -> dict[str, str]:
    return {"SKIP_IMAGE_BUILD": "1"}


def _render_problem(project: Project, copy: Path, extra: dict[str, str]) -> str | None:
    from harness.kube.helm import find_helm

    helm = extra.get("HELM") or find_helm()
    argv = [helm, "template", "mutant", str(copy / project.chart), "--kube-version", project.kube_version]
    from harness.kube.render import TEST_SECRETS_VALUES

    for values in project.chart_values or (str(TEST_SECRETS_VALUES),):
        argv += ["-f", str(copy / values)]  # an absolute path stays itself
    code, text = _run(argv, cwd=copy, env=dict(os.environ), timeout=120)
    return None if code == 0 else _tail(text)


def _build_problem(copy: Path, tag: str, built: list[str]) -> str | None:
    """Build both images from the copy under ``tag`` (layer cache); the refs go into ``built``."""
    code = ("import sys\nfrom harness.images import build as b\n"
            "for name in b.APPS:\n    r = b.build(name, sys.argv[1])\n    print('BUILT', r.ref)\n")
    env = scratch.test_env(copy, {"IMAGE_TAG": tag})
    rc, text = _run([scratch.python(), "-c", code, tag], cwd=copy, env=env, timeout=1800)
    built += [line.split()[1] for line in text.splitlines() if line.startswith("BUILT ")]
    built += [f"{name}:{tag}" for name in ("todo-backend", "todo-frontend") if f"{name}:{tag}" not in built]
    return None if rc == 0 else _tail(text)


def _remove_images(refs: list[str], cluster_option: str | None = None) -> None:
    """The mutant's images, from the Docker engine and from the cluster its tests loaded them into."""
    if not refs:
        return
    from harness.core.docker import cli

    if cluster_option:
        from harness.providers import make_provider

        provider = make_provider(cluster_option)[1]
        for ref in refs:
            provider.remove_image(ref)
    subprocess.run([cli(), "image", "rm", "-f", *refs], capture_output=True, check=False, timeout=120)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])[:600]


# --- many mutants ---------------------------------------------------------------------------------
def run_all(mutants: list[Mutant], project: Project, tests: dict[str, TestInfo], *, workers: int = 2,
            build_images: bool = True, progress: Callable[[int, int, Outcome], None] | None = None,
            history: dict[str, str] | None = None) -> list[Outcome]:
    """Run ``mutants`` on ``workers`` threads (each a pytest process at a time); in catalogue order.
    ``history``: mutant id → the test that killed it last time, tried first."""
    history = history or {}
    outcomes: dict[str, Outcome] = {}
    total = len(mutants)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="mutant")
    try:
        futures = {pool.submit(run_mutant, m, project, tests, build_images=build_images, first=history.get(m.id, "")): m
                   for m in mutants}
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes[outcome.mutant.id] = outcome
            if progress:
                progress(done, total, outcome)
    except BaseException:
        stop_all()  # Ctrl-C or an error: interrupt the pytest runs (their teardown cleans up)
        pool.shutdown(wait=True, cancel_futures=True)
        scratch.remove_all()
        raise
    pool.shutdown(wait=True)
    return [outcomes[m.id] for m in mutants if m.id in outcomes]
