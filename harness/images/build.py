"""Building the two application images: the one place for that logic.

Used by ``make images`` / ``make base-images`` / ``make bench-images`` (through the
command line below), by the image tier's session fixture, and by the runtime tier.

* **Bases.** The Dockerfiles pin the official images through ``ARG`` defaults. When
  those can be pulled (or are present) they are used; otherwise the local bases from
  ``images/base/build.sh`` (Debian packages, no registry) are built if needed and
  passed as build args. ``BASE_IMAGES=official|local`` forces the choice. One line on
  stderr says which was chosen and why.
* **BuildKit** (``DOCKER_BUILDKIT=1``) with Debian's client (``/usr/bin/docker``) when
  present: the Dockerfiles use ``RUN --mount=type=secret``.
* **CA bundle.** ``CA_BUNDLE`` (default: the system bundle when it exists; set it empty
  to pass none) is handed in as the BuildKit secret ``ca`` for the install steps only.
* **Tags.** ``todo-backend:$IMAGE_TAG`` and ``todo-frontend:$IMAGE_TAG``; ``IMAGE_TAG``
  defaults to the chart's appVersion, else 0.1.0.

Command line::

    python -m harness.images build [backend] [frontend] [--tag T] [--no-cache]
    python -m harness.images bases [--mode official|local|auto]
    python -m harness.images bench [backend] [frontend] [--with-bases]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import contract
from harness.core import docker as docker_engine
from harness.core import processes
from harness.core.paths import CHART_FILE, IMAGES_DIR, REPO_ROOT
from harness.images import dockerfile

BASE_DIR = IMAGES_DIR / "base"
BASE_SCRIPT = BASE_DIR / "build.sh"
DEFAULT_TAG = "0.1.0"
DEFAULT_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# images/base/build.sh names its images under $BASE_PREFIX too: a branch that changes a base
# recipe can build its bases under another prefix without replacing the ones others use.
LOCAL_PREFIX = os.environ.get("BASE_PREFIX") or "localhost/todo-base"


@dataclass(frozen=True)
class App:
    name: str  # backend | frontend
    image: str  # repository name, from the contract
    # Dockerfile ARG naming a base image -> (local base recipe in images/base, its tag suffix)
    local_bases: dict[str, tuple[str, str]]
    # a file whose change counts as a "source-only change" (first that exists)
    source_files: tuple[str, ...] = ()

    @property
    def directory(self) -> Path:
        return IMAGES_DIR / self.name

    @property
    def dockerfile(self) -> Path:
        return self.directory / "Dockerfile"

    def ref(self, tag: str | None = None) -> str:
        return f"{self.image}:{tag or image_tag()}"

    def official_bases(self) -> dict[str, str]:
        parsed = dockerfile.parse(self.dockerfile)
        return {arg: default or "" for arg, default in parsed.base_args().items()}


APPS: dict[str, App] = {
    "backend": App(
        "backend",
        contract.BACKEND_IMAGE,
        {
            "PYTHON_IMAGE": ("python", "python:3.11-bookworm"),
            "PYTHON_RUNTIME_IMAGE": ("python-runtime", "python:3.11-bookworm-runtime"),
        },
        ("src/todo_api/__init__.py",),
    ),
    "frontend": App(
        "frontend",
        contract.FRONTEND_IMAGE,
        {
            "NODE_IMAGE": ("node", "node:{node}-bookworm"),
            "NODE_RUNTIME_IMAGE": ("node-runtime", "node:{node}-bookworm-runtime"),
        },
        ("src/app/layout.tsx", "app/layout.tsx", "src/app/page.tsx", "app/page.tsx"),
    ),
}
# The tests' PostgreSQL image, a base image like the others (harness.testkit.postgres chooses it).
LOCAL_POSTGRES = f"{LOCAL_PREFIX}/postgres:15-bookworm"
OFFICIAL_POSTGRES = "postgres:15.14-bookworm"


def node_version() -> str:
    """The Node.js version pinned by the frontend Dockerfile's official base (22.x.y); the
    local Node bases are built with the same one."""
    ref = dockerfile.parse(APPS["frontend"].dockerfile).global_args.get("NODE_IMAGE") or ""
    m = re.search(r":(\d+\.\d+\.\d+)", ref)
    if not m:
        raise ImageBuildError(f"images/frontend/Dockerfile: NODE_IMAGE={ref!r} pins no exact Node.js version")
    return m.group(1)


def local_base(suffix: str) -> str:
    """The local base image for a recipe suffix such as ``node:{node}-bookworm``."""
    return f"{LOCAL_PREFIX}/{suffix.format(node=node_version())}"


class ImageBuildError(RuntimeError):
    """A build failed; the message carries the command and the end of its log."""


# A step of `docker build --progress=plain` as it starts, and a cached one ("#7 [build 3/9] RUN …").
BUILD_STEP = re.compile(r"^#\d+ \[[^\]]+\] ")
BASE_STEP = re.compile(r"^base-images: ")  # images/base/build.sh's log()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the docker CLI ------------------------------------------------------------------
def docker_cli() -> str:
    """The docker client to build with (:func:`harness.core.docker.cli`)."""
    try:
        return docker_engine.cli()
    except docker_engine.NoDockerClient as exc:
        raise ImageBuildError(str(exc)) from exc


def docker(*args: str, check: bool = True, timeout: float | None = None, **kw) -> subprocess.CompletedProcess:
    return processes.run([docker_cli(), *args], check=check, timeout=timeout, **kw)


image_exists = docker_engine.image_exists


def image_size(ref: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())


def image_tag() -> str:
    if tag := os.environ.get("IMAGE_TAG", "").strip():
        return tag
    try:
        m = re.search(r'^appVersion:\s*"?([^"\s]+)"?', CHART_FILE.read_text(), re.MULTILINE)
        if m:
            return m.group(1)
    except OSError:
        pass
    return DEFAULT_TAG


def ca_bundle() -> str | None:
    """The CA bundle handed in as the BuildKit secret ``ca``, or None."""
    value = os.environ.get("CA_BUNDLE")
    if value is None:
        value = DEFAULT_CA_BUNDLE
    return value if value and Path(value).is_file() else None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def oci_build_args(tag: str) -> dict[str, str]:
    return {
        "OCI_SOURCE": os.environ.get("OCI_SOURCE") or _git("remote", "get-url", "origin") or f"file://{REPO_ROOT}",
        "OCI_VERSION": tag,
        "OCI_REVISION": os.environ.get("OCI_REVISION") or _git("rev-parse", "HEAD") or "unknown",
        "OCI_CREATED": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# --- base images -----------------------------------------------------------------------
@dataclass
class BaseChoice:
    mode: str  # official | local
    build_args: dict[str, dict[str, str]]  # app name -> ARG -> image
    reason: str
    postgres: str = OFFICIAL_POSTGRES

    def line(self) -> str:
        refs = sorted({ref for args in self.build_args.values() for ref in args.values()})
        return f"base images: {self.mode} ({', '.join(refs)}) - {self.reason}"


def _available(ref: str) -> str | None:
    """None when ``ref`` is present or could be pulled, else the first line of the error."""
    if image_exists(ref):
        return None
    try:
        out = docker("pull", "-q", ref, check=False, timeout=float(os.environ.get("PULL_TIMEOUT", "120")))
    except subprocess.TimeoutExpired:
        return f"docker pull {ref} timed out"
    if out.returncode == 0:
        return None
    lines = (out.stderr or out.stdout).strip().splitlines()
    return f"docker pull {ref}: {lines[-1] if lines else 'failed'}"


def build_local_bases(names: list[str], *, force: bool = False, env: dict[str, str] | None = None) -> None:
    """Run images/base/build.sh for ``names`` (cached by recipe hash; ``force`` rebuilds)."""
    run_env = os.environ | {"DOCKER": docker_cli(), "NODE_VERSION": node_version()} | (env or {})
    if force:
        run_env["FORCE"] = "1"
    cmd = [str(BASE_SCRIPT), *names]
    if os.geteuid() != 0 and shutil.which("sudo") and "minbase" in names:
        cmd = ["sudo", "-E", *cmd]
    # build.sh's own lines (debootstrap, npm fetches, each base built or reused) as they come.
    proc = processes.run_with_progress(cmd, label="base images", step=BASE_STEP.match, env=run_env, say=log)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-30:])
        raise ImageBuildError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")


_choices: dict[tuple[str, bool], BaseChoice] = {}


def choose_bases(mode: str | None = None, *, postgres: bool = False) -> BaseChoice:
    """Official bases when they can be had, local ones otherwise (``BASE_IMAGES`` forces)."""
    mode = (mode or os.environ.get("BASE_IMAGES") or "auto").strip().lower()
    if mode not in ("auto", "official", "local"):
        raise ImageBuildError(f"BASE_IMAGES={mode!r}: expected official, local or auto")
    key = (mode, postgres)
    if key in _choices:
        return _choices[key]
    official = {name: app.official_bases() for name, app in APPS.items()}
    reason = f"forced (BASE_IMAGES / --mode {mode})"
    if mode == "auto":
        wanted = sorted({ref for args in official.values() for ref in args.values()})
        if postgres:
            wanted.append(OFFICIAL_POSTGRES)
        problems = [p for ref in wanted if (p := _available(ref))]
        mode = "local" if problems else "official"
        reason = f"the official bases cannot be had ({problems[0]})" if problems else "the official bases are available"
    if mode == "official":
        choice = BaseChoice("official", official, reason)
    else:
        recipes = [recipe for app in APPS.values() for recipe, _ in app.local_bases.values()]
        if postgres:
            recipes.append("postgres")
        build_local_bases(list(dict.fromkeys(recipes)))
        local = {
            name: {arg: local_base(suffix) for arg, (_, suffix) in app.local_bases.items()}
            for name, app in APPS.items()
        }
        choice = BaseChoice("local", local, reason, postgres=LOCAL_POSTGRES)
    log(choice.line())
    _choices[key] = choice
    return choice


# --- building --------------------------------------------------------------------------
@dataclass
class BuildResult:
    app: str
    ref: str
    seconds: float
    size: int
    base_mode: str
    log: str = field(repr=False, default="")


def build(
    name: str,
    tag: str | None = None,
    *,
    no_cache: bool = False,
    context: Path | None = None,
    bases: BaseChoice | None = None,
    extra_args: dict[str, str] | None = None,
) -> BuildResult:
    """Build one application image with BuildKit and return its ref, duration and size."""
    app = APPS[name]
    tag = tag or image_tag()
    ref = app.ref(tag)
    bases = bases or choose_bases()
    context = context or app.directory
    args = bases.build_args[name] | oci_build_args(tag) | (extra_args or {})
    cmd = [docker_cli(), "build", "--progress=plain", "-f", str(context / "Dockerfile"), "-t", ref]
    if no_cache:
        cmd.append("--no-cache")
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    if bundle := ca_bundle():
        cmd += ["--secret", f"id=ca,src={bundle}"]
    cmd.append(str(context))
    env = os.environ | {"DOCKER_BUILDKIT": "1"}
    previous = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False).stdout.strip()
    started = time.monotonic()
    # One line per BuildKit step as it starts ("#7 [build 3/9] RUN pip install …"), with the time so far.
    proc = processes.run_with_progress(cmd, label=f"build {ref}", step=BUILD_STEP.match, env=env, say=log)
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-40:])
        raise ImageBuildError(f"building {ref} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    current = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False).stdout.strip()
    if previous and previous != current:
        # the image this tag named before is now dangling; its layers stay in the cache
        docker("image", "rm", previous, check=False)
    return BuildResult(name, ref, seconds, image_size(ref), bases.mode, output)


def build_all(names: list[str] | None = None, tag: str | None = None, *, no_cache: bool = False) -> list[BuildResult]:
    """``make images``: the bases (and the tests' PostgreSQL image), then the app images."""
    bases = choose_bases(postgres=True)
    return [build(n, tag, no_cache=no_cache, bases=bases) for n in names or list(APPS)]


_built: dict[tuple[str, str], BuildResult] = {}


def ensure_images(tag: str | None = None, *, postgres: bool = True) -> dict[str, BuildResult]:
    """Both application images built (once per process, with the layer cache), plus the
    PostgreSQL image for the tests. Shared by the image and runtime tiers' fixtures.

    ``SKIP_IMAGE_BUILD=1`` trusts images that already exist under the tag (for example
    built by ``make images`` just before).
    """
    bases = choose_bases(postgres=postgres)
    return {name: ensure_image(name, tag, bases=bases) for name in APPS}


def ensure_image(name: str, tag: str | None = None, *, bases: BaseChoice | None = None) -> BuildResult:
    """One application image, built at most once per process."""
    tag = tag or image_tag()
    key = (name, tag)
    if key not in _built:
        app = APPS[name]
        bases = bases or choose_bases()
        if os.environ.get("SKIP_IMAGE_BUILD") == "1" and image_exists(app.ref(tag)):
            _built[key] = BuildResult(name, app.ref(tag), 0.0, image_size(app.ref(tag)), bases.mode)
        else:
            _built[key] = build(name, tag, bases=bases)
            log(f"images: built {_built[key].ref} in {_built[key].seconds:.0f} s ({_mb(_built[key].size)})")
    return _built[key]


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


# --- bench -----------------------------------------------------------------------------
BENCH_REPORT = REPO_ROOT / "reports" / "bench-images.json"
WARM_BUILD_TARGET_S = 30
# The project's own size target for each image built on the local bases (the spec's limits,
# contract.*_IMAGE_MAX_BYTES, are the requirement the image tier judges). The official slim
# bases alone weigh about as much, so it is not judged for images built on them.
IMAGE_SIZE_TARGET_BYTES = 150 * 1000**2


# Local build output: never copied into a bench's build context, never walked.
_NOT_CONTEXT = ("node_modules", ".next", ".git", "__pycache__", "*.egg-info", ".venv")


def recipe_fingerprint(name: str) -> str:
    """A hash of everything a cold build reads: the files of the app's build context (its
    .dockerignore applied: Dockerfile, lockfiles, build config such as next.config.ts, sources)
    with the Dockerfile and .dockerignore themselves, and the local base recipes it may build
    on (build.sh and images/base/<recipe>/).

    A bench report counts as evidence for the current images only while this matches: an edit
    to any of these can change a cold build's time or the image's size, while test files and
    local state (left out by .dockerignore) cannot.
    """
    import fnmatch
    import hashlib

    from harness.images.dockerignore import excluded, read_rules

    def local(name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in _NOT_CONTEXT)

    def context_files(root: Path) -> list[Path]:
        if root.is_file():
            return [root]
        rules = read_rules(root)
        found = [root / "Dockerfile", root / ".dockerignore"]
        for parent, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if not local(d)]  # never descend into node_modules
            for n in names:
                rel = (Path(parent) / n).relative_to(root).as_posix()
                if not local(n) and not excluded(rules, rel):
                    found.append(Path(parent) / n)
        return sorted({p for p in found if p.is_file()})

    app = APPS[name]
    digest = hashlib.sha256()
    for root in (app.directory, BASE_SCRIPT, *(BASE_DIR / recipe for recipe, _ in app.local_bases.values())):
        for path in context_files(root):
            digest.update(path.relative_to(IMAGES_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cold_build(name: str, bases: BaseChoice | None = None) -> BuildResult:
    """Build ``name`` without the layer cache from a copy of its context (tag ``:bench``)."""
    app = APPS[name]
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        ctx = Path(tmp) / name
        _copy_context(app, ctx)
        return build(name, "bench", no_cache=True, context=ctx, bases=bases or choose_bases())


def _copy_context(app: App, dest: Path) -> None:
    ignore = shutil.ignore_patterns(*_NOT_CONTEXT)
    shutil.copytree(app.directory, dest, ignore=ignore, symlinks=True)


def _touch_source(app: App, root: Path) -> Path:
    for rel in app.source_files:
        if (root / rel).is_file():
            path = root / rel
            break
    else:
        candidates = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".ts", ".tsx") and "test" not in str(p))
        if not candidates:
            raise ImageBuildError(f"no source file to change in {root}")
        path = candidates[0]
    comment = "#" if path.suffix == ".py" else "//"
    with path.open("a") as fh:
        fh.write(f"\n{comment} bench-images source-only change {time.time_ns()}\n")
    return path


def bench(names: list[str] | None = None, *, with_bases: bool = False) -> list[dict[str, object]]:
    """Cold build (no layer cache) and warm rebuild after a source-only change, per image."""
    rows: list[dict[str, object]] = []
    if with_bases:
        prefix = "localhost/todo-bench-base"
        started = time.monotonic()
        build_local_bases(["minbase", "python", "python-runtime", "node", "node-runtime"], force=True,
                          env={"BASE_PREFIX": prefix})
        seconds = time.monotonic() - started
        log(f"bench: local base images cold in {seconds:.0f} s")
        rows.append({"image": "local bases (cold)", "seconds": round(seconds, 1)})
        for suffix in ("debian:bookworm-minbase", "python:3.11-bookworm", "python:3.11-bookworm-runtime",
                       "node:{node}-bookworm", "node:{node}-bookworm-runtime"):
            docker("image", "rm", f"{prefix}/{suffix.format(node=node_version())}", check=False)
    bases = choose_bases()
    for name in names or list(APPS):
        app = APPS[name]
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            ctx = Path(tmp) / name
            _copy_context(app, ctx)
            cold = build(name, "bench", no_cache=True, context=ctx, bases=bases)
            cold_s = cold.seconds
            log(f"bench: {cold.ref} cold {cold.seconds:.0f} s, {_mb(cold.size)}")
            changed = _touch_source(app, ctx)
            warm = build(name, "bench", context=ctx, bases=bases)
            log(f"bench: {warm.ref} warm {warm.seconds:.0f} s after changing {changed.relative_to(ctx)}")
            if bases.mode == "local" and warm.size > IMAGE_SIZE_TARGET_BYTES:
                log(f"bench: {app.image} is {_mb(warm.size)}, over the {_mb(IMAGE_SIZE_TARGET_BYTES)} target")
        rows.append(
            {
                "image": app.image,
                "bases": bases.mode,
                "cold_s": round(cold_s, 1),
                "warm_s": round(warm.seconds, 1),
                "size_mb": round(warm.size / 1e6, 1),
                "cold_ok": cold_s < contract.IMAGE_COLD_BUILD_BUDGET_S,
                "warm_ok": warm.seconds < WARM_BUILD_TARGET_S,
                "size_ok": warm.size <= IMAGE_SIZE_TARGET_BYTES if bases.mode == "local" else None,
                "fingerprint": recipe_fingerprint(name),
                "when": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        docker("image", "rm", warm.ref, check=False)
    BENCH_REPORT.parent.mkdir(parents=True, exist_ok=True)
    BENCH_REPORT.write_text(json.dumps(rows, indent=2) + "\n")
    log(f"bench: figures written to {BENCH_REPORT.relative_to(REPO_ROOT)}")
    return rows


# --- command line ----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.images", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the application images")
    p_build.add_argument("apps", nargs="*", default=None)
    p_build.add_argument("--tag", default=None)
    p_build.add_argument("--no-cache", action="store_true")
    p_bases = sub.add_parser("bases", help="choose (and if needed build) the base images")
    p_bases.add_argument("--mode", default=None, choices=["auto", "official", "local"])
    p_bases.add_argument("--postgres", action="store_true", help="also the PostgreSQL image for the tests")
    p_bench = sub.add_parser("bench", help="cold and warm build times and sizes")
    p_bench.add_argument("apps", nargs="*", default=None)
    p_bench.add_argument("--with-bases", action="store_true", help="also time a cold build of the local bases")
    sub.add_parser("tag", help="print the image tag: $IMAGE_TAG, else the chart's appVersion")
    opts = parser.parse_args(argv)
    if bad := [a for a in getattr(opts, "apps", None) or [] if a not in APPS]:
        parser.error(f"unknown image(s) {bad}; known: {list(APPS)}")
    try:
        if opts.command == "tag":
            print(image_tag())
        elif opts.command == "bases":
            choose_bases(opts.mode, postgres=opts.postgres)
        elif opts.command == "build":
            results = build_all(opts.apps or None, opts.tag, no_cache=opts.no_cache)
            for result in results:
                print(f"{result.ref:32} {_mb(result.size):>8}   built in {result.seconds:.0f} s ({result.base_mode} bases)")
            pg = choose_bases(postgres=True).postgres
            if image_exists(pg):
                print(f"{pg:32} {_mb(image_size(pg)):>8}   (PostgreSQL for the runtime tier)")
        elif opts.command == "bench":
            rows = bench(opts.apps or None, with_bases=opts.with_bases)
            print("\nbench-images:")
            for row in rows:
                print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
