"""Pure checks of the local cluster's generated configuration and teardown selection (no cluster)."""

from __future__ import annotations

import io
import ipaddress
import json
import tarfile
from pathlib import Path

import pytest

from harness.localk8s import config as lc
from harness.providers import parse_cluster_option

pytestmark = pytest.mark.harness

IPTABLES_SAVE = """*nat
:PREROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:KUBE-SERVICES - [0:0]
:CNI-abc123 - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \\"todo-local\\"" -j CNI-abc123
-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-X
-A DOCKER -i docker0 -j RETURN
COMMIT
"""


def test_cluster_option_local():
    assert parse_cluster_option("local").kind == "local"


def test_networks_do_not_collide_with_docker():
    docker = ipaddress.ip_network("172.17.0.0/16")
    pods, services = ipaddress.ip_network(lc.POD_CIDR), ipaddress.ip_network(lc.SERVICE_CIDR)
    assert not pods.overlaps(docker) and not services.overlaps(docker) and not pods.overlaps(services)
    assert ipaddress.ip_address(lc.DNS_SERVICE_IP) in services
    assert ipaddress.ip_network(lc.NODE_POD_CIDR).subnet_of(pods)


def test_containerd_is_an_instance_of_its_own(tmp_path: Path):
    layout = lc.Layout(run=tmp_path)
    text = lc.containerd_config(layout, "/usr/lib/cni")
    assert f'address = "{tmp_path}/containerd/containerd.sock"' in text
    assert "/var/run/docker" not in text and '"/run/containerd' not in text
    assert f'sandbox_image = "{lc.PAUSE_IMAGE}"' in text
    assert f'Root = "{tmp_path}/containerd/runc"' in text


def test_kubelet_config_fits_this_machine(tmp_path: Path):
    cfg = lc.kubelet_config(lc.Layout(run=tmp_path))
    assert cfg["cgroupDriver"] == "cgroupfs" and cfg["failCgroupV1"] is False
    assert cfg["clusterDNS"] == [lc.DNS_SERVICE_IP]
    assert cfg["authentication"]["anonymous"]["enabled"] is False
    assert cfg["containerRuntimeEndpoint"].endswith("containerd.sock")


def test_every_component_listens_on_loopback_or_is_authenticated(tmp_path: Path):
    layout = lc.Layout(run=tmp_path)
    etcd = lc.component_argv("etcd", layout, "192.0.2.2")
    assert all("127.0.0.1" in a for a in etcd if a.startswith("--listen-client") or a.startswith("--listen-peer"))
    api = lc.component_argv("kube-apiserver", layout, "192.0.2.2")
    assert "--anonymous-auth=false" in api and f"--service-cluster-ip-range={lc.SERVICE_CIDR}" in api
    for name in ("kube-controller-manager", "kube-scheduler"):
        assert "--bind-address=127.0.0.1" in lc.component_argv(name, layout, "192.0.2.2")
    assert lc.kube_proxy_config(layout)["mode"] == "iptables"


def test_teardown_removes_only_our_iptables_rules():
    rules, chains = lc.rules_to_delete(IPTABLES_SAVE)
    assert sorted(chains) == ["CNI-abc123", "KUBE-SERVICES"]
    assert ["-D", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j",
            "KUBE-SERVICES"] in rules
    assert ["-D", "POSTROUTING", "-s", "10.244.0.2/32", "-m", "comment", "--comment", 'name: "todo-local"',
            "-j", "CNI-abc123"] in rules
    assert not any("DOCKER" in r for rule in rules for r in rule)
    assert len(rules) == 3


def test_one_binary_image_is_a_docker_archive():
    data = lc.image_tarball("localhost/x/pause:1", {"/pause": (b"\x7fELF", 0o755)}, ["/pause"])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["localhost/x/pause:1"]
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert config["config"]["Entrypoint"] == ["/pause"]
        layer = tarfile.open(fileobj=tar.extractfile("layer.tar"))
        assert layer.getmember("pause").mode == 0o755
