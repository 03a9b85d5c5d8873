"""Upgrading from the previous release, then rolling back, while a signed-in user keeps working.

The previous release is a git ref (``UPGRADE_FROM=<ref>``, else the last commit whose chart version
differs from the working tree's: ``harness.deploy.upgrade.previous_ref``). Its images are built from
its own tree in a scratch worktree and its chart is installed from there, so what is upgraded is
what users of that version run (chart-testing's ``--upgrade`` installs and upgrades one version and
misses what changed between two). Users, tasks and conversations are written through it; then

1. ``helm upgrade`` to the working tree's chart and images under the in-cluster traffic client
   (a user signed in to the frontend adding, listing and deleting tasks and chatting): no request
   may fail, every user, task and message must be there and readable by its owner only, the
   migrations ran once (the schema's tables and Alembic's version row are the very rows written at
   install: same OIDs, same xmin), and the new version answers (every pod runs the new images
   under the new chart's label; Helm's history says so). Before it, what both versions render is
   compared for fields Kubernetes refuses to change (``check_upgrade``), and a refusal of the API
   server is read the same way, so such a change fails naming the field and the way out.
2. ``helm rollback`` to the first revision under the same traffic: the same proofs, back on the
   previous version. A rollback across a schema migration is not safe (DEPLOYMENT.md, "Rolling
   back"); the test says so when the two versions' migration heads differ.

One release serves both tests, in order (the second needs the first's upgrade).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
import yaml

from harness.core.paths import CHART_DIR, REPO_ROOT
from harness.deploy import upgrade
from harness.deploy.previous import previous_version
from harness.deploy.release import Release, install_release, psql, rate_lift, remove_release
from harness.kube import render
from harness.testkit import dataset
from harness.testkit.traffic import InClusterTraffic

CHART_LABEL = "helm.sh/chart"


@dataclass
class UpgradeRun:
    release: Release
    seeded: list[dataset.SeededUser]
    schema: str  # the Alembic version row and every table, with their identities (schema_marks)
    upgraded: bool = False


def schema_marks(release: Release) -> str:
    """The Alembic version row with its xmin (the transaction that wrote it) and every table of the
    schema with its OID: a migration that ran again, or a table made anew, changes them."""
    version = psql(release.cluster, release.namespace, release.database,
                   "SELECT version_num || ' xmin ' || xmin FROM alembic_version")
    tables = psql(release.cluster, release.namespace, release.database,
                  "SELECT string_agg(relname || '=' || oid, ',' ORDER BY relname) FROM pg_class "
                  "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")
    return f"alembic_version {version}; tables {tables}"


def _kube_version(release: Release) -> str:
    return release.cluster.server_version.lstrip("v").split("+")[0]


def _chart_version(chart) -> str:
    return yaml.safe_load((chart / "Chart.yaml").read_text())["version"]


def _history(release: Release) -> list[dict]:
    return json.loads(release.helm("history", release.name, "-o", "json"))


def _running(release: Release) -> dict[str, set[str]]:
    """component -> {image | chart label} of every pod (terminating ones left out)."""
    return {c: {f"{p.spec.containers[0].image} | {p.metadata.labels.get(CHART_LABEL)}" for p in release.pods(c)}
            for c in ("backend", "frontend")}


def _expect_running(release: Release, images, chart_version: str) -> dict[str, set[str]]:
    return {"backend": {f"{images.backend} | todo-chatbot-{chart_version}"},
            "frontend": {f"{images.frontend} | todo-chatbot-{chart_version}"}}


@pytest.fixture(scope="module")
def previous(cluster, images, tmp_path_factory):
    """The previous release's tree, images (loaded into the cluster) and chart; removed after."""
    failure = None
    try:
        ref = upgrade.previous_ref(REPO_ROOT)
    except upgrade.UpgradeProblem as exc:
        failure = str(exc)
    if failure:
        pytest.fail(failure, pytrace=False)
    scratch = tmp_path_factory.mktemp("previous") / "tree"
    with previous_version(cluster, ref, images, scratch) as found:
        yield found
    assert str(scratch) not in upgrade.registered_worktrees(REPO_ROOT), f"scratch worktree {scratch} left behind"


@pytest.fixture(scope="module")
def run(cluster, previous, tmp_path_factory):
    """The previous version installed from its own chart and images, with users, tasks and
    conversations written through its frontend."""
    release = install_release(cluster, previous.images, tmp_path_factory.mktemp("upgrade"), prefix="todo-upgrade",
                              chart=previous.chart)
    try:
        with release.frontend_access() as url:
            seeded = dataset.seed(url, prefix="upgrade")
        yield UpgradeRun(release, seeded, schema_marks(release))
    finally:
        remove_release(release, background=True)


@pytest.mark.requirement("FR-016", "FR-029", "SC-006", "EC-6")
def test_upgrade_from_the_previous_release_under_traffic_fails_no_request_and_keeps_every_record(
        run, previous, images, tmp_path, record_figure, record_property):
    release = run.release
    tags = tmp_path / "working-tree-images.yaml"
    # The working tree's images, and its chart's per-account rates lifted for the traffic user as in
    # every cluster-tier release (the previous chart may have had no such values to lift).
    overlay = {"backend": {"image": {"tag": images.tag}}, "frontend": {"image": {"tag": images.tag}}}
    for key, value in rate_lift(CHART_DIR).items():
        overlay[key] = {**overlay[key], **value}
    tags.write_text(yaml.safe_dump(overlay))
    old_version, new_version = previous.ref.version, _chart_version(CHART_DIR)
    source = f"{previous.ref.name} (chart {old_version}) -> the working tree (chart {new_version})"
    # Refused fields first, from what both versions render with these very values: helm upgrade would
    # otherwise stop half-way, some objects patched and some not.
    old = render.render([release.values_file], chart=previous.chart, release=release.name,
                        namespace=release.namespace, kube_version=_kube_version(release))
    new = render.render([release.values_file, tags], chart=CHART_DIR, release=release.name,
                        namespace=release.namespace, kube_version=_kube_version(release))
    problem = None
    try:
        upgrade.check_upgrade(old, new, source)
        with InClusterTraffic(release, release.frontend_cluster_url(), name="traffic-upgrade") as traffic:
            start = time.monotonic()
            upgrade.helm_upgrade(release.helm, release.name, str(CHART_DIR), *release.values_args(), "-f", str(tags))
            release.wait_rolled_out()
            seconds = time.monotonic() - start
            tally = traffic.finish(after=time.time())  # alive until after the old pods are gone
    except upgrade.ImmutableFieldChange as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)
    release.chart, release.images = CHART_DIR, images
    run.upgraded = True

    record_figure(f"upgrade {old_version} -> {new_version} (helm upgrade to every old pod gone)", seconds, "s")
    record_figure("requests served during the upgrade", tally.total)
    record_figure("previous release's images built (layer cache)", previous.build_seconds, "s")
    record_property("evidence", f"upgraded from {previous.ref.name} ({previous.ref.why}); traffic: {tally.summary()}")
    assert tally.total > 50, f"too little traffic to judge: {tally.summary()}"
    assert tally.failed == 0, f"during the upgrade from {source}: {tally.summary()}"

    # The new version answers: every pod runs the working tree's images under the new chart's label.
    assert _running(release) == _expect_running(release, images, new_version)
    last = _history(release)[-1]
    assert (last["status"], last["chart"]) == ("deployed", f"todo-chatbot-{new_version}"), last
    with release.frontend_access() as url:
        problems = dataset.check(url, run.seeded)
    assert not problems, "after the upgrade: " + "; ".join(problems)
    schema = schema_marks(release)
    assert schema == run.schema, f"the migrations ran again or the schema was remade: before {run.schema}, after {schema}"
    assert schema.split()[1] in upgrade.migration_heads(REPO_ROOT), f"the schema is not at the new head: {schema}"
    record_property("evidence", f"{len(run.seeded)} users with their tasks and conversations read back by their "
                                f"owners only; schema untouched ({schema})")


@pytest.mark.requirement("FR-016", "SC-006")
def test_rollback_to_the_previous_release_under_traffic_fails_no_request_and_keeps_every_record(
        run, previous, record_figure, record_property):
    release = run.release
    if not run.upgraded:
        pytest.fail("the upgrade test did not finish: there is nothing to roll back", pytrace=False)
    old_heads, new_heads = previous.migration_heads(), upgrade.migration_heads(REPO_ROOT)
    assert old_heads == new_heads, (
        f"the schema moved between the two versions (migration heads {sorted(old_heads)} -> {sorted(new_heads)}): "
        "a rollback then runs the older backend on the newer schema, which DEPLOYMENT.md ('Rolling back') says "
        "is not safe; this test proves the same-schema rollback only, so extend it to prove the documented behaviour")
    revision = _history(release)[0]["revision"]
    with InClusterTraffic(release, release.frontend_cluster_url(), name="traffic-rollback") as traffic:
        start = time.monotonic()
        release.helm("rollback", release.name, str(revision))
        release.wait_rolled_out()
        seconds = time.monotonic() - start
        tally = traffic.finish(after=time.time())
    release.chart, release.images = previous.chart, previous.images

    record_figure(f"rollback to revision {revision} (helm rollback to every newer pod gone)", seconds, "s")
    record_figure("requests served during the rollback", tally.total)
    record_property("evidence", f"rolled back to {previous.ref.name}; traffic: {tally.summary()}")
    assert tally.total > 50, f"too little traffic to judge: {tally.summary()}"
    assert tally.failed == 0, f"during the rollback to {previous.ref.name}: {tally.summary()}"

    assert _running(release) == _expect_running(release, previous.images, previous.ref.version)
    last = _history(release)[-1]
    assert last["status"] == "deployed" and last["chart"] == f"todo-chatbot-{previous.ref.version}", last
    assert f"Rollback to {revision}" in (last.get("description") or ""), last
    with release.frontend_access() as url:
        problems = dataset.check(url, run.seeded)
    assert not problems, "after the rollback: " + "; ".join(problems)
    schema = schema_marks(release)
    assert schema == run.schema, f"the schema changed on rollback: before {run.schema}, after {schema}"

