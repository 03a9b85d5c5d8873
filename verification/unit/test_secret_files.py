"""Files the harness writes with credentials are readable by their owner only (issue 27)."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

from harness.deploy.release import write_values
from harness.kube import render


def test_the_release_values_file_is_0600_also_when_it_existed(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("old")
    path.chmod(0o644)
    write_values(path, SimpleNamespace(tag="t"), SimpleNamespace(url="postgresql://u:p@h:5432/d"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "jwtSecret" in path.read_text()


def test_the_chart_test_credentials_are_0600_in_a_private_folder() -> None:
    path = render.TEST_SECRETS_VALUES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_fault_helper_pod_is_not_the_apps_user_and_holds_only_kill() -> None:
    """As the app's user it could read every app process's environment (credentials) through hostPID."""
    from harness.deploy.faults import FrozenContainer

    status = SimpleNamespace(name="backend", container_id="containerd://abc123")
    pod = SimpleNamespace(status=SimpleNamespace(container_statuses=[status]),
                          spec=SimpleNamespace(node_name="n1", security_context=SimpleNamespace(run_as_user=10001)),
                          metadata=SimpleNamespace(name="p"))
    spec = FrozenContainer(None, pod, "backend", "img").manifest("signal-x", "SIGSTOP")["spec"]
    assert spec["securityContext"]["runAsUser"] != 10001
    [container] = spec["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["KILL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
