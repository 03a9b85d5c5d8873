"""Static checks of the two Dockerfiles and their .dockerignore files (no Docker needed).

The image tier proves the same properties on the built images; these checks catch a
regression in seconds and point at the Dockerfile line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


def multi_stage_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-004: build and run time in separate stages; the final stage installs nothing and copies
    only a build stage's output (no sources, no whole build tree, no node_modules with dev tools)."""
    if len(df.stages) < 2:
        return [f"{df.path}: a single stage; build and run time must be separate stages (FR-004)"]
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
    if not any("from" in i.flags for i in copies):
        problems.append(f"{df.path}: the final stage copies nothing from a build stage")
    # no whole build tree (sources, node_modules with dev dependencies) in the final stage
    for ins in copies:
        sources = ins.args.split()[:-1]
        for src in sources:
            if src.rstrip("/") in ("/src", ".", "/app") or src.rstrip("/").endswith("node_modules"):
                problems.append(f"{where(df, ins)}: copies a whole build tree ({src}) into the final stage")
    return problems


@pytest.mark.requirement("FR-004", "SC-008")
def test_multi_stage_and_final_stage_copies_only_build_output(app: str) -> None:
    problems = multi_stage_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def base_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-005: every base is an ARG whose default is the pinned official image, one per local base."""
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
    # the local equivalents exist as recipes, one per base ARG
    if set(df.base_args()) != set(APPS[app].local_bases):
        problems.append(f"{df.path.name}: base ARGs {sorted(df.base_args())} do not match the local bases "
                        f"known to harness/images/build.py {sorted(APPS[app].local_bases)}")
    return problems


@pytest.mark.requirement("FR-005")
def test_base_images_are_pinned_official_defaults(app: str) -> None:
    problems = base_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def lockfile_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-004/FR-005: dependencies come from a lockfile of exact pins, installed as it is."""
    lockfile = APPS[app].directory / LOCKFILES[app]
    if not lockfile.is_file():
        return [f"{lockfile} is missing: dependencies must be pinned by a lockfile"]
    runs = " ".join(i.args for s in df.stages for i in s.all("RUN"))
    problems = []
    if app == "backend":
        if not re.search(r"pip install[^;&]*-r requirements\.lock", runs):
            problems.append("pip must install from requirements.lock")
        pins = [line for line in lockfile.read_text().splitlines() if line and not line.startswith((" ", "#", "-"))]
        unpinned = [line for line in pins if "==" not in line]
        if not pins or unpinned:
            problems.append(f"requirements.lock has unpinned lines: {unpinned[:5]}")
    else:
        if "npm ci" not in runs:
            problems.append("npm ci (never npm install) installs exactly the lockfile")
        if re.search(r"npm (install|i)\b", runs):
            problems.append("npm install may change the lockfile; use npm ci")
    return problems


@pytest.mark.requirement("FR-004", "FR-005")
def test_dependencies_installed_from_the_lockfile(app: str) -> None:
    problems = lockfile_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def port_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-006/FR-007: the final stage exposes the contract port and no other."""
    exposed = {p.split("/")[0] for i in df.final.all("EXPOSE") for p in i.args.split()}
    return [] if exposed == {str(PORTS[app])} else [f"{df.path}: EXPOSE {sorted(exposed)}, expected {PORTS[app]}"]


@pytest.mark.requirement("FR-006", "FR-007")
def test_exposes_the_contract_port(app: str) -> None:
    problems = port_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def user_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-008: the final stage runs as the chart's numeric non-root uid:gid, and the app user may
    write only the declared writable paths."""
    users = df.final.all("USER")
    if not users:
        return [f"{df.path}: the final stage sets no USER (it would run as root)"]
    user = users[-1].args.strip()
    uid, _, gid = user.partition(":")
    at = where(df, users[-1])
    if not uid.isdigit():
        return [f"{at}: USER {user} is not numeric (Kubernetes runAsNonRoot needs a number)"]
    problems = []
    if int(uid) < 10000:
        problems.append(f"{at}: uid {uid} < 10000 (may collide with a host user)")
    if int(uid) != contract.APP_UID:
        problems.append(f"{at}: uid {uid} differs from the chart's runAsUser {contract.APP_UID}")
    if not gid.isdigit() or int(gid) != contract.APP_GID:
        problems.append(f"{at}: USER {user}: set the group {contract.APP_GID} too")
    # everything after USER runs unprivileged, so app files were copied as root before it;
    # only the declared writable paths may be handed to the user.
    writable = contract.BACKEND_WRITABLE_PATHS if app == "backend" else contract.FRONTEND_WRITABLE_PATHS
    for ins in df.final.all("COPY"):
        if chown := ins.flags.get("chown"):
            dest = ins.args.split()[-1]
            workdirs = [i.args.strip() for i in df.final.all("WORKDIR")]
            base = workdirs[-1] if workdirs else "/"
            target = dest if dest.startswith("/") else base.rstrip("/") + "/" + dest.removeprefix("./")
            if target.rstrip("/") not in writable:
                problems.append(f"{where(df, ins)}: gives {target} to {chown}; only {writable} may be writable "
                                "by the app user")
    return problems


@pytest.mark.requirement("FR-008")
def test_runs_as_numeric_non_root_user(app: str) -> None:
    problems = user_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def secret_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-003: no credential as ENV or build arg, no build-time CA setting persisted, no credentials file copied."""
    problems = []
    for stage in df.stages:
        for ins in stage.all("ENV") + stage.all("ARG"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", ins.args) if ins.keyword == "ENV" \
                else [dockerfile.parse_arg(ins.args)[0]]
            for name in names:
                if contract.is_sensitive(name):
                    problems.append(f"{where(df, ins)}: {ins.keyword} {name} (credentials come at run time from a Secret)")
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
    return problems


@pytest.mark.requirement("FR-003", "US2-5")
def test_no_secret_in_env_or_build_args(app: str) -> None:
    problems = secret_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def ca_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """FR-003: the optional CA bundle for TLS-inspecting proxies is a BuildKit secret mount, never a layer."""
    installs = [i for s in df.stages for i in s.all("RUN") if re.search(r"pip3? install -[^;&]*-r |npm ci", i.args)]
    if not installs:
        return [f"{df.path}: no dependency install step found"]
    problems = []
    for ins in installs:
        mount = ins.flags.get("mount", "")
        if "type=secret" not in mount or "id=ca" not in mount:
            problems.append(f"{where(df, ins)}: the install step must mount the optional CA bundle with "
                            "--mount=type=secret,id=ca,target=/run/secrets/ca.crt")
    for stage in df.stages:
        for ins in stage.all("COPY") + stage.all("ADD"):
            if "ca-certificates.crt" in ins.args or "ca.crt" in ins.args:
                problems.append(f"{where(df, ins)}: a CA bundle copied into a layer")
    return problems


@pytest.mark.requirement("FR-003")
def test_install_steps_take_the_ca_bundle_only_as_a_build_secret(app: str) -> None:
    problems = ca_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


def health_and_label_problems(df: dockerfile.Dockerfile, app: str) -> list[str]:
    """A HEALTHCHECK on the app's health path and the OCI labels, each set from a build arg."""
    problems = []
    health = df.final.all("HEALTHCHECK")
    path = contract.BACKEND_LIVENESS_PATH if app == "backend" else contract.FRONTEND_HEALTH_PATH
    if not health or "NONE" in health[-1].args.upper():
        problems.append(f"{df.path}: no HEALTHCHECK in the final stage")
    elif path not in health[-1].args:
        problems.append(f"{where(df, health[-1])}: the HEALTHCHECK does not probe {path}")
    labels = " ".join(i.args for i in df.final.all("LABEL"))
    for key in OCI_LABELS:
        m = re.search(rf"org\.opencontainers\.image\.{key}=\"?\$\{{?(\w+)", labels)
        if not m:
            problems.append(f"{df.path}: label org.opencontainers.image.{key} is missing or not set from a build arg")
        elif m.group(1) not in df.args():
            problems.append(f"{df.path}: label {key} uses ${m.group(1)}, which is no ARG")
    return problems


@pytest.mark.requirement("SC-008", "FR-001", "FR-002")
def test_healthcheck_and_oci_labels(app: str) -> None:
    problems = health_and_label_problems(parsed(app), app)
    assert not problems, "\n".join(problems)


# --- the checks see a defect: each applied once to a copy of the real Dockerfile -----------------
# What each check is the evidence for: the IDs of the test above that applies it, kept to those a
# static test proves (verification/static/relying.py). The secret and CA checks serve FR-003 and
# US2-5, the multi-stage and label checks FR-004 and SC-008, which only the image tier (and the
# cluster's dry run) prove, so they guard nothing.
DOCKERFILE_GUARDS: dict[str, tuple[str, ...]] = {
    "multi_stage_problems": (),
    "base_problems": ("FR-005",),
    "lockfile_problems": ("FR-005",),
    "port_problems": ("FR-006", "FR-007"),
    "user_problems": ("FR-008",),
    "secret_problems": (),
    "ca_problems": (),
    "health_and_label_problems": (),
}


def _before_user(line: str) -> Callable[[str, str], str]:
    """Insert ``line`` (``{port}`` replaced) into the final stage, just before its USER."""
    return lambda text, app: _sub(r"(?m)^USER ", line.format(port=PORTS[app]) + "\nUSER ", text, count=1)


def _replace(pattern: str, new: str, count: int = 0) -> Callable[[str, str], str]:
    return lambda text, app: _sub(pattern, new.format(port=PORTS[app]), text, count=count)


def _sub(pattern: str, new: str, text: str, count: int = 0) -> str:
    changed = re.sub(pattern, new, text, count=count)
    assert changed != text, f"the mutation {pattern!r} no longer applies to the real Dockerfile: update it"
    return changed


def _only_the_final_stage(text: str, app: str) -> str:
    lines = text.splitlines()
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return "\n".join(lines[: froms[0]] + lines[froms[-1]:]) + "\n"


def _first_from_not_an_arg(text: str, app: str) -> str:
    df = dockerfile.parse(APPS[app].dockerfile)
    first = df.stages[0]
    return text.replace(f"FROM {first.base}", f"FROM {df.resolve(first.base)}", 1)


INSTALL = {"backend": "RUN pip install pytest==9.0.0", "frontend": "RUN npm install typescript@5.9.3"}
DEFECTS: dict[str, tuple[Callable[[str, str], str], Callable[[dockerfile.Dockerfile, str], list[str]]]] = {
    "single-stage": (_only_the_final_stage, multi_stage_problems),
    "installs-in-final-stage": (lambda t, app: _before_user(INSTALL[app])(t, app), multi_stage_problems),
    "copies-the-build-context": (_before_user("COPY . ./"), multi_stage_problems),
    "copies-a-build-tree": (_before_user("COPY --from=build /src/node_modules ./node_modules"), multi_stage_problems),
    "base-latest": (_replace(r"(?m)^(ARG \w*RUNTIME_IMAGE=[^:\s]+):\S+$", r"\1:latest"), base_problems),
    "base-untagged": (_replace(r"(?m)^(ARG \w*RUNTIME_IMAGE=[^:\s]+):\S+$", r"\1"), base_problems),
    "base-not-an-arg": (_first_from_not_an_arg, base_problems),
    "install-bypasses-lockfile": (_replace(r"-r requirements\.lock|npm ci", "npm install"), lockfile_problems),
    "wrong-port": (_replace(r"(?m)^EXPOSE \d+", "EXPOSE 8080"), port_problems),
    "extra-port": (_replace(r"(?m)^EXPOSE (\d+)", r"EXPOSE \1 22"), port_problems),
    "root-user": (_replace(r"(?m)^USER .*$", "USER root"), user_problems),
    "uid-0": (_replace(r"(?m)^USER .*$", "USER 0:0"), user_problems),
    "no-user": (_replace(r"(?m)^USER .*\n", ""), user_problems),
    "no-group": (_replace(r"(?m)^USER (\d+):\d+$", r"USER \1"), user_problems),
    "chown-outside-writable-paths": (_before_user("COPY --from=build --chown=10001:10001 /etc/hostname /opt/x"),
                                     user_problems),
    "env-credential": (_before_user("ENV JWT_SECRET=changeme"), secret_problems),
    "arg-credential": (_before_user("ARG OPENAI_API_KEY"), secret_problems),
    "env-build-time-ca": (_before_user("ENV PIP_CERT=/run/secrets/ca.crt"), secret_problems),
    "copies-a-dotenv": (_before_user("COPY --from=build /src/.env ./.env"), secret_problems),
    "install-without-ca-secret": (_replace(r"--mount=type=secret,id=ca,target=/run/secrets/ca\.crt", ""), ca_problems),
    "ca-bundle-in-a-layer": (_before_user("COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/ca.crt"),
                             ca_problems),
    "healthcheck-elsewhere": (_replace(r"healthz'", "status'"), health_and_label_problems),
    "healthcheck-none": (_replace(r"(?m)^HEALTHCHECK .*\\\n.*\n", "HEALTHCHECK NONE\n"), health_and_label_problems),
    "label-missing": (_replace(r"(?m)^.*org\.opencontainers\.image\.revision=.*\n", ""), health_and_label_problems),
    "label-not-from-a-build-arg": (_replace(r'"\$\{OCI_REVISION\}"', '"0123abc"'), health_and_label_problems),
}


@pytest.mark.harness  # the checks themselves, not the Dockerfiles
@pytest.mark.parametrize(("defect", "for_app"), [
    pytest.param(defect, app, marks=pytest.mark.guards(*DOCKERFILE_GUARDS[check.__name__]) if
                 DOCKERFILE_GUARDS[check.__name__] else (), id=f"{app}-{defect}")
    for defect, (_, check) in DEFECTS.items() for app in sorted(APPS)
])
def test_dockerfile_check_sees_a_single_defect(defect: str, for_app: str, tmp_path: Path) -> None:
    mutate, check = DEFECTS[defect]
    real = APPS[for_app].dockerfile
    assert not check(dockerfile.parse(real), for_app), f"{real} itself fails {check.__name__}"
    broken = tmp_path / for_app / "Dockerfile"
    broken.parent.mkdir()
    broken.write_text(mutate(real.read_text(), for_app))
    assert check(dockerfile.parse(broken), for_app), f"{check.__name__} finds nothing wrong with {defect}"


@pytest.mark.harness
def test_every_dockerfile_check_has_a_defect_and_its_guards_are_the_ids_of_its_test() -> None:
    from verification.static import relying

    assert {check.__name__ for _, check in DEFECTS.values()} == set(DOCKERFILE_GUARDS)
    derived = {name: relying.relying_ids(Path(__file__), "static", relying.using(name)) for name in DOCKERFILE_GUARDS}
    assert {name: set(ids) for name, ids in DOCKERFILE_GUARDS.items()} == derived, (
        "DOCKERFILE_GUARDS differs from the IDs the tests applying each check carry (after a tier change in "
        f"verification/requirements.yaml, take these): {derived}")


@pytest.mark.harness
@pytest.mark.guards("FR-005")  # every base-image check (Dockerfiles, recipes, the built image's label) asks it
@pytest.mark.parametrize(("ref", "pinned"), [
    ("python:3.11.13-slim-bookworm", True), ("node:22.23.5-bookworm-slim", True), ("postgres:15.14-bookworm", True),
    ("python@sha256:" + "a" * 64, True), ("python:latest", False), ("python", False), ("node:22", False),
    ("node:lts-slim", False), ("python:${PY}", False), ("python@sha256:abc", False),
    ("registry.example:5000/python", False),
])
def test_pin_problem_tells_a_pinned_reference_from_one_that_is_not(ref: str, pinned: bool) -> None:
    assert (dockerfile.pin_problem(ref) is None) == pinned, dockerfile.pin_problem(ref)


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
