"""The runtime tier's pods as facts for the diagnosis rules, and the report built from them.

The same rules as the cluster tier (:mod:`harness.diagnose.rules`): a pod that is not Ready gets
its plain-language cause and the command that fixes it, under ``kubectl describe``-like text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import docker.errors

from harness import diagnose as dx
from harness.podrt.pod import LOG_TAIL, mebibytes

if TYPE_CHECKING:
    from harness.podrt.pod import Pod


def pod_facts(pod: Pod) -> dx.PodFacts:
    """``pod`` as :mod:`harness.diagnose.rules` facts (the same rules as the cluster tier)."""
    containers = []
    for run in pod.containers:
        state, reason, message, code = run.state, run.waiting_reason, run.waiting_message, None
        if state == "terminated" and run.container is not None:
            st = run.container.attrs["State"]
            code = int(st.get("ExitCode", 0))
            reason = "OOMKilled" if st.get("OOMKilled") else ("Completed" if code == 0 else "Error")
        last = run.last_termination
        probes = tuple(
            dx.ProbeFacts(p.kind, p.path if p.action == "httpGet" else None, p.port or None, p.action)
            for p in run.spec.probes.values()
        )
        try:
            tail = tuple(pod.logs(run.spec.name, tail=LOG_TAIL).splitlines()) if run.container else ()
        except docker.errors.APIError:
            tail = ()
        containers.append(dx.ContainerFacts(
            name=run.spec.name, image=run.spec.image, ready=run.ready, state=state, reason=reason,
            message=message, exit_code=code,
            last_reason=last.reason if last else None, last_exit_code=last.exit_code if last else None,
            restart_count=run.restart_count, memory_limit=mebibytes(run.spec.mem_limit),
            cpu_limit=None if not run.spec.nano_cpus else f"{run.spec.nano_cpus // 10**6}m",
            pull_policy=run.spec.image_pull_policy, probes=probes,
            env_sources={v.name: v.source for v in run.spec.env}, log_tail=tail,
        ))
    events: dict[tuple[str, str, str], int] = {}
    # Startup-probe failures of a container that has since started are resolved: leave them out,
    # so a healthy pod is not "diagnosed" with the seconds its process took to listen.
    started = all(run.runner is not None and run.runner.started for run in pod.containers)
    for e in pod.events:
        if started and e.message.startswith("Startup probe failed"):
            continue
        events[(e.type, e.reason, e.message)] = events.get((e.type, e.reason, e.message), 0) + 1
    ready = "True" if pod.ready else "False"
    phase = "Running" if any(c.state == "running" for c in containers) else "Pending"
    return dx.PodFacts(
        name=pod.name, namespace=pod.runtime.namespace, phase=phase, component=pod.component,
        conditions=(("Ready", ready, None, None),), containers=tuple(containers),
        events=tuple(dx.EventFacts(t, r, m, n, "Pod", pod.name) for (t, r, m), n in events.items()),
    )


def findings(pods: Sequence[Pod]) -> list[dx.Finding]:
    """The diagnosis rules' findings for ``pods``."""
    return dx.diagnose([pod_facts(p) for p in pods], dx.Environment(provider="docker"))


def report(pods: Sequence[Pod]) -> str:
    """States, probe history, last log lines, events and the plain-language cause of each pod."""
    facts = []
    described = []
    for pod in pods:
        try:
            facts.append(pod_facts(pod))
            described.append(pod.describe())
        except docker.errors.APIError as exc:
            described.append(f"pod {pod.name}: cannot inspect ({exc})")
    env = dx.Environment(provider="docker", namespace=None)
    found = dx.diagnose(facts, env)
    return "\n".join(described) + "\n\n" + dx.format_report(facts, found, header="== runtime tier diagnosis")
