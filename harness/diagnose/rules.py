"""Diagnosis: from pod facts to a plain-language cause and the command that fixes it.

Three layers, so the rules do not care where the facts came from:

* **facts** — :class:`PodFacts`, :class:`ContainerFacts`, :class:`EventFacts`: plain frozen
  dataclasses. The cluster tier fills them from Kubernetes API objects (:func:`pod_facts`,
  which also accepts the plain dicts of ``kubectl get -o json``); the runtime tier can fill
  them from ``docker inspect`` (a container's ``OOMKilled``, exit code, health log).
* **rules** — ``rule_*`` functions: ``(PodFacts, Environment) -> list[Finding]``. Each names
  the cause and the fix; :data:`RULES` lists them, :func:`diagnose` runs them all.
* **collection and report** — :func:`collect` reads a namespace through the ``kubernetes``
  client; :func:`format_report` prints events, conditions, container states, restarts, last
  log lines and the findings. ``python -m harness.diagnose`` is ``make diagnose``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import contract

# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeFacts:
    """One probe of a container: ``kind`` is readiness, liveness or startup."""

    kind: str
    path: str | None = None
    port: int | str | None = None
    handler: str = "httpGet"  # httpGet | tcpSocket | exec | grpc

    def describe(self) -> str:
        if self.handler == "httpGet":
            return f"{self.kind} probe GET :{self.port}{self.path or '/'}"
        return f"{self.kind} probe ({self.handler} {self.port or ''})".rstrip()


@dataclass(frozen=True)
class ContainerFacts:
    """What is known about one container: its state now, its last termination, its spec."""

    name: str
    image: str = ""
    ready: bool | None = None
    state: str = "unknown"  # waiting | running | terminated | unknown
    reason: str | None = None  # waiting or terminated reason (ImagePullBackOff, OOMKilled, ...)
    message: str | None = None
    exit_code: int | None = None
    last_reason: str | None = None  # reason of the previous termination
    last_exit_code: int | None = None
    restart_count: int = 0
    memory_limit: str | None = None
    cpu_limit: str | None = None
    pull_policy: str | None = None
    probes: tuple[ProbeFacts, ...] = ()
    # env name -> "secret:NAME/KEY" | "configmap:NAME/KEY" | "literal" | "field"
    env_sources: Mapping[str, str] = field(default_factory=dict)
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventFacts:
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int = 1
    object_kind: str = "Pod"
    object_name: str = ""


@dataclass(frozen=True)
class PodFacts:
    name: str
    namespace: str = "default"
    phase: str = "Unknown"
    component: str | None = None  # app.kubernetes.io/component
    # (type, status, reason, message), e.g. ("PodScheduled", "False", "Unschedulable", "0/1 nodes ...")
    conditions: tuple[tuple[str, str, str | None, str | None], ...] = ()
    containers: tuple[ContainerFacts, ...] = ()
    events: tuple[EventFacts, ...] = ()

    def condition(self, kind: str) -> tuple[str, str, str | None, str | None] | None:
        return next((c for c in self.conditions if c[0] == kind), None)


@dataclass(frozen=True)
class Environment:
    """Where the pods run, so that a fix can be an exact command.

    ``provider``: kind | minikube | docker-desktop | docker (the runtime tier) | unknown;
    ``cluster``: the kind cluster name or the Minikube profile.
    """

    provider: str = "unknown"
    cluster: str | None = None
    namespace: str | None = None
    release: str | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    pod: str
    container: str | None
    cause: str
    fix: str
    evidence: str = ""

    def format(self) -> str:
        where = f"{self.pod}/{self.container}" if self.container else self.pod
        text = f"[{self.rule}] {where}\n  cause: {self.cause}\n  fix:   {self.fix}"
        if self.evidence:
            text += f"\n  seen:  {self.evidence}"
        return text


# --- fix commands that depend on the cluster ---------------------------------------------------


def load_command(image: str, env: Environment) -> str:
    """The exact command that makes a locally built ``image`` available to the cluster."""
    if env.provider == "kind":
        return f"kind load docker-image {image} --name {env.cluster or 'kind'}"
    if env.provider == "minikube":
        profile = f" -p {env.cluster}" if env.cluster and env.cluster != "minikube" else ""
        return f"minikube{profile} image load {image}"
    if env.provider in ("docker-desktop", "docker"):
        return (
            f"build it into the same Docker engine ('make images'; check with 'docker image inspect {image}'): "
            "that engine's images are the cluster's images"
        )
    return (
        f"load {image} into the cluster's container runtime (kind: 'kind load docker-image {image}', "
        f"Minikube: 'minikube image load {image}') or push it to a registry the cluster can pull from"
    )


def more_resources_command(env: Environment, cpus: int = 4, memory_mib: int = 6144) -> str:
    if env.provider == "minikube":
        profile = f" -p {env.cluster}" if env.cluster and env.cluster != "minikube" else ""
        return (
            f"minikube{profile} delete && minikube{profile} start --cpus={cpus} --memory={memory_mib} "
            "(Minikube cannot resize an existing cluster), or lower the requests: "
            "--set backend.replicaCount=1 --set frontend.replicaCount=1"
        )
    if env.provider == "docker-desktop":
        return (
            f"Docker Desktop → Settings → Resources: give it at least {cpus} CPUs and {memory_mib // 1024} GB, "
            "then Apply & restart; or lower the replica counts (--set backend.replicaCount=1)"
        )
    if env.provider == "kind":
        return (
            f"kind nodes share the Docker engine's CPUs and memory: give the engine at least {cpus} CPUs and "
            f"{memory_mib // 1024} GB, or lower the replica counts (--set backend.replicaCount=1)"
        )
    return "add a node or capacity, or lower the requests/replica counts (--set backend.replicaCount=1)"


# Values keys of the chart for the credentials (one place; the chart's values.yaml agrees).
SECRET_VALUES_KEYS = {
    "DATABASE_URL": "secrets.databaseUrl",
    "JWT_SECRET": "secrets.jwtSecret",
    "OPENAI_API_KEY": "secrets.openaiApiKey",
}
KNOWN_ENV = tuple(
    dict.fromkeys(
        contract.BACKEND_REQUIRED_ENV
        + contract.BACKEND_OPTIONAL_ENV
        + contract.FRONTEND_REQUIRED_ENV
        + contract.FRONTEND_OPTIONAL_ENV
    )
)

# --- rules -----------------------------------------------------------------------------------

IMAGE_NOT_AVAILABLE = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
CONFIG_ERROR_WORDS = re.compile(
    r"(missing|required|not set|unset|invalid|malformed|must|validation error|configuration error|"
    r"config error|is empty|too short|cannot parse|could not parse)",
    re.IGNORECASE,
)
UPPER_SNAKE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")


def _name_of(container: ContainerFacts, pod: PodFacts) -> str:
    return pod.component or container.name


def config_error_variable(lines: Sequence[str], known: Sequence[str] = KNOWN_ENV) -> tuple[str, str] | None:
    """The variable named by the last configuration-error line of ``lines``, and that line.

    Understands one-line messages (``JWT_SECRET must be at least 32 bytes``,
    ``missing required environment variable DATABASE_URL``) and pydantic-settings'
    two-line form (``database_url`` then ``  Field required [type=missing ...]``).
    """
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if not CONFIG_ERROR_WORDS.search(line):
            continue
        window = [line] + ([lines[index - 1]] if index > 0 else [])
        for text in window:
            for name in known:
                if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text, re.IGNORECASE):
                    return name, line.strip()
        if match := UPPER_SNAKE.search(line):
            return match.group(1), line.strip()
    return None


def rule_image_not_loaded(pod: PodFacts, env: Environment) -> list[Finding]:
    findings = []
    for c in pod.containers:
        if c.state == "waiting" and c.reason in IMAGE_NOT_AVAILABLE:
            cause = f"image {c.image} is not available to the cluster ({c.reason})"
            if c.reason == "ErrImageNeverPull":
                cause += "; imagePullPolicy is Never, so it must be loaded into the node"
            elif c.pull_policy == "Always":
                cause += "; imagePullPolicy Always makes the node pull even a loaded image"
            fix = load_command(c.image, env)
            if c.pull_policy == "Always":
                fix += "; and use --set <component>.image.pullPolicy=IfNotPresent"
            fix += f"; or point at an existing tag: --set {_name_of(c, pod)}.image.tag=<tag>"
            findings.append(Finding("image-not-loaded", pod.name, c.name, cause, fix, c.message or ""))
    return findings


def _env_hint(name: str, container: ContainerFacts, env: Environment) -> str:
    source = container.env_sources.get(name)
    ns = f" -n {env.namespace}" if env.namespace else ""
    if source and source.startswith(("secret:", "configmap:")):
        kind, ref = source.split(":", 1)
        obj, _, key = ref.partition("/")
        where = f"key {key} of {'Secret' if kind == 'secret' else 'ConfigMap'} {obj}"
        look = f"kubectl{ns} get {kind} {obj} -o yaml"
    else:
        where, look = "the container's environment", f"kubectl{ns} describe pod"
    if name in SECRET_VALUES_KEYS:
        release = env.release or "<release>"
        return (
            f"set {name} ({where}): helm upgrade {release} chart/todo-chatbot --reuse-values "
            f"--set {SECRET_VALUES_KEYS[name]}=<value>; then kubectl{ns} rollout restart deployment "
            f"(inspect: {look})"
        )
    return f"correct {name} ({where}; inspect: {look}), then restart the deployment"


def rule_crashloop(pod: PodFacts, env: Environment) -> list[Finding]:
    findings = []
    for c in pod.containers:
        crashing = (c.state == "waiting" and c.reason == "CrashLoopBackOff") or (
            c.state == "terminated" and c.exit_code not in (None, 0) and c.reason != "OOMKilled"
        )
        if not crashing or c.last_reason == "OOMKilled" or c.reason == "OOMKilled":
            continue
        exit_code = c.last_exit_code if c.last_exit_code is not None else c.exit_code
        if found := config_error_variable(c.log_tail):
            name, line = found
            findings.append(
                Finding(
                    "config-error",
                    pod.name,
                    c.name,
                    f"the container exits at start-up (code {exit_code}) on a configuration error in {name}",
                    _env_hint(name, c, env),
                    line,
                )
            )
        else:
            last = c.log_tail[-1].strip() if c.log_tail else "(no log output)"
            ns = f" -n {env.namespace}" if env.namespace else ""
            findings.append(
                Finding(
                    "crash-loop",
                    pod.name,
                    c.name,
                    f"the container keeps exiting (code {exit_code}, {c.restart_count} restarts)",
                    f"read the whole log: kubectl{ns} logs {pod.name} -c {c.name} --previous",
                    last,
                )
            )
    return findings


def _double(quantity: str | None) -> str:
    if not quantity:
        return "512Mi"
    match = re.fullmatch(r"(\d+)(Mi|Gi|M|G|Ki|K)?", quantity)
    if not match:
        return quantity + " × 2"
    return f"{int(match.group(1)) * 2}{match.group(2) or ''}"


def rule_oom_killed(pod: PodFacts, env: Environment) -> list[Finding]:
    findings = []
    for c in pod.containers:
        if "OOMKilled" in (c.reason, c.last_reason):
            component = _name_of(c, pod)
            findings.append(
                Finding(
                    "oom-killed",
                    pod.name,
                    c.name,
                    f"the container was killed for exceeding its memory limit ({c.memory_limit or 'unknown'})",
                    f"raise {component}.resources.limits.memory: --set {component}.resources.limits.memory="
                    f"{_double(c.memory_limit)} (and check the budget of 2 GiB in total)",
                    f"{c.restart_count} restarts",
                )
            )
    return findings


def rule_unschedulable(pod: PodFacts, env: Environment) -> list[Finding]:
    if pod.phase != "Pending":
        return []
    messages = []
    cond = pod.condition("PodScheduled")
    if cond and cond[1] == "False" and cond[3]:
        messages.append(cond[3])
    messages += [e.message for e in pod.events if e.reason == "FailedScheduling"]
    short = sorted({kind for m in messages for kind in re.findall(r"Insufficient (cpu|memory)", m)})
    if not short:
        return []
    return [
        Finding(
            "insufficient-resources",
            pod.name,
            None,
            f"no node has enough free {' and '.join(short)} for the pod's requests",
            more_resources_command(env),
            messages[-1],
        )
    ]


PROBE_FAILED = re.compile(r"^(Readiness|Liveness|Startup) probe failed:\s*(.*)$", re.DOTALL)


def rule_probe_failing(pod: PodFacts, env: Environment) -> list[Finding]:
    findings = []
    seen: set[tuple[str, str]] = set()
    for event in reversed(pod.events):  # newest last in the input: report the latest answer
        if event.reason != "Unhealthy" or not (match := PROBE_FAILED.match(event.message.strip())):
            continue
        kind, answer = match.group(1).lower(), match.group(2).strip()
        container = next((c for c in pod.containers if any(p.kind == kind for p in c.probes)), None)
        key = (kind, container.name if container else "")
        if key in seen:
            continue
        seen.add(key)
        probe = next((p for p in container.probes if p.kind == kind), None) if container else None
        what = probe.describe() if probe else f"{kind} probe"
        fix = f"make {what.split(' probe')[-1].strip() or 'the probe'} answer 2xx"
        if container is not None and probe is not None:
            fix = f"find why {probe.path or 'the probe'} on port {probe.port} does not answer 2xx"
        if probe and probe.path == contract.BACKEND_READINESS_PATH:
            fix += (
                "; the backend is ready only when the database answers: check DATABASE_URL and that "
                "PostgreSQL is reachable from the pod"
            )
        fix += f" (kubectl{' -n ' + env.namespace if env.namespace else ''} logs {pod.name})"
        findings.append(
            Finding(
                f"{kind}-probe-failing",
                pod.name,
                container.name if container else None,
                f"the {what} fails ({event.count}×)",
                fix,
                f"last answer: {answer}",
            )
        )
    return findings


SECRET_MISSING = re.compile(r'(secret|configmap) "([^"]+)" not found', re.IGNORECASE)
KEY_MISSING = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (\S+)", re.IGNORECASE)


def rule_create_container_config_error(pod: PodFacts, env: Environment) -> list[Finding]:
    findings = []
    ns = f" -n {env.namespace}" if env.namespace else ""
    for c in pod.containers:
        if not (c.state == "waiting" and c.reason == "CreateContainerConfigError"):
            continue
        message = c.message or ""
        if match := KEY_MISSING.search(message):
            key, kind, ref = match.groups()
            obj = ref.split("/")[-1]
            cause = f"{kind} {obj} has no key {key}"
            fix = (
                f"add it: kubectl{ns} patch {kind.lower()} {obj} --type merge -p "
                f"'{{\"stringData\":{{\"{key}\":\"<value>\"}}}}'"
                if kind.lower() == "secret"
                else f"add {key} to ConfigMap {obj}: kubectl{ns} edit configmap {obj}"
            )
            if key in SECRET_VALUES_KEYS:
                fix += f", or let the chart create it: --set {SECRET_VALUES_KEYS[key]}=<value>"
        elif match := SECRET_MISSING.search(message):
            kind, obj = match.groups()
            cause = f"{kind.capitalize()} {obj} does not exist"
            fix = (
                f"create it: kubectl{ns} create secret generic {obj} --from-literal=DATABASE_URL=... "
                "--from-literal=JWT_SECRET=... (the name given in secrets.existingSecret), or drop "
                "secrets.existingSecret and set secrets.databaseUrl/secrets.jwtSecret"
                if kind.lower() == "secret"
                else f"create ConfigMap {obj} or install the chart that owns it"
            )
        else:
            cause, fix = "the container's configuration cannot be built", f"kubectl{ns} describe pod {pod.name}"
        findings.append(Finding("create-container-config-error", pod.name, c.name, cause, fix, message))
    return findings


Rule = Callable[[PodFacts, Environment], list[Finding]]
RULES: tuple[Rule, ...] = (
    rule_image_not_loaded,
    rule_create_container_config_error,
    rule_oom_killed,
    rule_crashloop,
    rule_unschedulable,
    rule_probe_failing,
)


def diagnose(pods: Iterable[PodFacts], env: Environment = Environment()) -> list[Finding]:
    """Every finding of every rule for every pod, in the order of the pods."""
    return [finding for pod in pods for rule in RULES for finding in rule(pod, env)]


# --- adapters from Kubernetes API objects --------------------------------------------------------


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def as_api_object(data: Any, klass: str) -> Any:
    """A ``kubernetes.client`` model from a plain dict (``kubectl get -o json``), or ``data`` itself."""
    if not isinstance(data, dict):
        return data
    from kubernetes.client import ApiClient

    return ApiClient()._ApiClient__deserialize(data, klass)  # noqa: SLF001 - the client's own decoder


def _probe(kind: str, probe: Any) -> ProbeFacts | None:
    if probe is None:
        return None
    if (http := probe.http_get) is not None:
        return ProbeFacts(kind, http.path, http.port, "httpGet")
    if (tcp := probe.tcp_socket) is not None:
        return ProbeFacts(kind, None, tcp.port, "tcpSocket")
    if probe._exec is not None:  # noqa: SLF001 - the model's name for 'exec'
        return ProbeFacts(kind, None, None, "exec")
    return ProbeFacts(kind, None, None, "grpc")


def _env_sources(spec: Any) -> dict[str, str]:
    sources: dict[str, str] = {}
    for var in spec.env or []:
        ref = var.value_from
        if ref is None:
            sources[var.name] = "literal"
        elif ref.secret_key_ref is not None:
            sources[var.name] = f"secret:{ref.secret_key_ref.name}/{ref.secret_key_ref.key}"
        elif ref.config_map_key_ref is not None:
            sources[var.name] = f"configmap:{ref.config_map_key_ref.name}/{ref.config_map_key_ref.key}"
        else:
            sources[var.name] = "field"
    return sources


def _state(state: Any) -> tuple[str, str | None, str | None, int | None]:
    if state is None:
        return "unknown", None, None, None
    if state.waiting is not None:
        return "waiting", state.waiting.reason, state.waiting.message, None
    if state.terminated is not None:
        t = state.terminated
        return "terminated", t.reason, t.message, t.exit_code
    if state.running is not None:
        return "running", None, None, None
    return "unknown", None, None, None


def pod_facts(pod: Any, events: Iterable[Any] = (), logs: Mapping[str, str] | None = None) -> PodFacts:
    """:class:`PodFacts` from a ``V1Pod`` (or its dict), its ``CoreV1Event``s and logs per container."""
    pod = as_api_object(pod, "V1Pod")
    logs = logs or {}
    specs = {c.name: c for c in (_get(pod, "spec", "containers") or [])}
    statuses = {s.name: s for s in (_get(pod, "status", "container_statuses") or [])}
    containers = []
    for name, spec in specs.items():
        status = statuses.get(name)
        state, reason, message, exit_code = _state(status.state if status else None)
        last_state, last_reason, _, last_exit = _state(status.last_state if status else None)
        limits = _get(spec, "resources", "limits") or {}
        probes = tuple(
            p
            for p in (
                _probe("readiness", spec.readiness_probe),
                _probe("liveness", spec.liveness_probe),
                _probe("startup", spec.startup_probe),
            )
            if p is not None
        )
        containers.append(
            ContainerFacts(
                name=name,
                image=spec.image or "",
                ready=status.ready if status else None,
                state=state,
                reason=reason,
                message=message,
                exit_code=exit_code,
                last_reason=last_reason if last_state == "terminated" else None,
                last_exit_code=last_exit if last_state == "terminated" else None,
                restart_count=status.restart_count if status else 0,
                memory_limit=limits.get("memory"),
                cpu_limit=limits.get("cpu"),
                pull_policy=spec.image_pull_policy,
                probes=probes,
                env_sources=_env_sources(spec),
                log_tail=tuple((logs.get(name) or "").splitlines()[-40:]),
            )
        )
    name = _get(pod, "metadata", "name") or "?"
    event_facts = []
    for raw in events:
        event = as_api_object(raw, "CoreV1Event")
        involved = event.involved_object
        if involved is not None and involved.name not in (None, name):
            continue
        event_facts.append(
            EventFacts(
                type=event.type or "Normal",
                reason=event.reason or "",
                message=event.message or "",
                count=event.count or 1,
                object_kind=(involved.kind if involved else None) or "Pod",
                object_name=(involved.name if involved else None) or name,
            )
        )
    conditions = tuple(
        (c.type, c.status, c.reason, c.message) for c in (_get(pod, "status", "conditions") or [])
    )
    labels = _get(pod, "metadata", "labels") or {}
    return PodFacts(
        name=name,
        namespace=_get(pod, "metadata", "namespace") or "default",
        phase=_get(pod, "status", "phase") or "Unknown",
        component=labels.get("app.kubernetes.io/component"),
        conditions=conditions,
        containers=tuple(containers),
        events=tuple(event_facts),
    )


# --- collection from a live cluster and the report -------------------------------------------------


def collect(core: Any, namespace: str, selector: str | None = None, log_lines: int = 40) -> list[PodFacts]:
    """Pods of ``namespace`` (optionally by label ``selector``) with their events and last logs."""
    pods = core.list_namespaced_pod(namespace, label_selector=selector or "").items
    events = core.list_namespaced_event(namespace).items
    events.sort(key=lambda e: str(e.last_timestamp or e.event_time or e.first_timestamp or ""))
    result = []
    for pod in pods:
        logs: dict[str, str] = {}
        for status in pod.status.container_statuses or []:
            for previous in ([True] if status.restart_count else []) + [False]:
                try:
                    text = core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=status.name, tail_lines=log_lines,
                        previous=previous,
                    )
                except Exception:  # noqa: BLE001 - no logs yet (waiting container) is normal
                    continue
                if text:
                    logs[status.name] = text
                    break
        mine = [e for e in events if e.involved_object and e.involved_object.name == pod.metadata.name]
        result.append(pod_facts(pod, mine, logs))
    return result


def format_report(pods: Sequence[PodFacts], findings: Sequence[Finding], header: str = "") -> str:
    out = [header] if header else []
    if not pods:
        out.append("no pods found")
    for pod in pods:
        out.append(f"pod {pod.namespace}/{pod.name}: phase {pod.phase}")
        for kind, status, reason, message in pod.conditions:
            if status != "True":
                out.append(f"  condition {kind}={status} {reason or ''} {message or ''}".rstrip())
        for c in pod.containers:
            state = f"{c.state}" + (f" ({c.reason})" if c.reason else "")
            last = f", last terminated {c.last_reason} code {c.last_exit_code}" if c.last_reason else ""
            out.append(f"  container {c.name}: {state}, ready={c.ready}, restarts={c.restart_count}{last}")
            if c.message:
                out.append(f"    message: {c.message}")
            for line in c.log_tail[-10:]:
                out.append(f"    | {line}")
        for e in pod.events:
            if e.type != "Normal":
                out.append(f"  event {e.type} {e.reason} ×{e.count}: {e.message}")
    out.append("")
    out.append("diagnosis:" if findings else "diagnosis: no known failure pattern found")
    out.extend(f.format() for f in findings)
    return "\n".join(out)


def environment_for_context(context: str | None) -> Environment:
    """Guess the provider from a kubeconfig context name (kind-NAME, minikube, docker-desktop)."""
    if not context:
        return Environment()
    if context.startswith("kind-"):
        return Environment("kind", context.removeprefix("kind-"))
    if context == "docker-desktop" or context == "docker-for-desktop":
        return Environment("docker-desktop")
    if context == "minikube":
        return Environment("minikube", "minikube")
    return Environment()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.diagnose",
        description="Diagnose the todo-chatbot pods: states, events, last logs, cause and fix (read-only).",
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one, printed)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("-n", "--namespace", help="namespace (default: every namespace with the chart's pods)")
    parser.add_argument(
        "-l", "--selector", default="app.kubernetes.io/name=todo-chatbot", help="pod label selector"
    )
    parser.add_argument("--provider", help="kind[:NAME] | minikube[:PROFILE] | docker-desktop (default: from context)")
    args = parser.parse_args(argv)

    from kubernetes import client, config

    try:
        contexts, current = config.list_kube_config_contexts(config_file=args.kubeconfig)
        context = args.context or current["name"]
        api = config.new_client_from_config(config_file=args.kubeconfig, context=context)
        core = client.CoreV1Api(api)
        client.VersionApi(api).get_code(_request_timeout=10)
        if args.namespace:
            namespaces = [args.namespace]
        else:
            pods = core.list_pod_for_all_namespaces(label_selector=args.selector).items
            namespaces = sorted({p.metadata.namespace for p in pods}) or []
    except Exception as exc:  # noqa: BLE001 - an unreachable cluster is the diagnosis here
        print(
            f"diagnose: cannot reach the cluster ({type(exc).__name__}: {exc}). Is it running? "
            "'minikube status' / 'kind get clusters' / Docker Desktop → Kubernetes; "
            "'kubectl config get-contexts' lists the contexts",
            file=sys.stderr,
        )
        return 2
    env = environment_for_context(context)
    if args.provider:
        kind, _, name = args.provider.partition(":")
        env = Environment(kind, name or (None if kind != "minikube" else "minikube"))
    if not namespaces:
        print(f"context {context}: no pods match {args.selector} in any namespace (is the chart installed?)")
        return 0
    for namespace in namespaces:
        pods = collect(core, namespace, args.selector)
        ns_env = Environment(env.provider, env.cluster, namespace, env.release)
        print(format_report(pods, diagnose(pods, ns_env), header=f"== context {context}, namespace {namespace}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
