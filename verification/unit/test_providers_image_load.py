"""Harness self-tests: the one place that knows how an image reaches each kind of cluster, and the
diagnosis and ``python -m harness.providers`` (used by scripts/deploy.sh) taking it from there."""

from __future__ import annotations

import sys

import pytest

from harness import diagnose as dx
from harness.providers import (
    Environment,
    flavour_of_context,
    image_load_argv,
    image_load_command,
    more_resources_command,
    parse_provider,
)
from harness.providers.commands import main as providers_main
from verification.unit.test_diagnose_rules import event, findings, make_pod

pytestmark = pytest.mark.harness

IMAGE = "todo-backend:0.1.0"
LOCAL = Environment("local", "todo-local", "ns1", "todo")


@pytest.mark.parametrize("env, command", [
    (Environment("kind", "todo-verify"), "kind load docker-image todo-backend:0.1.0 --name todo-verify"),
    (Environment("kind"), "kind load docker-image todo-backend:0.1.0 --name kind"),
    (Environment("minikube", "minikube"), "minikube image load todo-backend:0.1.0"),
    (Environment("minikube", "dev"), "minikube -p dev image load todo-backend:0.1.0"),
    (Environment("docker-desktop"), None),
    (Environment("docker"), None),
    (LOCAL, ".venv/bin/python -m harness.localk8s load todo-backend:0.1.0"),
    (Environment("unknown"), None),
    (Environment(), None),
])
def test_image_load_command_per_provider(env, command):
    assert image_load_command(IMAGE, env) == command


def test_image_load_argv_runs_the_local_loader_with_this_interpreter():
    assert image_load_argv(IMAGE, LOCAL) == [sys.executable, "-m", "harness.localk8s", "load", IMAGE]
    assert image_load_argv(IMAGE, Environment("minikube", "minikube")) == [
        "minikube", "-p", "minikube", "image", "load", IMAGE]
    assert image_load_argv(IMAGE, Environment("docker-desktop")) is None
    assert image_load_argv(IMAGE, Environment("unknown")) is None


def test_the_local_clusters_context_and_provider_option_are_the_local_provider():
    assert flavour_of_context("todo-local") == Environment("local", "todo-local")
    assert flavour_of_context(None) == Environment()
    assert parse_provider("local") == Environment("local", "todo-local")
    assert parse_provider("minikube") == Environment("minikube", "minikube")
    assert parse_provider("kind:dev") == Environment("kind", "dev")


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImageNeverPull"])
def test_diagnosis_on_the_local_cluster_names_the_local_loader(reason):
    [f] = findings(make_pod(waiting=reason, message='Back-off pulling image "todo-backend:0.1.0"'), env=LOCAL)
    assert f.rule == "image-not-loaded"
    assert image_load_command(IMAGE, LOCAL) in f.fix
    assert "kind load" not in f.fix and "minikube" not in f.fix


def test_diagnosis_of_an_unknown_cluster_names_both_loaders_or_a_registry():
    [f] = findings(make_pod(waiting="ErrImageNeverPull"), env=Environment("unknown"))
    assert "kind load docker-image todo-backend:0.1.0" in f.fix and "minikube image load todo-backend:0.1.0" in f.fix
    assert "registry" in f.fix


def test_more_room_on_the_local_cluster_is_this_machines_not_minikubes():
    message = "0/1 nodes are available: 1 Insufficient cpu."
    pod = make_pod(waiting="ContainerCreating", phase="Pending",
                   conditions=[("PodScheduled", "False", "Unschedulable", message)])
    [f] = findings(pod, [event("FailedScheduling", message)], env=LOCAL)
    assert f.rule == "insufficient-resources" and f.fix == more_resources_command(LOCAL)
    assert "this machine" in f.fix and "replicaCount=1" in f.fix
    assert "minikube" not in f.fix and "Docker Desktop" not in f.fix


def test_providers_cli_prints_the_load_commands_for_deploy_sh(capsys):
    assert providers_main(["load-command", "--context", "todo-local", IMAGE, "todo-frontend:0.1.0"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        ".venv/bin/python -m harness.localk8s load todo-backend:0.1.0",
        ".venv/bin/python -m harness.localk8s load todo-frontend:0.1.0",
    ]
    assert providers_main(["load-command", "--context", "docker-desktop", IMAGE]) == 0
    assert capsys.readouterr().out == ""
    assert providers_main(["load", "--context", "prod-eks", IMAGE]) == 0  # nothing run: no registry assumed
    assert "yourself" in capsys.readouterr().out


def test_diagnose_package_is_the_public_face():
    for name in dx.__all__:
        assert hasattr(dx, name), name
    assert {"collect", "diagnose", "format_report", "Environment", "pod_facts", "main"} <= set(dx.__all__)
    assert dx.Environment is Environment


@pytest.mark.parametrize("env", [Environment("kind", "todo-verify"), Environment("minikube", "dev"), LOCAL,
                                 Environment("docker-desktop"), Environment("unknown")])
def test_every_cluster_an_image_is_loaded_into_can_have_it_removed_again(env):
    """The mutation runner loads each seeded defect's images and must not leave them behind."""
    from harness.providers.commands import image_remove_argv

    load, remove = image_load_argv(IMAGE, env, python="py"), image_remove_argv(IMAGE, env, python="py")
    assert (load is None) == (remove is None), (load, remove)
    if remove:
        assert remove[-1] == IMAGE and {"rm", "rmi", "unload"} & set(remove), remove
