"""Docs as tests: DEPLOYMENT.md, README.md and .env.example tell the truth.

Every fenced shell command in the documents is parsed: the make targets, the
repository files, the chart value keys (``--set key=…``) and the pytest options it
names must exist. The sections the specification asks for must be there.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

from harness import contract
from harness.core.paths import REPO_ROOT
from harness.kube.helm import HelmNotFound, find_helm
from verification import tiers

ROOT = REPO_ROOT
CHART = ROOT / "chart" / "todo-chatbot"
DOCS = [ROOT / "DEPLOYMENT.md", ROOT / "README.md"]


def fenced_commands(path: Path) -> list[str]:
    """Shell lines of the ```sh / ```bash / ```console blocks, continuation lines joined."""
    text = path.read_text()
    lines: list[str] = []
    for block in re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip().removeprefix("$ ")
            line = re.sub(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+", "", line)  # leading VAR=value assignments
            if line and not line.startswith("#"):
                lines.append(re.sub(r"\s+#.*$", "", line))
    return lines


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z][\w-]*):", text, re.M))


def value_keys(values: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict):
            keys |= value_keys(value, path + ".")
    return keys


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


ALL_COMMANDS = list(dict.fromkeys((doc.name, cmd) for doc in DOCS if doc.exists() for cmd in fenced_commands(doc)))


@pytest.mark.requirement("FR-040", "SC-007")
def test_documents_have_commands():
    assert (ROOT / "DEPLOYMENT.md").exists(), "DEPLOYMENT.md is missing"
    assert len(fenced_commands(ROOT / "DEPLOYMENT.md")) >= 20


@pytest.mark.requirement("FR-040", "SC-007")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if c[1].startswith("make ")])
def test_every_make_target_named_in_the_docs_exists(doc, command):
    targets = [w for w in _words(command)[1:] if not w.startswith("-") and "=" not in w]
    missing = [t for t in targets if t not in make_targets()]
    assert not missing, f"{doc}: `{command}` names make target(s) {missing} that the Makefile lacks"


@pytest.mark.requirement("FR-040", "FR-026")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if c[1].startswith("helm ")])
def test_every_chart_value_and_file_named_in_helm_commands_exists(doc, command):
    known = value_keys(yaml.safe_load((CHART / "values.yaml").read_text()))
    words = _words(command)
    for flag, arg in zip(words, words[1:], strict=False):
        if flag in ("--set", "--set-string", "--set-file"):
            for assignment in arg.split(","):
                key = re.sub(r"\[\d+\]", "", assignment.split("=", 1)[0])
                assert key in known, f"{doc}: `{command}` sets {key!r}, which values.yaml does not define"
        if flag in ("-f", "--values") and not arg.startswith(("my-", "/", "~", "$")):
            assert (ROOT / arg).exists() or (CHART / arg).exists(), f"{doc}: `{command}` names missing file {arg}"


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if re.search(r"(^|\s)(chart|images|scripts|load|verification)/", c[1])])
def test_every_repository_path_named_in_the_docs_exists(doc, command):
    for word in _words(command):
        word = word.split("=", 1)[-1]
        if re.match(r"^(chart|images|scripts|load|verification)/[\w./-]*$", word) and "*" not in word:
            path = word.split("::")[0]
            assert (ROOT / path).exists(), f"{doc}: `{command}` names {path}, which does not exist"


@pytest.mark.requirement("FR-041")
def test_prerequisites_are_listed_with_versions():
    text = (ROOT / "DEPLOYMENT.md").read_text()
    section = text.split("## Prerequisites", 1)[1].split("\n## ", 1)[0]
    for tool in ("Docker", "Minikube", "Helm", "kubectl"):
        assert re.search(rf"{tool}[^\n]*\d+\.\d+", section), f"Prerequisites: no version given for {tool}"


@pytest.mark.requirement("FR-042", "SC-007")
@pytest.mark.parametrize("symptom", [
    "ImagePullBackOff", "ErrImageNeverPull", "CrashLoopBackOff", "OOMKilled", "Insufficient cpu",
    "CreateContainerConfigError", "readiness", "database", "namespace",
])
def test_troubleshooting_covers_common_failures(symptom):
    text = (ROOT / "DEPLOYMENT.md").read_text()
    section = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    assert symptom.lower() in section.lower(), f"Troubleshooting does not mention {symptom}"


@pytest.mark.requirement("FR-043")
def test_access_instructions_cover_service_tunnel_nodeport_and_port_forward():
    text = (ROOT / "DEPLOYMENT.md").read_text()
    for how in ("minikube service", "minikube tunnel", "NodePort", "kubectl port-forward"):
        assert how in text, f"DEPLOYMENT.md does not explain access through {how}"


@pytest.mark.requirement("FR-044", "FR-032")
def test_logs_and_debugging_section_names_the_tools():
    text = (ROOT / "DEPLOYMENT.md").read_text()
    for tool in ("kubectl logs", "kubectl describe", "kubectl get events", "make diagnose", "kagent"):
        pattern = r"\s+(?:-n \S+\s+)?".join(map(re.escape, tool.split()))
        assert re.search(pattern, text), f"DEPLOYMENT.md does not mention {tool}"


# --- .env.example (FR-022) ------------------------------------------------------------
def env_example() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if m := re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line):
            names[m.group(1)] = m.group(2)
    return names


@pytest.mark.requirement("FR-022")
def test_env_example_documents_every_variable_of_both_services_and_nothing_else():
    documented = set(env_example())
    expected = set(contract.BACKEND_REQUIRED_ENV + contract.BACKEND_OPTIONAL_ENV
                   + contract.FRONTEND_REQUIRED_ENV + contract.FRONTEND_OPTIONAL_ENV)
    assert documented - expected == set(), f".env.example documents stale variables {documented - expected}"
    assert expected - documented == set(), f".env.example lacks {expected - documented}"


@pytest.mark.requirement("FR-022", "FR-003")
def test_env_example_holds_placeholders_not_credentials():
    for name, value in env_example().items():
        if contract.is_sensitive(name):
            assert re.search(r"change-me|replace|example", value), f".env.example: {name} looks like a real value"


@pytest.mark.requirement("FR-022")
def test_every_variable_is_explained_by_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert lines[i - 1].startswith("#"), f".env.example: {line.split('=')[0]} has no comment above it"


# --- AI tooling workflow (FR-030, FR-031, FR-032); provenance headers: verification/static ----------------------
@pytest.mark.requirement("FR-030", "FR-031", "FR-032")
def test_ai_workflow_is_documented():
    text = (ROOT / "DEPLOYMENT.md").read_text()
    section = text.split("## AI-assisted workflow", 1)[1].split("\n## ", 1)[0]
    for phrase in ("kubectl-ai", "Claude Code", "kagent", "make ai-manifests", "python -m harness.kube.policy"):
        assert phrase in section, f"AI-assisted workflow section does not mention {phrase}"


# Paths of the repository as the docs name them in prose, tables and inline code (not only in
# fenced commands): a fix in the troubleshooting table that names a missing file sends a person
# nowhere.
REPOSITORY_PATH = re.compile(r"(?<![\w/.-])((?:chart|images|scripts|harness|verification|load|docs)/[\w./-]*\w)")


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc", ["DEPLOYMENT.md", "README.md", "chart/todo-chatbot/README.md"])
def test_every_repository_path_named_anywhere_in_the_docs_exists(doc):
    text = (ROOT / doc).read_text()
    missing = sorted({m.group(1) for m in REPOSITORY_PATH.finditer(text)
                      if "*" not in m.group(1) and not (ROOT / m.group(1)).exists()})
    assert not missing, f"{doc} names paths that do not exist: {', '.join(missing)}"


# --- the commands themselves: each fenced command that can run here runs, or is checked without effect -----
# `make -n` (the recipe, not its effect: every variable and prerequisite resolves), pytest's collection
# (the options, markers and paths are accepted), `--help` of the harness's modules, Locust with the
# locustfile loaded, and Helm's subcommands. Commands that need a cluster, a registry or a secret
# (kubectl, minikube, docker, openssl) are checked by the path and value tests above.
# Each command is its own process, mostly waiting on imports: they all start together, once, in a
# module-scoped fixture (the static stage's slowest part when run one by one), and each test then
# judges its own command's result. The documented commands run as a person runs them: the static
# stage's lean plugin loading (verification/tiers.py LEAN_ENV) is not passed on to them.
def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in tiers.LEAN_ENV}, "REQUIRE_TIERS": ""}


def _make_argv(command: str) -> list[str]:
    return ["make", "-n", *_words(command)[1:]]


def _pytest_argv(command: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *_words(command)[1:], "--co", "-q", "-p", "no:cacheprovider"]


def _help_argv(command: str) -> list[str]:
    words = _words(command)
    if words[0].endswith("locust"):
        return [str(Path(sys.executable).with_name("locust")), *words[1:], "--help"]  # loads the locustfile
    return [sys.executable, "-m", words[2], "--help"]  # the module alone: its arguments could act


def _helm_argv(command: str) -> list[str]:
    return [find_helm(), _words(command)[1], "--help"]  # HelmNotFound without one: the test skips


# test name -> the argv of its command (for the fixture, which sees which tests were selected).
ARGVS = {"test_every_make_command_in_the_docs_dry_runs": _make_argv,
         "test_every_pytest_command_in_the_docs_collects": _pytest_argv,
         "test_every_python_and_locust_command_in_the_docs_answers_help": _help_argv,
         "test_every_helm_subcommand_in_the_docs_exists": _helm_argv}


@pytest.fixture(scope="module")
def ran(request: pytest.FixtureRequest) -> Iterator[Callable[[list[str]], subprocess.CompletedProcess]]:
    """``ran(argv)``: the finished run of ``argv``; the selected tests' commands all started at once."""

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=_env())

    with ThreadPoolExecutor(max_workers=4) as pool:
        started = {}
        for item in request.session.items:
            if item.module is request.module and item.originalname in ARGVS:
                with suppress(HelmNotFound):
                    argv = ARGVS[item.originalname](item.callspec.params["command"])
                    started[tuple(argv)] = pool.submit(run, argv)
        yield lambda argv: (started.get(tuple(argv)) or pool.submit(run, argv)).result()


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if c[1].startswith("make ")])
def test_every_make_command_in_the_docs_dry_runs(doc, command, ran):
    done = ran(_make_argv(command))
    assert done.returncode == 0, f"{doc}: `make -n {command[5:]}` fails: {done.stderr.strip()[-600:]}"


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if c[1].startswith((".venv/bin/pytest", "pytest "))])
def test_every_pytest_command_in_the_docs_collects(doc, command, ran):
    done = ran(_pytest_argv(command))
    assert done.returncode in (0, 5), f"{doc}: `{command}` does not collect: {(done.stdout + done.stderr)[-800:]}"


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS
                                         if c[1].startswith((".venv/bin/python -m ", ".venv/bin/locust", "locust "))])
def test_every_python_and_locust_command_in_the_docs_answers_help(doc, command, ran):
    argv = _help_argv(command)
    done = ran(argv)
    assert done.returncode == 0, f"{doc}: `{' '.join(argv)}` fails: {(done.stdout + done.stderr)[-600:]}"


@pytest.mark.requirement("FR-040")
@pytest.mark.parametrize("doc,command", [c for c in ALL_COMMANDS if c[1].startswith("helm ")])
def test_every_helm_subcommand_in_the_docs_exists(doc, command, ran):
    sub = _words(command)[1]
    try:
        argv = _helm_argv(command)
    except HelmNotFound as exc:
        pytest.skip(str(exc))
    done = ran(argv)
    assert done.returncode == 0, f"{doc}: `helm {sub}` is not a Helm command: {done.stderr.strip()[-300:]}"
