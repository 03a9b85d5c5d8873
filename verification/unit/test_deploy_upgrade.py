"""Self-tests of the upgrade check (harness/deploy/upgrade.py), without a cluster: real git, real Helm.

A scratch repository holds a tiny chart in three commits: version 0.1.0, an unrelated commit, then
0.2.0 whose Deployment selector gained a label. The previous release must be the second commit (the
last one at 0.1.0), its scratch worktree must come and go, and comparing what both versions render
must fail the upgrade naming the Deployment, ``spec.selector`` and the way out. The API server's own
refusal (its message format, as ``helm upgrade`` prints it) must be read the same way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.deploy import upgrade
from harness.kube import render

UPGRADE_GUARDS = ("FR-016", "FR-029")

CHART_YAML = "apiVersion: v2\nname: scratch\nversion: {version}\nappVersion: \"1.0\"\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ .Release.Name }}}}-web
spec:
  replicas: 1
  selector:
    matchLabels:
{selector}
  template:
    metadata:
      labels:
{selector}
    spec:
      containers:
        - name: web
          image: web:1.0
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    app: web
  ports:
    - port: 80
"""
CHART = Path("chart/todo-chatbot")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _write_chart(repo: Path, version: str, labels: dict[str, str]) -> None:
    chart = repo / CHART
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(CHART_YAML.format(version=version))
    selector = "\n".join(f"        {k}: {v}" for k, v in labels.items())
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT.format(selector=selector))
    (chart / "templates" / "service.yaml").write_text(SERVICE)


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def scratch_repo(tmp_path: Path) -> dict[str, object]:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write_chart(repo, "0.1.0", {"app": "web"})
    first = _commit(repo, "chart 0.1.0")
    (repo / "README").write_text("unrelated\n")
    last_old = _commit(repo, "an unrelated change at 0.1.0")
    _write_chart(repo, "0.2.0", {"app": "web", "tier": "front"})  # the breaking change
    bump = _commit(repo, "chart 0.2.0: a label more in the selector")
    return {"repo": repo, "first": first, "last_old": last_old, "bump": bump}


@pytest.mark.guards(*UPGRADE_GUARDS)
def test_a_selector_changed_between_two_versions_fails_the_upgrade_check_naming_the_field(scratch_repo, tmp_path):
    repo = scratch_repo["repo"]
    previous = upgrade.previous_ref(repo, CHART / "Chart.yaml", env={})
    assert previous.commit == scratch_repo["last_old"], previous
    assert previous.version == "0.1.0" and "0.2.0" in previous.why, previous

    scratch = tmp_path / "previous"
    with upgrade.ScratchWorktree(repo, previous.commit, scratch) as root:
        assert (root / CHART / "Chart.yaml").read_text() == CHART_YAML.format(version="0.1.0")
        old = render.render(chart=root / CHART, release="demo", namespace="ns")
        new = render.render(chart=repo / CHART, release="demo", namespace="ns")
        with pytest.raises(upgrade.ImmutableFieldChange) as refused:
            upgrade.check_upgrade(old, new, source=f"0.1.0 ({previous.short}) -> 0.2.0")
    message = str(refused.value)
    assert "Deployment demo-web: spec.selector" in message, message
    assert '{"matchLabels":{"app":"web"}} -> {"matchLabels":{"app":"web","tier":"front"}}' in message, message
    assert "--cascade=orphan" in message and "`helm upgrade --force` is not a way out" in message, message
    assert "Service" not in message, "a Service whose selector changed is no refusal (it is mutable)"
    assert "\n" not in message, "one line"
    # The scratch worktree is gone, from the disk and from git's list.
    assert not scratch.exists()
    assert str(scratch) not in upgrade.registered_worktrees(repo)


@pytest.mark.guards(*UPGRADE_GUARDS)
def test_the_same_chart_upgrades_without_a_refusal(scratch_repo):
    repo = scratch_repo["repo"]
    new = render.render(chart=repo / CHART, release="demo", namespace="ns")
    upgrade.check_upgrade(new, render.render(chart=repo / CHART, release="demo", namespace="ns",
                                             set_values={"unused": 1}), source="same")


def test_the_previous_release_is_head_while_the_new_version_is_not_committed(scratch_repo):
    repo = scratch_repo["repo"]
    (repo / CHART / "Chart.yaml").write_text(CHART_YAML.format(version="0.3.0"))
    previous = upgrade.previous_ref(repo, CHART / "Chart.yaml", env={})
    assert previous.commit == scratch_repo["bump"] and previous.version == "0.2.0", previous


def test_a_tag_names_the_previous_release_and_upgrade_from_overrides(scratch_repo):
    repo = scratch_repo["repo"]
    _git(repo, "tag", "v0.1.0", str(scratch_repo["last_old"]))
    assert upgrade.previous_ref(repo, CHART / "Chart.yaml", env={}).name == "v0.1.0"
    chosen = upgrade.previous_ref(repo, CHART / "Chart.yaml", env={"UPGRADE_FROM": str(scratch_repo["first"])[:8]})
    assert chosen.commit == scratch_repo["first"] and chosen.why.startswith("UPGRADE_FROM="), chosen


def test_a_ref_that_does_not_exist_is_one_clear_line(scratch_repo):
    with pytest.raises(upgrade.UpgradeProblem) as bad:
        upgrade.previous_ref(scratch_repo["repo"], CHART / "Chart.yaml", env={"UPGRADE_FROM": "no-such-tag"})
    assert "UPGRADE_FROM=no-such-tag is not a commit" in str(bad.value) and "\n" not in str(bad.value)


def test_one_version_only_says_to_set_upgrade_from(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write_chart(repo, "0.1.0", {"app": "web"})
    _commit(repo, "only version")
    with pytest.raises(upgrade.UpgradeProblem, match="set UPGRADE_FROM=<ref>"):
        upgrade.previous_ref(repo, CHART / "Chart.yaml", env={})


# What `helm upgrade` printed when the API server (v1.33) refused a changed Deployment selector.
API_SERVER_REFUSAL = (
    'Error: UPGRADE FAILED: cannot patch "todo-todo-chatbot-backend" with kind Deployment: Deployment.apps '
    '"todo-todo-chatbot-backend" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
    'map[string]string{"app.kubernetes.io/component":"backend", "tier":"api"}, MatchExpressions:'
    '[]v1.LabelSelectorRequirement(nil)}: field is immutable\n')


@pytest.mark.guards(*UPGRADE_GUARDS)
def test_the_api_servers_refusal_is_read_as_the_field_and_the_way_out():
    problem = upgrade.explain_refusal(API_SERVER_REFUSAL)
    assert problem is not None
    assert "Deployment todo-todo-chatbot-backend: spec.selector." in str(problem), str(problem)
    assert "--cascade=orphan" in str(problem) and "--force` is not a way out" in str(problem)
    assert upgrade.explain_refusal("Error: UPGRADE FAILED: context deadline exceeded") is None


def test_migration_heads_read_from_the_version_files(tmp_path):
    versions = tmp_path / upgrade.MIGRATIONS
    versions.mkdir(parents=True)
    (versions / "0001_initial.py").write_text('revision = "0001"\ndown_revision = None\n')
    assert upgrade.migration_heads(tmp_path) == {"0001"}
    (versions / "0002_more.py").write_text('revision: str = "0002"\ndown_revision: str | None = "0001"\n')
    assert upgrade.migration_heads(tmp_path) == {"0002"}
    here = Path(__file__).resolve().parents[2]
    assert upgrade.migration_heads(here), "the backend's own migrations have a head"
