"""The local cluster's configuration: versions, networks, ports and names, where a cluster keeps its
state (:class:`Layout`), and the builders of every file and command line it runs with.

The builders are pure (unit-tested without a cluster); :func:`write_configs` writes their output
into the run directory.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import shlex
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.paths import CACHE_DIR

CACHE = CACHE_DIR
K8S_VERSION = os.environ.get("K8S_VERSION", "v1.34.2")
COREDNS_VERSION = os.environ.get("COREDNS_VERSION", "v1.14.7")
PAUSE_VERSION = os.environ.get("PAUSE_VERSION", "3.10.1")
CONTEXT = "todo-local"
NODE_NAME = "todo-local"
POD_CIDR = "10.244.0.0/16"
NODE_POD_CIDR = "10.244.0.0/24"  # the first (only) node's allocation by the controller-manager
# The node's address: the pods' gateway on the cluster's bridge (host-local gives the bridge the
# first address of the range). Everything that listens beyond loopback listens here, so nothing of
# the cluster is reachable from the machine's network (network.node_ip).
_NODE_NET = ipaddress.ip_network(NODE_POD_CIDR)
NODE_IP = str(_NODE_NET[1])
NODE_ADDRESS = f"{NODE_IP}/{_NODE_NET.prefixlen}"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = int(os.environ.get("LOCAL_CLUSTER_APISERVER_PORT", "16443"))
ETCD_CLIENT_PORT, ETCD_PEER_PORT = 12379, 12380
# Names of our own, so that nothing is mistaken for another cluster's (cni0 is flannel's, k3s's and
# kubeadm guides' bridge): the bridge, the FORWARD chain and the comment on every rule we add.
BRIDGE = "todo0"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
PAUSE_IMAGE = f"localhost/todo-local/pause:{PAUSE_VERSION}"
COREDNS_IMAGE = f"localhost/todo-local/coredns:{COREDNS_VERSION}"
# Chains the cluster creates: kube-proxy's (KUBE-, fixed by kube-proxy), the CNI plugins' (CNI-, with
# our network's name in their comments) and ours. `down` removes only those that were not there
# before `up` (hoststate.snapshot), and `up` refuses to start beside another cluster's kube-proxy.
CHAIN_PREFIXES = ("KUBE-", "CNI-", "TODO-LOCAL-")
FORWARD_CHAIN = "TODO-LOCAL-FORWARD"  # pod traffic through FORWARD (forward_rules)
RULE_COMMENT = "todo-local-cluster"
# The run directory carries this file from `up` on; `down` removes nothing without it.
RUN_MARKER = ".todo-local-cluster"
# Order of start; stop is the reverse.
COMPONENTS = ("etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
              "kubelet", "kube-proxy")


@dataclass
class Layout:
    """Where a cluster keeps its state: one run directory (removed by ``down``)."""

    run: Path = field(default_factory=lambda: Path(os.environ.get("LOCAL_CLUSTER_DIR", CACHE / "local-cluster")))

    @property
    def k8s_bin(self) -> Path:
        return CACHE / "kubernetes" / K8S_VERSION / "bin"

    @property
    def tools_bin(self) -> Path:
        return CACHE / "cluster-tools" / "bin"

    @property
    def pki(self) -> Path:
        return self.run / "pki"

    @property
    def logs(self) -> Path:
        return self.run / "logs"

    @property
    def pids(self) -> Path:
        return self.run / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.run / "kubeconfig"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd" / "containerd.sock"

    @property
    def netns_snapshot(self) -> Path:
        return self.run / "netns-before"

    @property
    def encryption_config(self) -> Path:
        """The API server's key for Secrets at rest (``encryption_config``); gone with the run directory."""
        return self.pki / "encryption-config.yaml"

    @property
    def marker(self) -> Path:
        return self.run / RUN_MARKER

    @property
    def host_snapshot(self) -> Path:
        """The host's settings before ``up`` (sysctls, iptables chains), restored by ``down``."""
        return self.run / "host-before.json"


# --- pure builders (unit-tested) ------------------------------------------------------------------


def containerd_config(layout: Layout, cni_bin: str) -> str:
    """A containerd 1.6 config of its own: root, state, socket, CRI with our pause image and CNI."""
    c = layout.run / "containerd"
    return f"""version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{c / 'containerd.sock.ttrpc'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # this machine is itself a container: it may not lower oom_score_adj below its own
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{c / 'runc'}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{layout.run / 'cni' / 'net.d'}"
"""


def cni_config(layout: Layout) -> dict:
    return {
        "cniVersion": "0.4.0", "name": "todo-local",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": NODE_POD_CIDR}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.run / "cni" / "ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            # No "firewall" plugin: it puts its ACCEPT of all pod traffic at the top of FORWARD,
            # ahead of kube-proxy's rules (see forward_rules).
        ],
    }


def forward_rules() -> list[list[str]]:
    """The rules of FORWARD_CHAIN, which lets pod traffic through the host's FORWARD chain.

    Docker sets the FORWARD policy to DROP, and br_netfilter sends even bridged pod-to-pod
    traffic through it, so the pods' traffic needs an ACCEPT. It must come *after* kube-proxy's
    jumps (which kube-proxy prepends): its REJECT of a Service without endpoints and its DROP of
    INVALID packets apply to pods too. A packet from a pod to the Service range that no DNAT
    rule rewrote (kube-proxy has not programmed that Service yet) is refused here: let through,
    it would leave by the default route, and behind a transparent egress proxy a connection to a
    Service that is not routable yet would be answered by that proxy (HTTP 404, empty body)
    instead of failing, and a client's keep-alive pool would keep talking to the proxy.
    """
    mark = ["-m", "comment", "--comment", RULE_COMMENT]
    return [
        ["-i", BRIDGE, "-d", SERVICE_CIDR, *mark, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
        ["-i", BRIDGE, *mark, "-j", "ACCEPT"],
        ["-o", BRIDGE, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *mark, "-j", "ACCEPT"],
    ]


def kubelet_config(layout: Layout, node_ip: str) -> dict:
    return {
        "address": node_ip,  # the kubelet's API (10250) on the node's address, not every interface
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(layout.pki / "ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # this machine's hierarchy is v1 (hybrid)
        "failSwapOn": False,
        "clusterDNS": [DNS_SERVICE_IP], "clusterDomain": CLUSTER_DOMAIN,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
        "readOnlyPort": 0,
        "resolvConf": "/etc/resolv.conf",
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%",
                         "nodefs.inodesFree": "2%"},
        "imageGCHighThresholdPercent": 99, "imageGCLowThresholdPercent": 98,
        "serializeImagePulls": False,
    }


def kube_proxy_config(layout: Layout, node_ip: str) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(layout.run / "kube-proxy.kubeconfig")},
        "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE_NAME,
        # NodePorts on the node's address only; none on 127.0.0.1, which would make kube-proxy set
        # net.ipv4.conf.all.route_localnet=1 (the weakness of CVE-2020-8558).
        "nodePortAddresses": [f"{node_ip}/32"],
        "iptables": {"localhostNodePorts": False},
        # 0 = leave the host's conntrack table size and TCP timeouts as they are.
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "metricsBindAddress": "127.0.0.1:10249", "healthzBindAddress": "127.0.0.1:10256",
    }


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str, context: str = CONTEXT) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
    }


def component_argv(name: str, layout: Layout, node_ip: str) -> list[str]:
    """The command line of one component (binaries from the build caches)."""
    pki, run = layout.pki, layout.run
    if name == "etcd":
        # TLS with client certificates of etcd's own CA on both ports: on loopback, any local process
        # could otherwise read the Secrets or write a privileged pod straight into the store.
        client, peer = f"https://127.0.0.1:{ETCD_CLIENT_PORT}", f"https://127.0.0.1:{ETCD_PEER_PORT}"
        tls = [f"--cert-file={pki / 'etcd.crt'}", f"--key-file={pki / 'etcd.key'}", "--client-cert-auth",
               f"--trusted-ca-file={pki / 'etcd-ca.crt'}", f"--peer-cert-file={pki / 'etcd.crt'}",
               f"--peer-key-file={pki / 'etcd.key'}", "--peer-client-cert-auth",
               f"--peer-trusted-ca-file={pki / 'etcd-ca.crt'}"]
        return [str(layout.tools_bin / "etcd"), "--name=todo-local", f"--data-dir={run / 'etcd'}",
                f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=todo-local={peer}", "--listen-metrics-urls=", "--log-level=warn",
                "--quota-backend-bytes=2147483648", *tls]
    if name == "containerd":
        return [shutil.which("containerd") or "/usr/bin/containerd", "--config", str(run / "containerd" / "config.toml")]
    if name == "kube-apiserver":
        return [str(layout.k8s_bin / name), f"--etcd-servers=https://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--etcd-cafile={pki / 'etcd-ca.crt'}", f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
                f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
                f"--bind-address={node_ip}", f"--secure-port={APISERVER_PORT}", f"--advertise-address={node_ip}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
                "--authorization-mode=Node,RBAC", "--anonymous-auth=false",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                "--enable-admission-plugins=NodeRestriction",  # the kubelet may change its own Node and pods only
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                "--service-node-port-range=30000-32767", "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--encryption-provider-config={layout.encryption_config}",
                "--v=1"]
    if name == "kube-controller-manager":
        own = str(run / "controller-manager.kubeconfig")  # its own identity (pki.COMPONENT_IDENTITIES)
        return [str(layout.k8s_bin / name), f"--kubeconfig={own}", f"--authentication-kubeconfig={own}",
                f"--authorization-kubeconfig={own}", "--bind-address=127.0.0.1", "--leader-elect=false",
                "--allocate-node-cidrs=true", f"--cluster-cidr={POD_CIDR}", "--node-cidr-mask-size=24",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}", f"--service-account-private-key-file={pki / 'sa.key'}",
                "--use-service-account-credentials=true", "--controllers=*,-cloud-node-lifecycle", "--v=1"]
    if name == "kube-scheduler":
        own = str(run / "scheduler.kubeconfig")
        return [str(layout.k8s_bin / name), f"--kubeconfig={own}", f"--authentication-kubeconfig={own}",
                f"--authorization-kubeconfig={own}", "--bind-address=127.0.0.1", "--leader-elect=false", "--v=1"]
    if name == "kubelet":
        return [str(layout.k8s_bin / name), f"--config={run / 'kubelet-config.yaml'}",
                f"--kubeconfig={run / 'kubelet.kubeconfig'}", f"--root-dir={run / 'kubelet'}",
                f"--hostname-override={NODE_NAME}", f"--node-ip={node_ip}", "--v=1"]
    if name == "kube-proxy":
        return [str(layout.k8s_bin / name), f"--config={run / 'kube-proxy-config.yaml'}", "--v=1"]
    raise ValueError(f"unknown component {name}")


def rules_to_delete(save_output: str, prefixes: tuple[str, ...] = CHAIN_PREFIXES,
                    keep: frozenset[str] | set[str] = frozenset()) -> tuple[list[list[str]], list[str]]:
    """From ``iptables-save -t TABLE``: the rules (as ``-D`` argv tails) that live in or jump to
    our chains, and our chains themselves: those with our prefixes that are not in ``keep`` (the
    chains there before the cluster started). Docker's and anyone else's rules are left alone."""
    rules: list[list[str]] = []
    chains: list[str] = []
    for line in save_output.splitlines():
        if line.startswith(":"):
            chain = line[1:].split()[0]
            if chain.startswith(prefixes) and chain not in keep:
                chains.append(chain)
        elif line.startswith("-A "):
            parts = shlex.split(line)  # comments are quoted: -m comment --comment "a b"
            chain = parts[1]
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            target = target or (parts[parts.index("-g") + 1] if "-g" in parts else "")
            if chain in chains or target in chains:
                rules.append(["-D", *parts[1:]])
    return rules, chains


def image_tarball(name: str, files: dict[str, tuple[bytes, int]], entrypoint: list[str],
                  args: list[str] | None = None, user: str = "") -> bytes:
    """A ``docker save``-format archive of a one-layer image holding ``files`` (path → (data, mode))."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Entrypoint": entrypoint, "Cmd": args or [], "User": user, "WorkingDir": "/",
                         "Env": ["PATH=/"]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "history": [{"created_by": "todo-local-cluster"}]}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [name], "Layers": ["layer.tar"]}]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, data in (("layer.tar", layer_bytes), (config_name, config_bytes),
                             ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def coredns_manifests() -> list[dict]:
    labels = {"k8s-app": "kube-dns"}
    corefile = f""".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}}
"""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
         "data": {"Corefile": corefile}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "coredns", "dnsPolicy": "Default",
                      "priorityClassName": "system-cluster-critical",
                      "containers": [{
                          "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "Never",
                          "args": ["-conf", "/etc/coredns/Corefile"],
                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
                          "resources": {"requests": {"cpu": "50m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
                          "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                          "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "initialDelaySeconds": 60},
                          "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                          # Upstream CoreDNS's own (deployment/kubernetes/coredns.yaml.sed): root only
                          # for port 53, with that one capability and nothing writable.
                          "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                              "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
                      }],
                      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"selector": labels, "clusterIP": DNS_SERVICE_IP,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
    ]



# --- the run directory's configuration files -------------------------------------------------------

# Secrets in etcd are sealed with this prefix (secretbox: XSalsa20-Poly1305, the provider upstream
# recommends over aescbc); anything written before a key existed would be read through ``identity``.
SECRETS_AT_REST_PREFIX = b"k8s:enc:secretbox:v1:key1:"


def encryption_config(key: bytes) -> dict:
    """The API server's EncryptionConfiguration: Secrets sealed with ``key`` (32 bytes) in etcd."""
    import base64

    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": [
                {"secretbox": {"keys": [{"name": "key1", "secret": base64.b64encode(key).decode()}]}},
                {"identity": {}}]}]}



def write_configs(layout: Layout, cni_bin: str, node_ip: str) -> None:
    """The kubeconfigs, containerd's config (CNI plugins from ``cni_bin``), the CNI network and
    the kubelet's and kube-proxy's configurations, under the run directory."""
    import yaml

    run_dir, pki = layout.run, layout.pki
    server = f"https://{node_ip}:{APISERVER_PORT}"  # where the API server listens (component_argv)
    for name, cert_name, user in (("admin", "admin", "todo-local-admin"), ("kubelet", "kubelet", f"system:node:{NODE_NAME}"),
                                  ("controller-manager", "controller-manager", "system:kube-controller-manager"),
                                  ("scheduler", "scheduler", "system:kube-scheduler"),
                                  ("kube-proxy", "kube-proxy", "system:kube-proxy")):
        (run_dir / f"{name}.kubeconfig").write_text(yaml.safe_dump(
            kubeconfig(server, pki / "ca.crt", pki / f"{cert_name}.crt", pki / f"{cert_name}.key", user)))
    shutil.copy(run_dir / "admin.kubeconfig", layout.kubeconfig)
    (run_dir / "containerd").mkdir(parents=True, exist_ok=True)
    (run_dir / "containerd" / "config.toml").write_text(containerd_config(layout, cni_bin))
    (run_dir / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
    (run_dir / "cni" / "net.d" / "10-todo-local.conflist").write_text(json.dumps(cni_config(layout), indent=2))
    (run_dir / "kubelet-config.yaml").write_text(yaml.safe_dump(kubelet_config(layout, node_ip)))
    (run_dir / "kube-proxy-config.yaml").write_text(yaml.safe_dump(kube_proxy_config(layout, node_ip)))
    # A fresh key per cluster (``down`` removes it with etcd's data), readable by its owner only.
    fd = os.open(layout.encryption_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(encryption_config(os.urandom(32))))
