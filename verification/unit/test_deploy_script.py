"""`make deploy` (scripts/deploy.sh) as a newcomer meets it: `.env` is parsed, not sourced (a URL
with `&` or spaces arrives as written), the .env.example placeholder JWT_SECRET is refused in one line
before any cluster is touched (not after `helm --wait` sat five minutes), a values file that takes the
credentials from an existing Secret is not handed inline ones, and the script is bash 3.2 clean."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys

import pytest

from harness import deploy_secrets
from harness.core.paths import REPO_ROOT

pytestmark = pytest.mark.harness

DEPLOY = REPO_ROOT / "scripts" / "deploy.sh"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
STAGING = REPO_ROOT / "chart" / "todo-chatbot" / "values-staging.yaml"


def deploy(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """scripts/deploy.sh with a context that does not exist: anything that gets past the secrets check
    stops at the context check, so nothing is ever installed."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET", "VALUES")}
    run_env = {**base, "KUBE_CONTEXT": "no-such-context-for-this-test", "PATH": f"{os.path.dirname(sys.executable)}:"
               f"{os.environ['PATH']}", **env}
    return subprocess.run(["bash", str(DEPLOY)], cwd=REPO_ROOT, env=run_env, capture_output=True, text=True,
                          timeout=120)


def test_the_env_example_placeholder_is_refused_before_any_cluster_is_touched(tmp_path):
    done = deploy(tmp_path, ENV_FILE=str(ENV_EXAMPLE))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # One line that names the variable, says why (the backend's own rules: a placeholder, a value
    # committed here) and how to make a good one.
    assert len(lines) == 1 and lines[0].startswith("deploy: JWT_SECRET is a "), lines
    assert "not a secret" in lines[0] and "openssl rand -hex 32" in lines[0], lines


def test_a_good_env_file_gets_past_the_check_to_the_cluster(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL=postgresql://u:p@db:5432/todo?sslmode=require&target_session_attrs=any\n"
                        f"JWT_SECRET={secrets.token_hex(32)}\n")
    done = deploy(tmp_path, ENV_FILE=str(env_file))
    assert "DATABASE_URL from .env, JWT_SECRET from .env" in done.stderr
    assert "no kubeconfig context named 'no-such-context-for-this-test'" in done.stderr or "kubectl" in done.stderr


def test_dotenv_values_arrive_as_written_never_through_a_shell(tmp_path):
    url = "postgresql://todo:p&ss$HOME w0rd@db.example.com:5432/todo?sslmode=require&application_name=todo api"
    env_file = tmp_path / ".env"
    env_file.write_text(f"# a comment\nDATABASE_URL='{url}'\nexport JWT_SECRET=abc\n")
    values, sources = deploy_secrets.gather(env_file, environ={})
    assert values["DATABASE_URL"] == url and values["JWT_SECRET"] == "abc"
    assert sources == {"DATABASE_URL": ".env", "JWT_SECRET": ".env"}
    values, sources = deploy_secrets.gather(env_file, environ={"JWT_SECRET": "from-env"})
    assert values["JWT_SECRET"] == "from-env" and sources["JWT_SECRET"] == "the environment"


def test_a_values_file_with_an_existing_secret_gets_no_inline_credentials(capsys):
    assert deploy_secrets.main(["--values", str(STAGING), "--env-file", str(ENV_EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {} and "todo-chatbot-credentials" in err and "are not used" in err


# Constructs bash 3.2 (macOS's /bin/bash) lacks, or breaks on.
BASH4 = {
    r"\bdeclare\s+-[a-zA-Z]*A|\blocal\s+-A|\btypeset\s+-A": "associative arrays (bash 4)",
    r"\$\{[#!]?\w+(\[[^]]*\])?(,,?|\^\^?)[^}]*\}": "case conversion ${x,,} / ${x^^} (bash 4)",
    r"\b(mapfile|readarray|coproc)\b": "mapfile / readarray / coproc (bash 4)",
    r"&>>|\|&": "&>> and |& (bash 4)",
    r"\[\[\s+-v\s": "[[ -v name ]] (bash 4.2)",
    r"\$\{\w+@[QEPAa]\}": "${x@Q} (bash 4.4)",
    r"\bwait\s+-n\b": "wait -n (bash 4.3)",
    r"\bdeclare\s+-n\b|\blocal\s+-n\b": "namerefs (bash 4.3)",
    r"\$EPOCH(SECONDS|REALTIME)": "$EPOCHSECONDS (bash 5)",
}
# Run on a person's Mac: make deploy/undeploy, the set-up checks, Helm and the scanners' installers.
MAC_SCRIPTS = ["deploy.sh", "undeploy.sh", "setup-system.sh", "ensure-docker.sh", "install-helm.sh",
               "install-kube-score.sh", "install-checkov.sh", "node-ok.sh"]


def bash4_constructs(text: str) -> list[str]:
    # Comments aside: whole-line ones and trailing ones (a "#" after a blank; ${#x} has none before it).
    code = "\n".join(re.sub(r"\s#.*$", "", line) for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [why for pattern, why in BASH4.items() if re.search(pattern, code)]


def test_the_bash4_detector_sees_what_it_names():
    assert bash4_constructs('declare -A seen\nx=${name,,}\nmapfile -t lines < f\n[[ -v X ]]') == [
        "associative arrays (bash 4)", "case conversion ${x,,} / ${x^^} (bash 4)",
        "mapfile / readarray / coproc (bash 4)", "[[ -v name ]] (bash 4.2)"]
    assert bash4_constructs('x=${#name}; y=${name%%.*}; z=${a[@]+"${a[@]}"}  # mapfile in a comment') == []


@pytest.mark.parametrize("script", MAC_SCRIPTS)
def test_the_scripts_a_mac_runs_are_bash_3_2_clean(script):
    text = (REPO_ROOT / "scripts" / script).read_text()
    assert bash4_constructs(text) == []
    # An array that may be empty, expanded as "${a[@]}" under set -u, is "unbound" in bash < 4.4.
    for name in set(re.findall(r"^\s*(?:local\s+)?(\w+)=\(\)", text, re.M)):
        plain = re.findall(rf'(?<!\+)"\$\{{{name}\[[@*]\]\}}"', text)
        assert not plain, f"{script}: \"${{{name}[@]}}\" of a possibly empty array; use ${{{name}[@]+\"${{{name}[@]}}\"}}"
