"""The pytest plugin behind every tier: markers, prerequisites and requirement tracing.

Loaded from the root ``conftest.py``. It

* registers the tier markers and ``requirement`` (``--strict-markers`` is on);
* marks each test under ``verification/<tier>/`` with that tier, and each test under
  ``verification/unit/`` as a ``harness`` self-test;
* refuses to collect a verification test without requirement IDs (unless it is a
  ``harness`` self-test), a ``harness`` self-test *with* requirement IDs (a test of the
  harness's own machinery proves nothing about the product, so it must not count as
  evidence for the sign-off), or an ID the registry (``verification/requirements.yaml``)
  does not know;
* skips a tier whose prerequisite is missing with a one-line reason, or fails it
  when ``REQUIRE_TIERS`` names it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.providers import choose_cluster
from verification.requirements import registry, unknown_ids
from verification.tiers import (
    CLUSTER_CHOICE,
    HARNESS,
    TIERS,
    cluster_choice,
    machine_of,
    missing_prerequisite,
    required_tiers,
    skip_or_fail,
    tier_of_folder,
    tier_plan,
)

VERIFICATION_DIR = Path(__file__).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("todo-chatbot", "todo-chatbot verification")
    group.addoption(
        "--cluster",
        default=None,
        metavar="PROVIDER",
        help="cluster tier target: 'none', 'auto' (kind, else the local cluster, when this machine can run one), "
             "'kind' (throwaway cluster), 'local' (built here from sources) or 'context:NAME' (an existing "
             "kubeconfig context, used only when named)",
    )
    try:
        group.addoption(
            "--keep-cluster", action="store_true", help="keep the throwaway kind cluster after the run"
        )
    except ValueError:
        pass  # pytest-kind(-ng) registers the same flag with the same meaning


def pytest_configure(config: pytest.Config) -> None:
    for tier in TIERS.values():
        config.addinivalue_line("markers", f"{tier.name}: {tier.description}")
    config.addinivalue_line(
        "markers", "requirement(*ids): the specification IDs (FR-…, SC-…, US…, EC-…) this test proves"
    )
    config.addinivalue_line(
        "markers", "guards(*ids): a harness self-test proving that a checker the IDs rely on still sees a defect "
                   "(if it fails, those IDs FAIL: a blind checker cannot sign them off)"
    )
    required_tiers()  # fail fast on a misspelt REQUIRE_TIERS
    registry()  # fail fast on a malformed registry
    # --cluster decided once (auto, none): the tiers, the fixtures and the header read this choice.
    choice = choose_cluster(config.getoption("cluster", default=None))
    config.option.cluster = choice.option
    config.stash[CLUSTER_CHOICE] = choice


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which tiers this machine can run and, for each one it cannot, why and what to do."""
    lines = tier_plan(machine_of(config), required_tiers())
    if config.getoption("cluster") and (why := cluster_choice(config).why):
        lines.append(f"cluster tier: {config.getoption('cluster') or 'not run'} ({why})")
    return lines


def requirement_ids(item: pytest.Item) -> list[str]:
    """Every requirement ID on ``item``, from all its ``requirement`` markers, in order."""
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        ids.extend(str(arg) for arg in marker.args)
    return list(dict.fromkeys(ids))


def guarded_ids(item: pytest.Item) -> list[str]:
    """The IDs whose checker ``item`` (a harness self-test) proves still sees a defect."""
    ids: list[str] = []
    for marker in item.iter_markers("guards"):
        ids.extend(str(arg) for arg in marker.args)
    return list(dict.fromkeys(ids))


def tier_of(item: pytest.Item) -> str | None:
    """The item's tier: the first marker of the tier table it carries (a checker's self-test in a
    tier's folder is of that tier *and* a harness self-test), or None (the applications' tests)."""
    for tier in sorted(TIERS, key=lambda name: name == HARNESS):  # a tier's folder wins over "harness"
        if item.get_closest_marker(tier) is not None:
            return tier
    return None


def _is_verification_test(item: pytest.Item) -> bool:
    return VERIFICATION_DIR in Path(str(item.path)).parents


def tier_of_path(path: str | Path) -> str | None:
    """The tier of a file under ``verification/<folder>/`` (a module that failed to collect has no item)."""
    path = Path(path).resolve()
    if VERIFICATION_DIR not in path.parents:
        return None
    return tier_of_folder(path.relative_to(VERIFICATION_DIR).parts[0])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems: list[str] = []
    for item in items:
        path = Path(str(item.path))
        if _is_verification_test(item):
            tier = tier_of_path(path)
            if tier is not None and item.get_closest_marker(tier) is None:
                item.add_marker(getattr(pytest.mark, tier))
            marked = [name for name in TIERS if name != HARNESS and item.get_closest_marker(name) is not None]
            if tier_of(item) is None:
                problems.append(f"{item.nodeid}: a verification test must live in a tier's folder or carry a "
                                f"tier marker ({', '.join(TIERS)}; verification/tiers.py)")
            elif len(marked) > 1:
                problems.append(f"{item.nodeid}: one tier per test (has {', '.join(marked)}): each tier's tests run "
                                "in that tier's stage of the sign-off")
        ids = requirement_ids(item)
        harness = item.get_closest_marker(HARNESS) is not None
        guarded = guarded_ids(item)
        if bad := unknown_ids([*ids, *guarded]):
            problems.append(f"{item.nodeid}: unknown requirement ID(s) {', '.join(bad)}")
        elif guarded and not harness:
            problems.append(f"{item.nodeid}: guards(...) is for harness self-tests of a checker; "
                            f"a test of the product carries requirement(...)")
        elif harness and ids:
            problems.append(f"{item.nodeid}: a harness self-test must carry no requirement IDs "
                            f"(has {', '.join(ids)}); a test of the product belongs in a tier folder")
        elif _is_verification_test(item) and not ids and not harness:
            problems.append(f"{item.nodeid}: a verification test must carry @pytest.mark.requirement(...)")
    if problems:
        raise pytest.UsageError(
            "requirement tracing failed (see verification/requirements.yaml):\n  " + "\n  ".join(problems)
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    tier = tier_of(item)
    if tier is None:
        return
    if reason := missing_prerequisite(tier, machine_of(item.config)):
        skip_or_fail(tier, reason)
