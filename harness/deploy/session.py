"""Opening and closing the cluster under test, and giving it the images: the one code path of the
cluster tier's fixtures (``verification/cluster_session.py``) and of ``make load CLUSTER=…``
(``harness.deploy.load_target``).

Open: the ``--cluster`` choice → preflight (tools, Docker) → the provider (a throwaway kind cluster,
the local cluster built here, or a named context) → reachability and node capacity. Close: every
namespace this session made is deleted, then the provider closes (a cluster it started stops).
Failures are :class:`ClusterSetupError` with a one-line message; no pytest here.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from harness.core.names import random_suffix
from harness.deploy.namespaces import delete_namespace
from harness.deploy.target import Target
from harness.deploy.release import Cluster, Images
from harness.providers import ClusterChoice, ClusterOptionError, preflight, provider_for


class ClusterSetupError(RuntimeError):
    """The cluster could not be opened or given the images; the message says why and what to do."""


def open_cluster(choice: ClusterChoice, keep: bool = False, say: Callable[[str], None] = print) -> Cluster:
    """The cluster ``choice`` names (``kind``, ``local``, ``context:NAME``), set up and checked."""
    from kubernetes import client

    try:
        provider = provider_for(choice.spec, keep)
        preflight.run(provider)
    except (ClusterOptionError, preflight.PreflightError) as exc:
        raise ClusterSetupError(str(exc)) from None
    try:
        say(f"setting up {provider.describe()}")
        provider.create()
    except Exception as exc:  # noqa: BLE001 - any provider failure is a set-up failure
        provider.close()
        raise ClusterSetupError(f"cannot set up {provider.describe()}: {exc}") from None
    try:
        target = Target(provider.kubeconfig, provider.context)
        api = target.api_client()
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        version: dict[str, str] = {}
        problems = preflight.check_reachable(
            lambda: version.setdefault("v", client.VersionApi(api).get_code(_request_timeout=15).git_version),
            provider.context, provider.environment)
        if problems:
            raise preflight.PreflightError(problems)
        allocatable, used, labels = preflight.node_facts(core)
        provider.refine(labels)
        needed = chart_requests() + preflight.Resources(0.1, 256 * 1024**2)  # + the throwaway PostgreSQL
        problems = preflight.check_capacity(preflight.allocatable_free(allocatable, used), needed, provider.environment)
        if problems:
            raise preflight.PreflightError(problems)
    except preflight.PreflightError as exc:
        provider.close()
        raise ClusterSetupError(str(exc)) from None
    except BaseException:
        provider.close()
        raise
    return Cluster(provider, target, core, apps, provider.environment, run_id=random_suffix(8),
                   server_version=version["v"])


def close_cluster(cluster: Cluster, say: Callable[[str], None] = print) -> None:
    """Every namespace this session made deleted and gone (those deleted in the background too), then
    the provider closed (after failures too)."""
    try:
        for name in list(cluster.namespaces):
            try:
                cluster.drop_namespace(name, wait=120)
            except Exception as exc:  # noqa: BLE001 - keep tearing down the rest
                say(f"teardown: could not delete namespace {name}: {exc}")
        deadline = time.monotonic() + 180
        for name in list(cluster.leaving):
            try:
                delete_namespace(cluster.core, name, wait_timeout=max(1.0, deadline - time.monotonic()))
                cluster.leaving.remove(name)
            except Exception as exc:  # noqa: BLE001 - keep tearing down the rest
                say(f"teardown: namespace {name}, deleted earlier, is not gone: {exc}")
    finally:
        cluster.provider.close()


def chart_requests() -> preflight.Resources:
    from harness.kube import render

    return preflight.chart_requests(render.installed(render.render([render.TEST_SECRETS_VALUES])))


def load_images(cluster: Cluster) -> Images:
    """The application images, built here (or reused: BuildKit's layer cache) whatever the provider,
    then made available to the cluster the way it needs (timed, for SC-001)."""
    from harness.images import build as images_lib
    from harness.testkit import postgres as pg

    try:
        built = images_lib.ensure_images()  # the PostgreSQL image too: official when pullable, else built locally
        postgres = os.environ.get("CLUSTER_POSTGRES_IMAGE") or pg.pull_or_build_image()
    except (images_lib.ImageBuildError, OSError, subprocess.CalledProcessError) as exc:
        raise ClusterSetupError(f"the images for the cluster could not be built: {exc}") from None
    backend, frontend = built["backend"].ref, built["frontend"].ref
    start = time.monotonic()
    for image in (backend, frontend) + ((postgres,) if images_lib.image_exists(postgres) else ()):
        try:
            cluster.provider.load_image(image)
        except subprocess.CalledProcessError as exc:
            raise ClusterSetupError(f"loading {image} into {cluster.provider.describe()} failed: "
                                    f"'{' '.join(exc.cmd)}' exited {exc.returncode}: "
                                    f"{(exc.stderr or '').strip()}") from None
        except RuntimeError as exc:
            raise ClusterSetupError(f"loading {image} into {cluster.provider.describe()} failed: {exc}") from None
    return Images(backend, frontend, postgres, images_lib.image_tag(), time.monotonic() - start)
