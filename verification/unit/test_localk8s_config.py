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
    cfg = lc.kubelet_config(lc.Layout(run=tmp_path), "192.0.2.2")
    assert cfg["cgroupDriver"] == "cgroupfs" and cfg["failCgroupV1"] is False
    assert cfg["clusterDNS"] == [lc.DNS_SERVICE_IP]
    assert cfg["authentication"]["anonymous"]["enabled"] is False
    assert cfg["containerRuntimeEndpoint"].endswith("containerd.sock")


def test_every_component_listens_on_loopback_or_the_node_address_and_is_authenticated(tmp_path: Path):
    layout = lc.Layout(run=tmp_path)
    node = "192.0.2.2"
    etcd = lc.component_argv("etcd", layout, node)
    assert all("https://127.0.0.1" in a for a in etcd if a.startswith(("--listen-client", "--listen-peer")))
    assert "--client-cert-auth" in etcd and "--peer-client-cert-auth" in etcd
    assert f"--trusted-ca-file={layout.pki / 'etcd-ca.crt'}" in etcd  # etcd's own CA, not the cluster's
    api = lc.component_argv("kube-apiserver", layout, node)
    assert f"--bind-address={node}" in api and "--anonymous-auth=false" in api
    assert f"--etcd-servers=https://127.0.0.1:{lc.ETCD_CLIENT_PORT}" in api
    assert any(a.startswith("--etcd-certfile=") for a in api)
    for name in ("kube-controller-manager", "kube-scheduler"):
        assert "--bind-address=127.0.0.1" in lc.component_argv(name, layout, node)
    assert lc.kubelet_config(layout, node)["address"] == node
    proxy = lc.kube_proxy_config(layout, node)
    assert proxy["mode"] == "iptables" and proxy["nodePortAddresses"] == [f"{node}/32"]
    # no NodePorts on 127.0.0.1: kube-proxy would set net.ipv4.conf.all.route_localnet=1
    assert proxy["iptables"]["localhostNodePorts"] is False
    assert proxy["conntrack"] == {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"}


def test_teardown_removes_only_the_chains_the_cluster_made():
    rules, chains = lc.rules_to_delete(IPTABLES_SAVE)
    assert sorted(chains) == ["CNI-abc123", "KUBE-SERVICES"]
    assert ["-D", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j",
            "KUBE-SERVICES"] in rules
    assert ["-D", "POSTROUTING", "-s", "10.244.0.2/32", "-m", "comment", "--comment", 'name: "todo-local"',
            "-j", "CNI-abc123"] in rules
    assert not any("DOCKER" in r for rule in rules for r in rule)
    assert len(rules) == 3
    # A chain that was there before `up` (another tool's CNI- chain) is left with its rules.
    rules, chains = lc.rules_to_delete(IPTABLES_SAVE, keep={"CNI-abc123"})
    assert chains == ["KUBE-SERVICES"] and not any("CNI-abc123" in rule for rule in rules)


def test_our_forward_rules_carry_our_comment_and_our_bridge():
    assert lc.BRIDGE != "cni0" and lc.FORWARD_CHAIN.startswith("TODO-LOCAL-")
    for rule in lc.forward_rules():
        assert ["--comment", lc.RULE_COMMENT] == rule[rule.index("--comment"):rule.index("--comment") + 2]
        assert lc.BRIDGE in rule


def test_up_and_down_refuse_a_run_directory_that_is_not_theirs(tmp_path: Path, monkeypatch):
    from harness.localk8s import cluster

    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    layout = lc.Layout(run=precious)
    with pytest.raises(cluster.UnsafeHost, match="not empty and was not made by the local cluster"):
        cluster._claim_run_dir(layout)
    with pytest.raises(cluster.UnsafeHost, match=f"no {lc.RUN_MARKER} file"):
        cluster._down(layout, quiet=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    fresh = lc.Layout(run=tmp_path / "new")
    cluster._claim_run_dir(fresh)
    assert fresh.marker.exists()
    assert fresh.run.stat().st_mode & 0o777 == 0o700, "the run directory (keys, kubeconfig, etcd) is readable by others"


def test_host_settings_recorded_at_up_are_written_back_at_down(tmp_path: Path, monkeypatch):
    """restore() writes back exactly what differs from the snapshot, through /proc/sys paths."""
    from harness.localk8s import hoststate

    fake = tmp_path / "proc-sys"
    monkeypatch.setattr(hoststate, "_sysctl_path", lambda name: fake / name.replace(".", "/"))
    for name in hoststate.SYSCTLS[:3]:
        (fake / name.replace(".", "/")).parent.mkdir(parents=True, exist_ok=True)
        (fake / name.replace(".", "/")).write_text("0\n")
    monkeypatch.setattr(hoststate, "iptables_chains", lambda: {})
    layout = lc.Layout(run=tmp_path)
    hoststate.snapshot(layout)
    (fake / hoststate.SYSCTLS[1].replace(".", "/")).write_text("1\n")  # the kubelet's change
    assert hoststate.sysctls_changed(layout) == [f"sysctl {hoststate.SYSCTLS[1]}=1 (was 0)"]
    assert hoststate.restore(layout) == []
    assert (fake / hoststate.SYSCTLS[1].replace(".", "/")).read_text().strip() == "0"
    assert hoststate.sysctls_changed(layout) == []


def test_one_binary_image_is_a_docker_archive():
    data = lc.image_tarball("localhost/x/pause:1", {"/pause": (b"\x7fELF", 0o755)}, ["/pause"])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["localhost/x/pause:1"]
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert config["config"]["Entrypoint"] == ["/pause"]
        layer = tarfile.open(fileobj=tar.extractfile("layer.tar"))
        assert layer.getmember("pause").mode == 0o755


def test_no_component_runs_with_the_admin_identity(tmp_path: Path):
    """Each component has its own certificate (pki.COMPONENT_IDENTITIES): the admin key is people's."""
    import json as _json

    from harness.localk8s import pki

    layout = lc.Layout(run=tmp_path / "run")
    used = " ".join(" ".join(lc.component_argv(n, layout, "10.0.0.5")) for n in lc.COMPONENTS)
    used += _json.dumps(lc.kube_proxy_config(layout, "10.0.0.5"))
    assert "admin" not in used, used
    for name in ("controller-manager", "scheduler", "kube-proxy", "apiserver-kubelet-client"):
        assert name in pki.COMPONENT_IDENTITIES
    assert "--enable-admission-plugins=NodeRestriction" in used
