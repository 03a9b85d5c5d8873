"""Rules: from pod facts to a plain-language cause and the command that fixes it.

Each ``rule_*`` function is ``(PodFacts, Environment) -> list[Finding]`` and names the cause and
the fix; :data:`RULES` lists them, :func:`diagnose` runs them all. Fixes that depend on the kind of
cluster (loading an image, more room for pods) come from :mod:`harness.providers`, which also
defines :class:`Environment`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from harness import contract
from harness.diagnose.facts import ContainerFacts, PodFacts
from harness.kube.quantities import quantity
from harness.providers import Environment, image_load_advice, more_resources_command


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
            fix = image_load_advice(c.image, env)
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
    if oversized := _requests_beyond_any_node(pod, short, env):
        cause, fix = oversized
    else:
        cause = f"no node has enough free {' and '.join(short)} for the pod's requests"
        fix = more_resources_command(env)
    return [Finding("insufficient-resources", pod.name, None, cause, fix, messages[-1])]


def _requests_beyond_any_node(pod: PodFacts, short: list[str], env: Environment) -> tuple[str, str] | None:
    """When the pod alone asks for more than the largest node has: no capacity elsewhere helps, the
    request must come down. Returns (cause, fix) with the exact ``helm upgrade`` to run."""
    node = dict(pod.largest_node)
    for kind in short:
        if kind not in node:
            continue
        asked = [(c, getattr(c, f"{kind}_request")) for c in pod.containers if getattr(c, f"{kind}_request")]
        total = sum((quantity(value) for _, value in asked), start=quantity("0"))
        if not asked or total <= quantity(node[kind]):
            continue
        container, value = max(asked, key=lambda item: quantity(item[1]))
        component = pod.component or container.name
        fitting = _chart_default_request(component, kind) or _half(node[kind], kind)
        cause = (f"the pod requests {value} {kind} ({component}.resources.requests.{kind}), more than the largest "
                 f"node can ever offer ({node[kind]} allocatable): it will stay Pending whatever else is freed")
        release = pod.release or env.release or "RELEASE"
        fix = (f"lower the request: helm upgrade {release} chart/todo-chatbot -n {pod.namespace} --reuse-values "
               f"--set {component}.resources.requests.{kind}={fitting}"
               f" (and keep {component}.resources.limits.{kind} at or above it)")
        return cause, fix
    return None


def _chart_default_request(component: str, kind: str) -> str | None:
    """The chart's own default request (values.yaml), the value to go back to."""
    import yaml

    from harness.core.paths import CHART_DIR

    try:
        values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
        return str(values[component]["resources"]["requests"][kind])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None


def _half(allocatable: str, kind: str) -> str:
    amount = quantity(allocatable) / 2
    return f"{int(amount * 1000)}m" if kind == "cpu" else f"{int(amount / 2**20)}Mi"


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

