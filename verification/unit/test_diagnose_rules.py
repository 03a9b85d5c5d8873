"""The diagnosis rules on constructed Kubernetes API objects (V1Pod, CoreV1Event) and plain dicts.

The runtime and cluster tiers' failure tests assert what the diagnosis says; each rule's self-test
here guards the IDs of those tests (``guards``), so a rule that stops seeing its failure turns them
red in the sign-off even when those tiers did not run.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from kubernetes.client import (
    CoreV1Event,
    V1Container,
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateTerminated,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1EnvVar,
    V1EnvVarSource,
    V1HTTPGetAction,
    V1ObjectMeta,
    V1ObjectReference,
    V1Pod,
    V1PodCondition,
    V1PodSpec,
    V1PodStatus,
    V1Probe,
    V1ResourceRequirements,
    V1SecretKeySelector,
)

from harness import diagnose as dx
from harness.kube.quantities import quantity
from harness.providers import flavour_of_context
from verification.static import relying

# Per rule: the IDs of the failure tests that name the rule's finding, kept to those their tier
# proves (EC-5 is the cluster's; the runtime test of a missing image serves US4-2 only).
# test_diagnosis_guards_are_the_ids_of_the_failure_tests_naming_each_rule keeps this in step.
FAILURE_TESTS = {Path(__file__).parents[1] / "runtime" / "test_failures.py": "runtime",
                 Path(__file__).parents[1] / "cluster" / "test_failures.py": "cluster"}
RULE_GUARDS: dict[str, tuple[str, ...]] = {
    "image-not-loaded": ("EC-5", "US4-2"),
    "config-error": ("EC-3", "US4-2"),
    "crash-loop": (),
    "oom-killed": ("FR-013", "US4-2"),
    "insufficient-resources": ("EC-1",),
    "readiness-probe-failing": ("EC-4", "FR-014", "FR-015"),
    "create-container-config-error": (),
}
# `make diagnose` as a person runs it (collect, rules, report): what the cluster tier's failure tests read.
MAKE_DIAGNOSE_GUARDS = ("EC-1", "EC-3", "EC-4", "EC-5", "FR-014", "FR-015")


def guards(rule: str):
    ids = RULE_GUARDS[rule]
    return pytest.mark.guards(*ids) if ids else pytest.mark.harness

KIND = dx.Environment("kind", "todo-verify", "ns1", "todo")
MINIKUBE = dx.Environment("minikube", "minikube", "ns1", "todo")


def make_pod(*, waiting=None, message=None, terminated=None, last_terminated=None, phase="Running", ready=False,
             restarts=0, conditions=(), component="backend", memory="384Mi", env=(), name="todo-backend-abc"):
    state = V1ContainerState(
        waiting=V1ContainerStateWaiting(reason=waiting, message=message) if waiting else None,
        terminated=V1ContainerStateTerminated(exit_code=terminated[1], reason=terminated[0]) if terminated else None,
        running=V1ContainerStateRunning() if not (waiting or terminated) else None,
    )
    last = V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=last_terminated[1],
                                                                  reason=last_terminated[0])) if last_terminated else None
    container = V1Container(
        name=component, image=f"todo-{component}:0.1.0", image_pull_policy="IfNotPresent",
        resources=V1ResourceRequirements(limits={"memory": memory, "cpu": "400m"}),
        readiness_probe=V1Probe(http_get=V1HTTPGetAction(path="/readyz", port=8000)),
        liveness_probe=V1Probe(http_get=V1HTTPGetAction(path="/healthz", port=8000)),
        env=list(env),
    )
    status = V1ContainerStatus(name=component, image=container.image, image_id="", ready=ready,
                               restart_count=restarts, state=state, last_state=last)
    return V1Pod(
        metadata=V1ObjectMeta(name=name, namespace="ns1", labels={"app.kubernetes.io/component": component}),
        spec=V1PodSpec(containers=[container]),
        status=V1PodStatus(phase=phase, container_statuses=[status],
                           conditions=[V1PodCondition(type=t, status=s, reason=r, message=m) for t, s, r, m in conditions]),
    )


def event(reason, message, pod="todo-backend-abc", type_="Warning", count=1):
    return CoreV1Event(metadata=V1ObjectMeta(name="e"), involved_object=V1ObjectReference(kind="Pod", name=pod),
                       reason=reason, message=message, type=type_, count=count)


def findings(pod, events=(), logs=None, env=KIND):
    return dx.diagnose([dx.pod_facts(pod, events, logs)], env)


@guards("image-not-loaded")
@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImageNeverPull", "ErrImagePull"])
def test_image_not_loaded_names_the_kind_load_command(reason):
    [f] = findings(make_pod(waiting=reason, message='Back-off pulling image "todo-backend:0.1.0"'))
    assert f.rule == "image-not-loaded" and "todo-backend:0.1.0" in f.cause and reason in f.cause
    assert "kind load docker-image todo-backend:0.1.0 --name todo-verify" in f.fix


@guards("image-not-loaded")
def test_image_not_loaded_on_minikube_and_docker_desktop():
    [f] = findings(make_pod(waiting="ErrImageNeverPull"), env=MINIKUBE)
    assert "minikube image load todo-backend:0.1.0" in f.fix
    [f] = findings(make_pod(waiting="ErrImageNeverPull"), env=dx.Environment("minikube", "dev"))
    assert "minikube -p dev image load todo-backend:0.1.0" in f.fix
    [f] = findings(make_pod(waiting="ImagePullBackOff"), env=dx.Environment("docker-desktop"))
    assert "make images" in f.fix and "same Docker engine" in f.fix


@guards("config-error")
def test_crashloop_with_the_backends_configuration_error_names_the_variable_and_its_secret_key():
    env = [V1EnvVar(name="JWT_SECRET", value_from=V1EnvVarSource(
        secret_key_ref=V1SecretKeySelector(name="todo-todo-chatbot", key="JWT_SECRET")))]
    pod = make_pod(waiting="CrashLoopBackOff", last_terminated=("Error", 2), restarts=4, env=env)
    logs = {"backend": "starting\ntodo-api: configuration error: JWT_SECRET: must be at least 32 bytes\n"}
    [f] = findings(pod, logs=logs)
    assert f.rule == "config-error" and "JWT_SECRET" in f.cause and "code 2" in f.cause
    assert "secrets.jwtSecret" in f.fix and "Secret todo-todo-chatbot" in f.fix
    assert f.evidence.startswith("todo-api: configuration error")


@guards("config-error")
@pytest.mark.parametrize("lines, name", [
    (["1 validation error for Settings", "database_url", "  Field required [type=missing]"], "DATABASE_URL"),
    (["Error: BACKEND_URL is required"], "BACKEND_URL"),
    (["missing required environment variable FEATURE_CHAT_HISTORY"], "FEATURE_CHAT_HISTORY"),
    (["INFO started", "all fine"], None),
])
def test_config_error_variable_reads_one_and_two_line_forms(lines, name):
    found = dx.config_error_variable(lines)
    assert (found[0] if found else None) == name


@guards("crash-loop")
def test_crashloop_without_a_config_error_points_at_the_previous_log():
    [f] = findings(make_pod(waiting="CrashLoopBackOff", last_terminated=("Error", 1), restarts=3),
                   logs={"backend": "Segmentation fault"})
    assert f.rule == "crash-loop" and "kubectl -n ns1 logs todo-backend-abc -c backend --previous" in f.fix
    assert f.evidence == "Segmentation fault"


@guards("oom-killed")
def test_oom_killed_names_the_limit_to_raise():
    pod = make_pod(waiting="CrashLoopBackOff", last_terminated=("OOMKilled", 137), restarts=2, memory="384Mi")
    [f] = findings(pod)
    assert f.rule == "oom-killed" and "384Mi" in f.cause
    assert "--set backend.resources.limits.memory=768Mi" in f.fix


@guards("insufficient-resources")
def test_pending_with_insufficient_cpu_gives_the_minikube_command():
    message = "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    pod = make_pod(waiting="ContainerCreating", phase="Pending",
                   conditions=[("PodScheduled", "False", "Unschedulable", message)])
    [f] = findings(pod, [event("FailedScheduling", message)], env=MINIKUBE)
    assert f.rule == "insufficient-resources" and "cpu and memory" in f.cause
    assert "minikube delete && minikube start --cpus=4 --memory=6144" in f.fix
    [f] = findings(pod, env=dx.Environment("docker-desktop"))
    assert "Settings → Resources" in f.fix


@guards("insufficient-resources")
def test_a_pod_that_fits_no_node_gets_the_helm_upgrade_that_lowers_its_request():
    """More capacity cannot help a pod that asks for more than the largest node has: the fix is the
    request, back to the chart's default, for this release and namespace."""
    message = "0/1 nodes are available: 1 Insufficient cpu."
    facts = dx.PodFacts(
        "todo-backend-abc", "team-a", "Pending", "backend", "todo",
        conditions=(("PodScheduled", "False", "Unschedulable", message),),
        containers=(dx.ContainerFacts("backend", cpu_request="64"),),
        largest_node=(("cpu", "2"), ("memory", "8Gi")))
    [f] = dx.diagnose([facts], dx.Environment("local"))
    assert "64 cpu" in f.cause and "2 allocatable" in f.cause
    assert f.fix.startswith("lower the request: helm upgrade todo chart/todo-chatbot -n team-a --reuse-values "
                            "--set backend.resources.requests.cpu=")
    fitting = f.fix.split("requests.cpu=")[1].split()[0]
    assert quantity(fitting) <= quantity("2")
    # A pod that would fit an empty node gets the capacity advice instead.
    small = dataclasses.replace(facts, containers=(dx.ContainerFacts("backend", cpu_request="1"),))
    [f] = dx.diagnose([small], dx.Environment("local"))
    assert "no node has enough free cpu" in f.cause and "helm upgrade" not in f.fix


@guards("readiness-probe-failing")
def test_failing_readiness_names_probe_path_and_last_answer():
    pod = make_pod(ready=False)
    events = [event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=3),
              event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=7)]
    [f] = findings(pod, events)
    assert f.rule == "readiness-probe-failing" and "GET :8000/readyz" in f.cause and "7×" in f.cause
    assert f.evidence == "last answer: HTTP probe failed with statuscode: 503"
    assert "DATABASE_URL" in f.fix  # the backend's readiness checks the database


@guards("create-container-config-error")
def test_create_container_config_error_names_the_missing_secret_or_key():
    [f] = findings(make_pod(waiting="CreateContainerConfigError",
                            message="couldn't find key JWT_SECRET in Secret ns1/todo-chatbot-credentials"))
    assert "Secret todo-chatbot-credentials has no key JWT_SECRET" == f.cause
    assert "kubectl -n ns1 patch secret todo-chatbot-credentials" in f.fix and "secrets.jwtSecret" in f.fix
    [f] = findings(make_pod(waiting="CreateContainerConfigError", message='secret "todo-chatbot-credentials" not found'))
    assert f.cause == "Secret todo-chatbot-credentials does not exist"
    assert "kubectl -n ns1 create secret generic todo-chatbot-credentials" in f.fix


def test_healthy_pod_has_no_finding_and_events_of_other_pods_are_ignored():
    pod = make_pod(ready=True)
    assert findings(pod, [event("Unhealthy", "Readiness probe failed: 503", pod="someone-else")]) == []


def test_plain_dicts_from_kubectl_json_are_accepted():
    pod = {"metadata": {"name": "p", "namespace": "ns1", "labels": {"app.kubernetes.io/component": "frontend"}},
           "spec": {"containers": [{"name": "frontend", "image": "todo-frontend:0.1.0", "imagePullPolicy": "Never"}]},
           "status": {"phase": "Pending", "containerStatuses": [{
               "name": "frontend", "image": "todo-frontend:0.1.0", "imageID": "", "ready": False, "restartCount": 0,
               "state": {"waiting": {"reason": "ErrImageNeverPull"}}}]}}
    facts = dx.pod_facts(pod, [{"involvedObject": {"kind": "Pod", "name": "p"}, "metadata": {"name": "e"},
                                "reason": "ErrImageNeverPull", "type": "Warning", "message": "never pull"}])
    assert facts.component == "frontend" and facts.events[0].reason == "ErrImageNeverPull"
    [f] = dx.diagnose([facts], KIND)
    assert "kind load docker-image todo-frontend:0.1.0" in f.fix and "--set frontend.image.tag" in f.fix


@guards("oom-killed")
def test_rules_work_on_facts_from_anywhere_such_as_docker_inspect():
    """The runtime tier builds facts from a Docker container; the same rules apply."""
    facts = dx.PodFacts("todo-backend-1", containers=(dx.ContainerFacts(
        "backend", state="terminated", reason="OOMKilled", exit_code=137, memory_limit="256Mi"),), component="backend")
    [f] = dx.diagnose([facts], dx.Environment("docker"))
    assert f.rule == "oom-killed" and "512Mi" in f.fix


@pytest.mark.guards(*MAKE_DIAGNOSE_GUARDS)
def test_collect_and_report_with_a_fake_api():
    pod = make_pod(waiting="CrashLoopBackOff", last_terminated=("Error", 2), restarts=1)

    class Items:
        def __init__(self, items):
            self.items = items

    class FakeCore:
        def list_namespaced_pod(self, ns, label_selector=""):
            return Items([pod])

        def list_namespaced_event(self, ns):
            return Items([event("BackOff", "Back-off restarting failed container")])

        def read_namespaced_pod_log(self, name, ns, container, tail_lines, previous):
            return "todo-api: configuration error: DATABASE_URL: Field required\n" if previous else ""

    pods = dx.collect(FakeCore(), "ns1")
    report = dx.format_report(pods, dx.diagnose(pods, KIND), header="== test")
    assert "container backend: waiting (CrashLoopBackOff), ready=False, restarts=1" in report
    assert "event Warning BackOff" in report and "| todo-api: configuration error" in report
    assert "[config-error]" in report and "secrets.databaseUrl" in report


def test_cli_reports_an_unreachable_cluster_with_exit_code_2(tmp_path, capsys):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: dead\n  context: {cluster: dead, user: u}\nusers:\n- name: u\n  user: {token: x}\n")
    assert dx.main(["--kubeconfig", str(kubeconfig), "-n", "ns1"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the cluster" in err and "kubectl config get-contexts" in err


def test_environment_from_context_name():
    assert flavour_of_context("kind-dev") == dx.Environment("kind", "dev")
    assert flavour_of_context("docker-desktop").provider == "docker-desktop"
    assert flavour_of_context("minikube") == dx.Environment("minikube", "minikube")
    assert flavour_of_context("prod-eks").provider == "unknown"


def test_diagnosis_guards_are_the_ids_of_the_failure_tests_naming_each_rule() -> None:
    derived: dict[str, set[str]] = {rule: set() for rule in RULE_GUARDS}
    make_diagnose: set[str] = set()
    for path, tier in FAILURE_TESTS.items():
        for fn in relying.tests_in(path):
            ids = relying.proved_at(relying.requirement_ids(fn), tier)
            texts = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            for rule in RULE_GUARDS:
                if any(text == rule or f"[{rule}]" in text for text in texts):  # f.rule == "x", "[x]" in report
                    derived[rule] |= ids
            if "make_diagnose" in relying.names_used(fn):
                make_diagnose |= ids
    assert {rule: set(ids) for rule, ids in RULE_GUARDS.items()} == derived
    assert set(MAKE_DIAGNOSE_GUARDS) == make_diagnose
