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
