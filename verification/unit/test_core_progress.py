"""Long steps say how they go: a command run with progress says each step line as it comes, with the
time so far, and still hands back all it printed (an image build's failure message needs the tail)."""

from __future__ import annotations

import re

import pytest

from harness.core.processes import run_with_progress
from harness.images.build import BASE_STEP, BUILD_STEP

pytestmark = pytest.mark.harness

BUILDKIT = "\n".join([
    "#0 building with \"default\" instance using docker driver",
    "#5 [build 2/7] RUN pip install -r requirements.lock",
    "#5 0.512 Collecting alembic==1.20.1",
    "#5 DONE 3.2s",
    "#6 [final 1/3] COPY --from=build /opt/venv /opt/venv",
])


def test_each_step_is_said_as_it_comes_and_everything_is_kept():
    said: list[str] = []
    done = run_with_progress(["printf", "%s\\n", *BUILDKIT.splitlines(), "base-images: building x"],
                             label="build todo-backend:t", step=BUILD_STEP.match, say=said.append)
    assert done.returncode == 0 and done.stdout.splitlines()[:5] == BUILDKIT.splitlines()
    assert [re.sub(r":\s+\d+ s ", ": N s ", line) for line in said] == [
        "build todo-backend:t: N s  #5 [build 2/7] RUN pip install -r requirements.lock",
        "build todo-backend:t: N s  #6 [final 1/3] COPY --from=build /opt/venv /opt/venv",
    ]


def test_the_base_image_script_lines_are_its_steps():
    assert BASE_STEP.match("base-images: debootstrap --variant=minbase bookworm from http://deb.debian.org")
    assert not BASE_STEP.match("I: Retrieving InRelease")


def test_a_failing_command_keeps_its_exit_status_and_output():
    done = run_with_progress(["bash", "-c", "echo '#1 [a 1/1] RUN false' >&2; exit 3"], label="x",
                             step=BUILD_STEP.match, say=lambda line: None)
    assert done.returncode == 3 and "#1 [a 1/1] RUN false" in done.stdout
