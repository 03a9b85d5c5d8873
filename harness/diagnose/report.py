"""The report: events, conditions, container states, restarts, last log lines and the findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.diagnose.facts import PodFacts

if TYPE_CHECKING:
    from harness.diagnose.rules import Finding


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
