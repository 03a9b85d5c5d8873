"""The deployment policy: rules every Kubernetes manifest of this project must follow.

One library for the chart's rendered manifests (the static tier) and for any YAML drafted
by kubectl-ai or by hand (US4-1, US4-4): the same rules, the same messages.

    python -m harness.kube.policy deploy.yaml [more.yaml ...]     # or '-' for stdin

prints one line per finding — ``FILE: Kind/name: [rule] message (FR-…)`` — and exits 1 when
there are findings, 2 when a file cannot be read, 0 when everything passes.

Each rule names the requirement it enforces (verification/requirements.yaml).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.contract import BUDGET_CPU_CORES, BUDGET_MEMORY_BYTES, is_sensitive
from harness.kube.manifests import effective_security, pod_labels, pod_spec
from harness.kube.quantities import parse_cpu, parse_memory

Manifest = dict[str, Any]

# The labels every resource carries (FR-017) and the subset that selectors may use.
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)
SELECTOR_LABELS = frozenset(
    {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
)
MIN_UID = 10000
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
PROVENANCE_MARKER = re.compile(r"^\s*#?\s*provenance:\s*\S", re.MULTILINE)
CREDENTIAL_IN_URL = re.compile(r"://[^/\s:@]+:[^@/\s]+@")


@dataclass(frozen=True)
class Rule:
    name: str
    requirements: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Finding:
    rule: Rule
    resource: str  # Kind/name
    message: str
    file: str = ""

    def line(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return (
            f"{where}{self.resource}: [{self.rule.name}] {self.message} ({', '.join(self.rule.requirements)})"
        )


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("resources", ("FR-013",), "every container sets CPU and memory requests and limits"),
        Rule("liveness-probe", ("FR-014",), "every long-running container has a liveness probe"),
        Rule("readiness-probe", ("FR-015",), "every long-running container has a readiness probe"),
        Rule("probe-port", ("FR-014", "FR-015"), "probes target a port the container declares"),
        Rule("rolling-update", ("FR-016",), "Deployments roll with maxUnavailable 0 and maxSurge >= 1"),
        Rule("labels", ("FR-017",), "every resource carries the app.kubernetes.io labels"),
        Rule("selector", ("FR-017",), "selectors use name+instance+component only and match the pod labels"),
        Rule("service-selects-pods", ("FR-011", "FR-012"), "a Service selects pods and targets their ports"),
        Rule("sensitive-env", ("FR-021", "US3-4"), "sensitive variables come only from secretKeyRef"),
        Rule("configmap-no-secrets", ("FR-018", "US3-4"), "no sensitive key or credential in a ConfigMap"),
        Rule("image-tag", ("FR-005", "FR-029"), "images carry an explicit tag or digest, never latest"),
        Rule("non-root", ("FR-008",), "runAsNonRoot with a numeric runAsUser >= 10000"),
        Rule("pss-restricted", ("FR-008",), "Pod Security Standards 'restricted'"),
        Rule("read-only-root", ("FR-008",), "read-only root filesystem"),
        Rule("service-account-token", ("US4-3",), "no Kubernetes API token mounted into the pods"),
        Rule("resource-budget", ("SC-010", "FR-013"), "limits x replicas stay within 2 GiB and 2 CPU"),
        Rule("provenance", ("FR-033", "US4-4"), "a manifest file says how it was produced and why"),
    )
}


# --- quantities ----------------------------------------------------------------------------
def memory_bytes(quantity: str | int | float) -> int:
    """'384Mi' -> 402653184; raises ValueError for anything Kubernetes would not accept, '' included."""
    return parse_memory(quantity, required=True)


def cpu_cores(quantity: str | int | float) -> float:
    """'400m' -> 0.4, '1.5' -> 1.5; raises ValueError for anything Kubernetes would not accept, '' included."""
    return parse_cpu(quantity, required=True)


# --- walking manifests ---------------------------------------------------------------------
def resource_id(manifest: Manifest) -> str:
    return f"{manifest.get('kind', '?')}/{(manifest.get('metadata') or {}).get('name', '?')}"


def containers(spec: dict[str, Any], *, init: bool = True) -> Iterator[dict[str, Any]]:
    yield from spec.get("containers") or []
    if init:
        yield from spec.get("initContainers") or []


def _is_hook(manifest: Manifest) -> bool:
    return "helm.sh/hook" in ((manifest.get("metadata") or {}).get("annotations") or {})


# --- rules on one manifest -----------------------------------------------------------------
def _check_resources(m: Manifest, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for c in containers(spec):
        res = c.get("resources") or {}
        for section in ("requests", "limits"):
            for key in ("cpu", "memory"):
                value = (res.get(section) or {}).get(key)
                if value is None:
                    yield "resources", f"container {c.get('name')!r} has no {section}.{key}"
                    continue
                try:
                    (cpu_cores if key == "cpu" else memory_bytes)(value)
                except ValueError as exc:
                    yield "resources", f"container {c.get('name')!r} {section}.{key}: {exc}"


def _check_probes(m: Manifest, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for c in containers(spec, init=False):
        declared = {p.get("name") for p in c.get("ports") or []} | {
            p.get("containerPort") for p in c.get("ports") or []
        }
        for kind, rule in (("livenessProbe", "liveness-probe"), ("readinessProbe", "readiness-probe")):
            if m.get("kind") in LONG_RUNNING and not c.get(kind):
                yield rule, f"container {c.get('name')!r} has no {kind}"
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = c.get(kind) or {}
            handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
            if handler and "port" in handler and handler["port"] not in declared:
                yield (
                    "probe-port",
                    f"container {c.get('name')!r} {kind} targets port {handler['port']!r}, which it does not declare",
                )


def _check_rolling(m: Manifest) -> Iterator[tuple[str, str]]:
    if m.get("kind") != "Deployment":
        return
    strategy = (m.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") != "RollingUpdate":
        yield (
            "rolling-update",
            f"strategy.type is {strategy.get('type')!r}, expected 'RollingUpdate' (set it explicitly)",
        )
        return
    rolling = strategy.get("rollingUpdate") or {}
    if str(rolling.get("maxUnavailable")) not in ("0", "0%"):
        yield (
            "rolling-update",
            f"rollingUpdate.maxUnavailable is {rolling.get('maxUnavailable')!r}; 0 keeps every replica serving",
        )
    surge = str(rolling.get("maxSurge", ""))
    if surge in ("", "0", "0%", "None"):
        yield (
            "rolling-update",
            f"rollingUpdate.maxSurge is {rolling.get('maxSurge')!r}; with maxUnavailable 0 it must be >= 1",
        )


def _check_labels(m: Manifest) -> Iterator[tuple[str, str]]:
    labels = (m.get("metadata") or {}).get("labels") or {}
    if missing := [k for k in REQUIRED_LABELS if not labels.get(k)]:
        yield "labels", f"missing label(s) {', '.join(missing)}"
    if pod_spec(m) is not None and m.get("kind") != "Pod":
        template = pod_labels(m)
        if missing := [k for k in REQUIRED_LABELS if not template.get(k)]:
            yield "labels", f"pod template is missing label(s) {', '.join(missing)}"


def _check_selector(m: Manifest) -> Iterator[tuple[str, str]]:
    if m.get("kind") in LONG_RUNNING:
        selector = ((m.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        template = pod_labels(m)
    elif m.get("kind") == "PodDisruptionBudget":
        selector = ((m.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        template = None
    elif m.get("kind") == "Service" and (m.get("spec") or {}).get("type") != "ExternalName":
        selector = (m.get("spec") or {}).get("selector") or {}
        template = None
    else:
        return
    if set(selector) != SELECTOR_LABELS:
        yield (
            "selector",
            (
                f"selector keys are {sorted(selector)}; use exactly {sorted(SELECTOR_LABELS)} "
                "(stable across upgrades: never version or chart)"
            ),
        )
    if template is not None:
        if wrong := {k: v for k, v in selector.items() if template.get(k) != v}:
            yield "selector", f"selector {wrong} does not match the pod template's labels"


def _check_env(m: Manifest, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for c in containers(spec):
        for item in c.get("env") or []:
            name = item.get("name", "")
            value_from = item.get("valueFrom") or {}
            if is_sensitive(name) and "secretKeyRef" not in value_from:
                source = "a literal value" if "value" in item else f"{', '.join(value_from) or 'nothing'}"
                yield (
                    "sensitive-env",
                    f"container {c.get('name')!r} gets {name} from {source}; use valueFrom.secretKeyRef",
                )
            elif "value" in item and CREDENTIAL_IN_URL.search(str(item["value"])):
                yield (
                    "sensitive-env",
                    f"container {c.get('name')!r} {name} holds a URL with a password; move it to a Secret",
                )


def _check_configmap(m: Manifest) -> Iterator[tuple[str, str]]:
    if m.get("kind") != "ConfigMap":
        return
    for key, value in ((m.get("data") or {}) | (m.get("binaryData") or {})).items():
        if is_sensitive(key):
            yield "configmap-no-secrets", f"key {key} is sensitive; put it in a Secret"
        elif CREDENTIAL_IN_URL.search(str(value)):
            yield "configmap-no-secrets", f"key {key} holds a URL with a password; put it in a Secret"


def _check_images(m: Manifest, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for c in containers(spec):
        image = str(c.get("image", ""))
        if "@sha256:" in image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not tag:
            yield (
                "image-tag",
                f"container {c.get('name')!r} image {image!r} has no tag (means latest); pin a version",
            )
        elif tag == "latest":
            yield "image-tag", f"container {c.get('name')!r} image {image!r} uses latest; pin a version"


def _check_security(m: Manifest, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            yield "pss-restricted", f"{flag} is true"
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            yield "pss-restricted", f"volume {volume.get('name')!r} is a hostPath"
    for c in containers(spec):
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if effective_security(spec, c, "runAsNonRoot") is not True:
            yield "non-root", f"container {name!r}: runAsNonRoot is not true"
        uid = effective_security(spec, c, "runAsUser")
        if not isinstance(uid, int) or uid < MIN_UID:
            yield "non-root", f"container {name!r}: runAsUser is {uid!r}; set a numeric uid >= {MIN_UID}"
        if sc.get("privileged"):
            yield "pss-restricted", f"container {name!r} is privileged"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield "pss-restricted", f"container {name!r}: allowPrivilegeEscalation must be false"
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield "pss-restricted", f"container {name!r}: capabilities.drop must contain ALL"
        if extra := [cap for cap in caps.get("add") or [] if cap != "NET_BIND_SERVICE"]:
            yield "pss-restricted", f"container {name!r} adds capabilities {extra}"
        seccomp = (effective_security(spec, c, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield (
                "pss-restricted",
                f"container {name!r}: seccompProfile.type is {seccomp!r}; use RuntimeDefault",
            )
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                yield "pss-restricted", f"container {name!r} uses hostPort {port['hostPort']}"
        if sc.get("readOnlyRootFilesystem") is not True:
            yield (
                "read-only-root",
                f"container {name!r}: readOnlyRootFilesystem is not true (mount an emptyDir where it writes)",
            )
    if spec.get("automountServiceAccountToken") is not False:
        yield "service-account-token", "automountServiceAccountToken is not false on the pod spec"


def check_manifest(m: Manifest) -> list[tuple[str, str]]:
    """(rule, message) for every rule ``m`` breaks on its own (no cross-resource rules)."""
    found: list[tuple[str, str]] = []
    found += _check_labels(m)
    found += _check_selector(m)
    found += _check_configmap(m)
    found += _check_rolling(m)
    if m.get("kind") == "ServiceAccount" and m.get("automountServiceAccountToken") is not False:
        found.append(("service-account-token", "automountServiceAccountToken is not false"))
    if (spec := pod_spec(m)) is not None:
        found += _check_resources(m, spec)
        found += _check_probes(m, spec)
        found += _check_env(m, spec)
        found += _check_images(m, spec)
        found += _check_security(m, spec)
    return found


# --- rules across manifests ----------------------------------------------------------------
def _check_services(manifests: list[Manifest]) -> Iterator[tuple[Manifest, str, str]]:
    workloads = [m for m in manifests if pod_spec(m) is not None and not _is_hook(m)]
    if not workloads:
        return  # a file with Services only (e.g. drafted separately): nothing to match against
    for svc in (m for m in manifests if m.get("kind") == "Service"):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            continue
        matches = [w for w in workloads if all(pod_labels(w).get(k) == v for k, v in selector.items())]
        if not matches:
            yield (
                svc,
                "service-selects-pods",
                f"selector {selector} matches no pod template in these manifests",
            )
            continue
        named = {
            p.get("name")
            for w in matches
            for c in containers(pod_spec(w) or {}, init=False)
            for p in c.get("ports") or []
        }
        numbered = {
            p.get("containerPort")
            for w in matches
            for c in containers(pod_spec(w) or {}, init=False)
            for p in c.get("ports") or []
        }
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if target not in named and target not in numbered:
                yield svc, "service-selects-pods", f"targetPort {target!r} is not a port of the selected pods"


def replicas_of(m: Manifest) -> int:
    if m.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet"):
        return int((m.get("spec") or {}).get("replicas", 1))
    return 1


def _workloads(manifests: Iterable[Manifest]) -> Iterator[tuple[Manifest, float, float]]:
    """(workload, memory bytes, CPU cores) of one pod of each workload (hooks and Jobs excluded)."""
    for m in manifests:
        spec = pod_spec(m)
        if spec is None or _is_hook(m) or m.get("kind") in ("Job", "CronJob"):
            continue
        memory = cpu = 0.0
        for c in containers(spec, init=False):
            limits = (c.get("resources") or {}).get("limits") or {}
            try:
                memory += memory_bytes(limits["memory"])
                cpu += cpu_cores(limits["cpu"])
            except (KeyError, ValueError):
                continue  # reported by the resources rule
        yield m, memory, cpu


def budget_totals(manifests: Iterable[Manifest]) -> tuple[float, float]:
    """(memory bytes, CPU cores): limits x replicas over every container of every workload (hooks excluded)."""
    pods = [(memory * replicas_of(m), cpu * replicas_of(m)) for m, memory, cpu in _workloads(manifests)]
    return sum(p[0] for p in pods), sum(p[1] for p in pods)


def _surge_pods(m: Manifest) -> int:
    """How many extra pods a rolling update of ``m`` may start (maxSurge, a count or a percentage rounded up)."""
    if m.get("kind") != "Deployment":
        return 0
    strategy = (m.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return -(-replicas_of(m) * int(surge[:-1]) // 100)
    return int(surge)


def surge_totals(manifests: Iterable[Manifest]) -> tuple[float, float]:
    """(memory bytes, CPU cores) of the largest rollout's extra pods: while one Deployment rolls, its
    surge pods run beside every replica, and their limits count against the budget too."""
    surges = [(memory * _surge_pods(m), cpu * _surge_pods(m)) for m, memory, cpu in _workloads(manifests)]
    return max((s[0] for s in surges), default=0.0), max((s[1] for s in surges), default=0.0)


def _check_budget(manifests: list[Manifest]) -> Iterator[tuple[str, str]]:
    # The spec's budget is "less than 2GB RAM and 2 CPU cores": equal is over.
    memory, cpu = budget_totals(manifests)
    surge_memory, surge_cpu = surge_totals(manifests)
    if memory + surge_memory >= BUDGET_MEMORY_BYTES:
        yield (
            "resource-budget",
            f"memory limits x replicas total {memory / 1024**2:.0f} MiB (+{surge_memory / 1024**2:.0f} MiB while a "
            f"rollout surges) is not below {BUDGET_MEMORY_BYTES / 1024**2:.0f} MiB",
        )
    if cpu + surge_cpu >= BUDGET_CPU_CORES:
        yield ("resource-budget", f"CPU limits x replicas total {cpu:.2f} cores (+{surge_cpu:.2f} while a rollout "
                                  f"surges) is not below {BUDGET_CPU_CORES:.2f}")


def check(manifests: Iterable[Manifest], *, file: str = "") -> list[Finding]:
    """Every finding for a set of manifests that are deployed together (one file, one render)."""
    manifests = [m for m in manifests if isinstance(m, dict) and m]
    findings = [
        Finding(RULES[rule], resource_id(m), message, file)
        for m in manifests
        for rule, message in check_manifest(m)
    ]
    findings += [
        Finding(RULES[rule], resource_id(svc), msg, file) for svc, rule, msg in _check_services(manifests)
    ]
    findings += [Finding(RULES[rule], "<all workloads>", msg, file) for rule, msg in _check_budget(manifests)]
    return findings


def check_provenance(text: str, *, file: str = "") -> list[Finding]:
    """A manifest file must say how it was produced (and, if by hand, why): a `provenance:` comment."""
    if PROVENANCE_MARKER.search("\n".join(text.splitlines()[:5])):
        return []
    return [
        Finding(
            RULES["provenance"],
            "<file>",
            "no '# provenance: ...' comment in the first lines "
            "(say how it was produced and, if written by hand, why)",
            file,
        )
    ]


PROVENANCE_FIELDS = re.compile(r"provenance:\s*(.*)")


def provenance_of(text: str) -> dict[str, str] | None:
    """The `# provenance: generated-by=...; reviewed-by=...; reason=...` header as a dict, or None."""
    for line in text.splitlines()[:5]:
        if match := PROVENANCE_FIELDS.search(line):
            fields = {}
            for part in match.group(1).split(";"):
                key, _, value = part.strip().partition("=")
                if key:
                    fields[key.strip()] = value.strip().rstrip('*/ -}>",').strip()
            return fields
    return None


def check_file(path: str | Path, *, provenance: bool = True) -> list[Finding]:
    """Findings for one YAML file ('-' reads stdin). Raises OSError/yaml.YAMLError when unreadable."""
    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text()
    manifests = [doc for doc in yaml.safe_load_all(text) if doc]
    found = check_provenance(text, file=str(path)) if provenance else []
    return found + check(manifests, file=str(path))


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.kube.policy",
        description="Check Kubernetes manifests against the project's deployment policy "
        "(one line per finding; exit 1 on findings).",
    )
    parser.add_argument("files", nargs="*", help="YAML files with one or more manifests ('-' for stdin)")
    parser.add_argument(
        "--no-provenance",
        action="store_true",
        help="do not require the '# provenance:' comment (FR-033), e.g. for helm template output",
    )
    parser.add_argument(
        "--rules", action="store_true", help="list the rules and the requirements they enforce"
    )
    args = parser.parse_args(argv)
    if args.rules:
        for rule in RULES.values():
            out(f"{rule.name:24} {', '.join(rule.requirements):18} {rule.summary}")
        return 0
    if not args.files:
        parser.error("name at least one YAML file (or '-' for stdin)")
    findings: list[Finding] = []
    for path in args.files:
        try:
            findings += check_file(path, provenance=not args.no_provenance)
        except (OSError, yaml.YAMLError) as exc:
            out(f"{path}: cannot read: {exc}")
            return 2
    for finding in findings:
        out(finding.line())
    if findings:
        out(f"{len(findings)} finding(s) in {len(args.files)} file(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
