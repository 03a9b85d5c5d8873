"""Self-tests of the uninstall sweep's judgement (harness/deploy/sweep.py): what counts as a release's."""

from __future__ import annotations

import pytest

from harness.deploy.sweep import marks

SWEEP_GUARDS = ("FR-039",)


def obj(labels=None, annotations=None):
    return {"kind": "X", "metadata": {"name": "x", "labels": labels or {}, "annotations": annotations or {}}}


@pytest.mark.guards(*SWEEP_GUARDS)
def test_namespaced_objects_are_the_releases_by_label_annotation_or_release_record():
    assert marks(obj({"app.kubernetes.io/instance": "todo"}), "todo", "ns1")
    assert marks(obj(annotations={"meta.helm.sh/release-name": "todo"}), "todo", "ns1")
    assert "release record" in marks(obj({"owner": "helm", "name": "todo", "status": "deployed"}), "todo", "ns1")
    assert marks(obj({"app.kubernetes.io/instance": "other"}), "todo", "ns1") is None
    assert marks(obj(), "todo", "ns1") is None


@pytest.mark.guards(*SWEEP_GUARDS)
def test_a_cluster_scoped_object_is_the_releases_only_when_its_helm_annotations_name_the_namespace():
    # Another namespace's release of the same name (another developer on the cluster) is not ours.
    theirs = obj({"app.kubernetes.io/instance": "todo"},
                 {"meta.helm.sh/release-name": "todo", "meta.helm.sh/release-namespace": "ns2"})
    ours = obj({"app.kubernetes.io/instance": "todo"},
               {"meta.helm.sh/release-name": "todo", "meta.helm.sh/release-namespace": "ns1"})
    assert marks(theirs, "todo", "ns1", cluster_scoped=True) is None
    assert marks(ours, "todo", "ns1", cluster_scoped=True)
