"""Static checks of the two Dockerfiles and their .dockerignore files (no Docker needed).

The image tier proves the same properties on the built images; these checks catch a
regression in seconds and point at the Dockerfile line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import contract
from harness.core.paths import IMAGES_DIR
from harness.images import dockerfile
from harness.images.build import APPS, LOCAL_PREFIX
from harness.images.dockerignore import excluded

PORTS = {"backend": contract.BACKEND_PORT, "frontend": contract.FRONTEND_PORT}
LOCKFILES = {"backend": "requirements.lock", "frontend": "package-lock.json"}
# The commands that install dependencies: they belong in build stages, with a lockfile.
INSTALL_COMMANDS = re.compile(r"\b(pip3? install|npm (ci|install|i)\b|yarn( install)?\b|pnpm i|apt-get install|apk add)")
OCI_LABELS = ("source", "version", "revision", "created")
CA_VARIABLES = ("PIP_CERT", "NODE_EXTRA_CA_CERTS", "NPM_CONFIG_CAFILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(scope="module", params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> str:
    if not APPS[request.param].dockerfile.is_file():
        pytest.fail(f"{APPS[request.param].dockerfile} is missing")
    return request.param


def parsed(app: str) -> dockerfile.Dockerfile:
    return dockerfile.parse(APPS[app].dockerfile)


def where(df: dockerfile.Dockerfile, ins: dockerfile.Instruction) -> str:
    return f"{df.path.relative_to(df.path.parents[2])}:{ins.line}"


@pytest.mark.requirement("FR-004", "SC-008")
def test_multi_stage_and_final_stage_copies_only_build_output(app: str) -> None:
    df = parsed(app)
    assert len(df.stages) >= 2, f"{df.path}: a single stage; build and run time must be separate stages (FR-004)"
    final = df.final
    problems = []
    for ins in final.all("RUN"):
        if INSTALL_COMMANDS.search(ins.args):
            problems.append(f"{where(df, ins)}: installs packages in the final stage: {ins.args[:80]}")
    copies = final.all("COPY") + final.all("ADD")
    for ins in copies:
        if "from" not in ins.flags:
            problems.append(f"{where(df, ins)}: copies from the build context into the final stage "
                            "(sources belong in a build stage; copy its output with --from)")
    assert any("from" in i.flags for i in copies), f"{df.path}: the final stage copies nothing from a build stage"
    # no whole build tree (sources, node_modules with dev dependencies) in the final stage
    for ins in copies:
        sources = ins.args.split()[:-1]
        for src in sources:
            if src.rstrip("/") in ("/src", ".", "/app") or src.rstrip("/").endswith("node_modules"):
                problems.append(f"{where(df, ins)}: copies a whole build tree ({src}) into the final stage")
    assert not problems, "\n".join(problems)


@pytest.mark.requirement("FR-005")
def test_base_images_are_pinned_official_defaults(app: str) -> None:
    df = parsed(app)
    problems = []
    for stage, ref in df.external_bases():
        if problem := dockerfile.pin_problem(ref):
            problems.append(f"{df.path.name}:{stage.line}: FROM {stage.base} -> {problem}")
        if ref.startswith(LOCAL_PREFIX):
            problems.append(f"{df.path.name}:{stage.line}: the default base {ref} is a local one; "
                            "the ARG default must be the official image (local bases are passed as build args)")
    for stage in df.stages:
        if "$" not in stage.base and stage.base not in df.stage_names() and stage.base != "scratch":
            problems.append(f"{df.path.name}:{stage.line}: FROM {stage.base} is not an ARG (offline builds cannot swap it)")
    for arg, default in df.base_args().items():
        if not default:
            problems.append(f"{df.path.name}: ARG {arg} has no default")
    assert not problems, "\n".join(problems)
    # the local equivalents exist as recipes, one per base ARG
    assert set(df.base_args()) == set(APPS[app].local_bases), (
        f"{df.path.name}: base ARGs {sorted(df.base_args())} do not match the local bases "
        f"known to harness/images/build.py {sorted(APPS[app].local_bases)}"
    )


@pytest.mark.requirement("FR-004", "FR-005")
def test_dependencies_installed_from_the_lockfile(app: str) -> None:
    df = parsed(app)
    lockfile = APPS[app].directory / LOCKFILES[app]
    assert lockfile.is_file(), f"{lockfile} is missing: dependencies must be pinned by a lockfile"
    runs = " ".join(i.args for s in df.stages for i in s.all("RUN"))
    if app == "backend":
        assert re.search(r"pip install[^;&]*-r requirements\.lock", runs), "pip must install from requirements.lock"
        pins = [line for line in lockfile.read_text().splitlines() if line and not line.startswith((" ", "#", "-"))]
        unpinned = [line for line in pins if "==" not in line]
        assert pins and not unpinned, f"requirements.lock has unpinned lines: {unpinned[:5]}"
    else:
        assert "npm ci" in runs, "npm ci (never npm install) installs exactly the lockfile"
        assert not re.search(r"npm (install|i)\b", runs), "npm install may change the lockfile; use npm ci"


@pytest.mark.requirement("FR-006", "FR-007")
def test_exposes_the_contract_port(app: str) -> None:
    df = parsed(app)
    exposed = {p.split("/")[0] for i in df.final.all("EXPOSE") for p in i.args.split()}
    assert exposed == {str(PORTS[app])}, f"{df.path}: EXPOSE {sorted(exposed)}, expected {PORTS[app]}"


@pytest.mark.requirement("FR-008")
def test_runs_as_numeric_non_root_user(app: str) -> None:
    df = parsed(app)
    users = df.final.all("USER")
    assert users, f"{df.path}: the final stage sets no USER (it would run as root)"
    user = users[-1].args.strip()
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"{where(df, users[-1])}: USER {user} is not numeric (Kubernetes runAsNonRoot needs a number)"
    assert int(uid) >= 10000, f"{where(df, users[-1])}: uid {uid} < 10000 (may collide with a host user)"
    assert int(uid) == contract.APP_UID, f"uid {uid} differs from the chart's runAsUser {contract.APP_UID}"
    assert gid and int(gid) == contract.APP_GID, f"{where(df, users[-1])}: USER {user}: set the group {contract.APP_GID} too"
    # everything after USER runs unprivileged, so app files were copied as root before it;
    # only the declared writable paths may be handed to the user.
    writable = contract.BACKEND_WRITABLE_PATHS if app == "backend" else contract.FRONTEND_WRITABLE_PATHS
    for ins in df.final.all("COPY"):
        chown = ins.flags.get("chown")
        if chown:
            dest = ins.args.split()[-1]
            workdirs = [i.args.strip() for i in df.final.all("WORKDIR")]
            base = workdirs[-1] if workdirs else "/"
            target = dest if dest.startswith("/") else base.rstrip("/") + "/" + dest.removeprefix("./")
            assert target.rstrip("/") in writable, (
                f"{where(df, ins)}: gives {target} to {chown}; only {writable} may be writable by the app user"
            )


@pytest.mark.requirement("FR-003", "US2-5")
def test_no_secret_in_env_or_build_args(app: str) -> None:
    df = parsed(app)
    problems = []
    for stage in df.stages:
        for ins in stage.all("ENV") + stage.all("ARG"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", ins.args) if ins.keyword == "ENV" \
                else [dockerfile.parse_arg(ins.args)[0]]
            for name in names:
                if contract.is_sensitive(name):
                    problems.append(f"{where(df, ins)}: {ins.keyword} {name} (credentials come at run time from a Secret)")
                if name.upper() in CA_VARIABLES and ins.keyword == "ENV" and stage is not df.stages[-1]:
                    pass
                if name.upper() in CA_VARIABLES[:3] and ins.keyword == "ENV":
                    problems.append(f"{where(df, ins)}: ENV {name} persists a build-time CA setting; "
                                    "set it inside the RUN that mounts the secret")
    for arg, default in df.args().items():
        if contract.is_sensitive(arg):
            problems.append(f"ARG {arg}={default!r} is a credential")
    for stage in df.stages:
        for ins in stage.all("COPY") + stage.all("ADD"):
            if re.search(r"(^|[\s/])\.env\b|\.pem\b|\.key\b|id_rsa|\.npmrc|\.pypirc", ins.args):
                problems.append(f"{where(df, ins)}: copies a credentials file: {ins.args}")
    assert not problems, "\n".join(problems)


@pytest.mark.requirement("FR-003")
def test_install_steps_take_the_ca_bundle_only_as_a_build_secret(app: str) -> None:
    """The optional CA bundle for TLS-inspecting proxies is a BuildKit secret mount, never a layer."""
    df = parsed(app)
    installs = [i for s in df.stages for i in s.all("RUN") if re.search(r"pip3? install -[^;&]*-r |npm ci", i.args)]
    assert installs, f"{df.path}: no dependency install step found"
    for ins in installs:
        mount = ins.flags.get("mount", "")
        assert "type=secret" in mount and "id=ca" in mount, (
            f"{where(df, ins)}: the install step must mount the optional CA bundle with "
            "--mount=type=secret,id=ca,target=/run/secrets/ca.crt"
        )
    for stage in df.stages:
        for ins in stage.all("COPY") + stage.all("ADD"):
            assert "ca-certificates.crt" not in ins.args and "ca.crt" not in ins.args, (
                f"{where(df, ins)}: a CA bundle copied into a layer"
            )


@pytest.mark.requirement("SC-008", "FR-001", "FR-002")
def test_healthcheck_and_oci_labels(app: str) -> None:
    df = parsed(app)
    health = df.final.all("HEALTHCHECK")
    assert health and "NONE" not in health[-1].args.upper(), f"{df.path}: no HEALTHCHECK in the final stage"
    path = contract.BACKEND_LIVENESS_PATH if app == "backend" else contract.FRONTEND_HEALTH_PATH
    assert path in health[-1].args, f"{where(df, health[-1])}: the HEALTHCHECK does not probe {path}"
    labels = " ".join(i.args for i in df.final.all("LABEL"))
    for key in OCI_LABELS:
        m = re.search(rf"org\.opencontainers\.image\.{key}=\"?\$\{{?(\w+)", labels)
        assert m, f"{df.path}: label org.opencontainers.image.{key} is missing or not set from a build arg"
        assert m.group(1) in df.args(), f"{df.path}: label {key} uses ${m.group(1)}, which is no ARG"


# --- .dockerignore ----------------------------------------------------------------------
# Paths a build context must never carry, at the top and inside the directories the images do
# copy (the backend's src/, the frontend's whole tree and its public/ that ships as it is).
MUST_EXCLUDE = [".env", ".env.local", "sub/.env.production", "src/.env", "src/todo_api/.env.local",
                "public/.env", "tests/test_app.py", "node_modules/x/index.js", ".git/HEAD", "reports/junit.xml",
                "key.pem"]
MUST_INCLUDE = {"backend": ["requirements.lock", "pyproject.toml", "src/todo_api/__init__.py"],
                "frontend": ["package.json", "package-lock.json", "next.config.ts"]}
# The .dockerignore rules about .env files (".env", ".env.*", "**/.env", "**/.env.*").
ENV_RULE = re.compile(r"^(\*\*/)?\.env(\.\*)?$")


def dockerignore_problems(path: Path, app: str) -> list[str]:
    """What is wrong with the .dockerignore at ``path`` for ``app``: secrets, tests or local
    state it would let into the build context, files the build needs that it keeps out."""
    lines = path.read_text().splitlines()
    problems = [f"would send {p} into the build context" for p in MUST_EXCLUDE if not excluded(lines, p)]
    problems += [f"excludes {p}, which the build needs" for p in MUST_INCLUDE[app] if excluded(lines, p)]
    return problems


@pytest.mark.requirement("FR-003", "US2-5")
def test_dockerignore_keeps_secrets_tests_and_local_state_out(app: str) -> None:
    path = APPS[app].directory / ".dockerignore"
    assert path.is_file(), f"{path} is missing"
    problems = dockerignore_problems(path, app)
    assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.harness
def test_dockerignore_matcher_follows_docker_rules(tmp_path: Path) -> None:
    lines = ["*", "!src/", "**/.env", "node_modules"]
    assert excluded(lines, "README.md")
    assert not excluded(lines, "src/a.py")
    assert excluded(lines, "src/.env")
    assert excluded(["node_modules"], "node_modules/a/b.js")
    assert not excluded(["node_modules"], "lib/node_modules/a.js")
    assert excluded(["**/node_modules"], "lib/node_modules/a.js")
    assert excluded([".env.*"], ".env.prod") and not excluded([".env.*"], "x/.env.prod")
    # The check above is only worth something if it fails when a real file loses its rule: a
    # copy of each real .dockerignore without its .env rules must be reported as leaking them.
    for app in sorted(APPS):
        real = APPS[app].directory / ".dockerignore"
        lines = real.read_text().splitlines()
        kept = [line for line in lines if not ENV_RULE.match(line.strip())]
        assert len(kept) < len(lines), f"{real}: no .env rule to remove"
        broken = tmp_path / f"{app}.dockerignore"
        broken.write_text("\n".join(kept) + "\n")
        leaks = [p for p in dockerignore_problems(broken, app) if ".env" in p]
        assert leaks, f"{real} without its .env rules: the check still finds nothing wrong"


def _all_dockerfiles() -> list[Path]:
    return sorted(IMAGES_DIR.glob("*/Dockerfile"))


@pytest.mark.requirement("FR-005")
def test_no_latest_anywhere_in_image_recipes() -> None:
    """Every FROM in every recipe (apps and local bases) resolves to a pinned tag."""
    root = IMAGES_DIR
    problems = []
    for path in sorted(root.glob("**/Dockerfile")):
        df = dockerfile.parse(path)
        for stage, ref in df.external_bases():
            problem = dockerfile.pin_problem(ref)
            if ref.startswith(LOCAL_PREFIX + "/") and problem and "latest" not in problem:
                continue  # a local base named by this repository's recipes (pinned by its recipe hash)
            if problem:
                problems.append(f"{path.relative_to(root)}:{stage.line}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.requirement("FR-004", "US2-1", "US2-2")
def test_final_stage_starts_from_the_run_time_base_not_the_build_base(app: str) -> None:
    """Where no registry answers, the build passes a trimmed run-time base (no apt, no compilers)
    for the ARG the final stage starts from; a final stage on the build stage's base ships the
    build tools whatever the official defaults are."""
    df = parsed(app)
    runtime_args = {arg for arg, (recipe, _) in APPS[app].local_bases.items() if recipe.endswith("-runtime")}
    named = set(re.findall(r"\$\{?(\w+)\}?", df.final.base))
    assert named and named <= runtime_args, (
        f"{df.path}: the final stage starts FROM {df.final.base}; it must be one of {sorted(runtime_args)}, "
        "the base the local run-time images replace")
