"""What the cluster tier's tests of failing installs share: ``make diagnose`` run as a person runs
it, a database address nothing listens on, the node's room, and the finding's lines for evidence.
The ``failing_release`` fixture is in ``conftest.py``."""

from __future__ import annotations

import subprocess
import sys

from harness.core.paths import REPO_ROOT
from harness.testkit.postgres import Database


def make_diagnose(release) -> str:
    """``make diagnose`` for the release's namespace, as a person runs it; returns its output."""
    target = release.cluster.target
    argv = [sys.executable, "-m", "harness.diagnose", "--kubeconfig", str(target.kubeconfig),
            "--context", target.context, "-n", release.namespace,
            "--provider", ":".join(filter(None, (release.cluster.env.provider, release.cluster.env.cluster)))]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, f"make diagnose exited {result.returncode}: {result.stderr[-500:]}"
    return result.stdout


# Nothing listens here: the tests whose pods never start need a syntactically valid URL only.
NOWHERE = Database("postgres-nowhere.invalid", 5432, "todo", "unused-password", "todo")


def node_allocatable(cluster) -> tuple[float, int, str]:
    from harness.kube.quantities import quantity

    nodes = cluster.core.list_node().items
    best = max(nodes, key=lambda n: quantity(n.status.allocatable["cpu"]))
    return (float(quantity(best.status.allocatable["cpu"])), int(quantity(best.status.allocatable["memory"])),
            best.metadata.name)


def finding_lines(report: str, rule: str) -> str:
    """The finding's lines of the report (cause and fix), for the evidence."""
    lines = report.splitlines()
    hits = [i for i, line in enumerate(lines) if rule in line]
    if not hits:
        return report.strip().splitlines()[-1] if report.strip() else "(empty report)"
    return " | ".join(line.strip() for line in lines[hits[0]:hits[0] + 4])
