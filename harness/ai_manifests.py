"""`make ai-manifests`: ask kubectl-ai for the two Deployments and compare them with the chart.

The specification's workflow (FR-030, US4-1) tries kubectl-ai before anything is
written by hand. This asks it for the backend and frontend Deployments, runs the
project's policy checker on what it wrote, and puts a side-by-side comparison with
the chart's rendering in ``reports/ai-manifests/comparison.md``: which of limits,
probes, labels, secret references and security settings the draft missed.

When kubectl-ai is not installed or not configured it says how to get it and exits 0:
the chart does not depend on it.

    python -m harness.ai_manifests [--out reports/ai-manifests]
    KUBECTL_AI_ARGS="--llm-provider=openai --model=gpt-4.1" python -m harness.ai_manifests
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harness import contract
from harness.core.paths import REPO_ROOT
from harness.kube import policy, render

ROOT = REPO_ROOT
INSTALL_HINT = (
    "kubectl-ai is not installed: install it with 'kubectl krew install ai' or from "
    "https://github.com/GoogleCloudPlatform/kubectl-ai/releases, configure a model provider "
    "(e.g. export GEMINI_API_KEY=… or OPENAI_API_KEY=… with KUBECTL_AI_ARGS='--llm-provider=openai'), "
    "then run 'make ai-manifests' again"
)

PROMPTS = {
    "backend": (
        "Write only the YAML of a Kubernetes Deployment named todo-backend for the image "
        f"todo-backend:0.1.0, a FastAPI app on port {contract.BACKEND_PORT}, liveness on "
        f"{contract.BACKEND_LIVENESS_PATH}, readiness on {contract.BACKEND_READINESS_PATH}, "
        "DATABASE_URL and JWT_SECRET from a Secret named todo-secrets, LOG_LEVEL from a ConfigMap "
        "named todo-config, 2 replicas, for a local Minikube. Do not apply it."
    ),
    "frontend": (
        "Write only the YAML of a Kubernetes Deployment named todo-frontend for the image "
        f"todo-frontend:0.1.0, a Next.js app on port {contract.FRONTEND_PORT}, health on "
        f"{contract.FRONTEND_HEALTH_PATH}, BACKEND_URL from a ConfigMap named todo-config, "
        "2 replicas, for a local Minikube. Do not apply it."
    ),
}

# What a reviewer looks for, and how to read it off a Deployment.
ASPECTS = {
    "resource limits": lambda c, s: bool((c.get("resources") or {}).get("limits")),
    "resource requests": lambda c, s: bool((c.get("resources") or {}).get("requests")),
    "liveness probe": lambda c, s: "livenessProbe" in c,
    "readiness probe": lambda c, s: "readinessProbe" in c,
    "startup probe": lambda c, s: "startupProbe" in c,
    "secrets only via secretKeyRef": lambda c, s: all(
        "secretKeyRef" in (e.get("valueFrom") or {}) for e in c.get("env") or [] if contract.is_sensitive(e["name"])
    ) and any("secretKeyRef" in (e.get("valueFrom") or {}) for e in c.get("env") or []),
    "non-root user": lambda c, s: bool(
        (c.get("securityContext") or {}).get("runAsNonRoot") or (s.get("securityContext") or {}).get("runAsNonRoot")
    ),
    "read-only root filesystem": lambda c, s: bool((c.get("securityContext") or {}).get("readOnlyRootFilesystem")),
    "rolling update strategy": None,  # read off the Deployment, below
    "standard labels": None,
}


def aspects_of(deployment: dict[str, Any]) -> dict[str, bool]:
    """Which review aspects a Deployment covers."""
    spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
    container = (spec.get("containers") or [{}])[0]
    result = {}
    for name, check in ASPECTS.items():
        if name == "rolling update strategy":
            strategy = deployment.get("spec", {}).get("strategy") or {}
            result[name] = strategy.get("type", "RollingUpdate") == "RollingUpdate" and "rollingUpdate" in strategy
        elif name == "standard labels":
            labels = deployment.get("metadata", {}).get("labels") or {}
            result[name] = all(label in labels for label in policy.REQUIRED_LABELS)
        else:
            result[name] = bool(check(container, spec))
    return result


def extract_yaml(text: str) -> list[dict[str, Any]]:
    """The Kubernetes objects in an answer that may wrap YAML in prose or ``` fences."""
    blocks = re.findall(r"```(?:ya?ml)?\n(.*?)```", text, re.S) or [text]
    objects = []
    for block in blocks:
        try:
            objects += [d for d in yaml.safe_load_all(block) if isinstance(d, dict) and d.get("kind")]
        except yaml.YAMLError:
            continue
    return objects


def comparison(component: str, draft: dict[str, Any], chart: dict[str, Any], findings: list[str]) -> str:
    drafted, ours = aspects_of(draft), aspects_of(chart)
    lines = [f"## {component}", "", "| aspect | kubectl-ai draft | chart |", "|---|---|---|"]
    lines += [f"| {a} | {'yes' if drafted[a] else '**missing**'} | {'yes' if ours[a] else 'no'} |" for a in ASPECTS]
    lines += ["", "Policy findings on the draft (`python -m harness.kube.policy`):", ""]
    lines += [f"- {f}" for f in findings] or ["- none"]
    return "\n".join(lines) + "\n"


def ask_kubectl_ai(binary: str, prompt: str) -> str:
    extra = shlex.split(os.environ.get("KUBECTL_AI_ARGS", ""))
    result = subprocess.run([binary, "--quiet", *extra, prompt], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl-ai failed ({result.returncode}): {result.stderr.strip()[-300:]}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "reports" / "ai-manifests"))
    args = parser.parse_args(argv)
    binary = shutil.which("kubectl-ai")
    if binary is None:
        print(INSTALL_HINT)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rendered = render.render(set_values={"secrets.databaseUrl": "postgresql://u:p@db:5432/todo",
                                         "secrets.jwtSecret": secrets.token_hex(32)})
    report = ["# kubectl-ai drafts compared with the chart", ""]
    for component, prompt in PROMPTS.items():
        try:
            answer = ask_kubectl_ai(binary, prompt)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"ai-manifests: {component}: {exc}; is a model provider configured? ({INSTALL_HINT})")
            return 0
        drafts = [d for d in extract_yaml(answer) if d.get("kind") == "Deployment"]
        if not drafts:
            report.append(f"## {component}\n\nkubectl-ai wrote no Deployment; its answer is in {component}.txt\n")
            (out / f"{component}.txt").write_text(answer)
            continue
        draft_path = out / f"{component}-deployment.ai.yaml"
        draft_path.write_text(yaml.safe_dump(drafts[0], sort_keys=False))
        findings = [f.line() for f in policy.check_file(draft_path, provenance=False)]
        report.append(comparison(component, drafts[0], render.deployment(rendered, component), findings))
    (out / "comparison.md").write_text("\n".join(report))
    print(f"ai-manifests: comparison written to {out / 'comparison.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
