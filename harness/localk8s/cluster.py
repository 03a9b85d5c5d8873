"""A single-node Kubernetes cluster of host processes, built here from upstream sources (design B).

The way Kubernetes' own ``hack/local-up-cluster.sh`` runs one: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, a kubelet on a containerd instance of its own (Debian's
containerd with the CRI plugin; its own config, root, state and socket, never Docker's), Debian's
CNI plugins (bridge + host-local + portmap), kube-proxy in iptables mode and CoreDNS as a
Deployment in kube-system. No registry: the pause and CoreDNS images are one-binary images
assembled here and imported into containerd; application images come from the Docker engine
(``docker save | ctr images import``).

    python -m harness.localk8s up       # prints the kubeconfig path
    python -m harness.localk8s down     # stops everything, removes every trace
    python -m harness.localk8s status
    python -m harness.localk8s load IMAGE...

Binaries: ``scripts/build-kubernetes.sh`` and ``scripts/build-cluster-tools.sh`` (cached under
~/.cache/todo-chatbot, reused when the pinned versions match). Everything the running cluster
writes lives under one run directory (``$TODO_CACHE/local-cluster``) and the cluster's own
networks (pods 10.244.0.0/16, services 10.96.0.0/16), which ``down`` removes together with the
processes, mounts, the ``cni0`` bridge, network namespaces, KUBE-*/CNI-* iptables chains and
the kubelet's cgroups.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import processes
from harness.core.paths import CACHE_DIR, SCRIPTS_DIR

CACHE = CACHE_DIR
K8S_VERSION = os.environ.get("K8S_VERSION", "v1.34.2")
COREDNS_VERSION = os.environ.get("COREDNS_VERSION", "v1.14.7")
PAUSE_VERSION = os.environ.get("PAUSE_VERSION", "3.10.1")
CONTEXT = "todo-local"
NODE_NAME = "todo-local"
POD_CIDR = "10.244.0.0/16"
NODE_POD_CIDR = "10.244.0.0/24"  # the first (only) node's allocation by the controller-manager
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = int(os.environ.get("LOCAL_CLUSTER_APISERVER_PORT", "16443"))
ETCD_CLIENT_PORT, ETCD_PEER_PORT = 12379, 12380
BRIDGE = "cni0"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
PAUSE_IMAGE = f"localhost/todo-local/pause:{PAUSE_VERSION}"
COREDNS_IMAGE = f"localhost/todo-local/coredns:{COREDNS_VERSION}"
CHAIN_PREFIXES = ("KUBE-", "CNI-")
FORWARD_CHAIN = "CNI-TODO-LOCAL-FORWARD"  # pod traffic through FORWARD (forward_rules); CNI- so down() removes it
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


# --- pure helpers (unit-tested) --------------------------------------------------------------------


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
    return [
        ["-i", BRIDGE, "-d", SERVICE_CIDR, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
        ["-i", BRIDGE, "-j", "ACCEPT"],
        ["-o", BRIDGE, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
    ]


def kubelet_config(layout: Layout) -> dict:
    return {
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


def kube_proxy_config(layout: Layout) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(layout.run / "admin.kubeconfig")},
        "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE_NAME,
        "conntrack": {"maxPerCore": 0},  # leave the host's conntrack sysctls alone
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
    admin = str(run / "admin.kubeconfig")
    if name == "etcd":
        client, peer = f"http://127.0.0.1:{ETCD_CLIENT_PORT}", f"http://127.0.0.1:{ETCD_PEER_PORT}"
        return [str(layout.tools_bin / "etcd"), "--name=todo-local", f"--data-dir={run / 'etcd'}",
                f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=todo-local={peer}", "--listen-metrics-urls=", "--log-level=warn",
                "--quota-backend-bytes=2147483648"]
    if name == "containerd":
        return [shutil.which("containerd") or "/usr/bin/containerd", "--config", str(run / "containerd" / "config.toml")]
    if name == "kube-apiserver":
        return [str(layout.k8s_bin / name), f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                "--bind-address=0.0.0.0", f"--secure-port={APISERVER_PORT}", f"--advertise-address={node_ip}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
                "--authorization-mode=Node,RBAC", "--anonymous-auth=false",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--kubelet-client-certificate={pki / 'admin.crt'}", f"--kubelet-client-key={pki / 'admin.key'}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                "--service-node-port-range=30000-32767", "--kubelet-preferred-address-types=InternalIP,Hostname",
                "--v=1"]
    if name == "kube-controller-manager":
        return [str(layout.k8s_bin / name), f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}", "--bind-address=127.0.0.1", "--leader-elect=false",
                "--allocate-node-cidrs=true", f"--cluster-cidr={POD_CIDR}", "--node-cidr-mask-size=24",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}", f"--service-account-private-key-file={pki / 'sa.key'}",
                "--use-service-account-credentials=true", "--controllers=*,-cloud-node-lifecycle", "--v=1"]
    if name == "kube-scheduler":
        return [str(layout.k8s_bin / name), f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}", "--bind-address=127.0.0.1", "--leader-elect=false", "--v=1"]
    if name == "kubelet":
        return [str(layout.k8s_bin / name), f"--config={run / 'kubelet-config.yaml'}",
                f"--kubeconfig={run / 'kubelet.kubeconfig'}", f"--root-dir={run / 'kubelet'}",
                f"--hostname-override={NODE_NAME}", f"--node-ip={node_ip}", "--v=1"]
    if name == "kube-proxy":
        return [str(layout.k8s_bin / name), f"--config={run / 'kube-proxy-config.yaml'}", "--v=1"]
    raise ValueError(f"unknown component {name}")


def rules_to_delete(save_output: str, prefixes: tuple[str, ...] = CHAIN_PREFIXES) -> tuple[list[list[str]], list[str]]:
    """From ``iptables-save -t TABLE``: the rules (as ``-D`` argv tails) that live in or jump to
    our chains, and our chains themselves. Docker's and anyone else's rules are left alone."""
    rules: list[list[str]] = []
    chains: list[str] = []
    for line in save_output.splitlines():
        if line.startswith(":"):
            chain = line[1:].split()[0]
            if chain.startswith(prefixes):
                chains.append(chain)
        elif line.startswith("-A "):
            parts = shlex.split(line)  # comments are quoted: -m comment --comment "a b"
            chain = parts[1]
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            target = target or (parts[parts.index("-g") + 1] if "-g" in parts else "")
            if chain.startswith(prefixes) or target.startswith(prefixes):
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
                      }],
                      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"selector": labels, "clusterIP": DNS_SERVICE_IP,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
    ]


# --- side effects ----------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"local-cluster: {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    return processes.run(argv, check=check, **kw)


def node_ip() -> str:
    """The host's primary IPv4 (the address of the default route's interface)."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default"]).stdout or "[]")
    devs = [r["dev"] for r in routes if r.get("dev")]
    for link in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        if link.get("ifname") in devs or (not devs and link.get("ifname") not in ("lo", "docker0", BRIDGE)):
            for addr in link.get("addr_info", []):
                return addr["local"]
    raise RuntimeError("no IPv4 address with a default route: the node needs one for pods to reach the API")


def cni_bin_dir() -> str:
    for d in CNI_BIN_DIRS:
        if Path(d, "bridge").exists():
            return d
    raise RuntimeError("CNI plugins missing: apt-get install containernetworking-plugins")


GO_FALLBACK = Path("/usr/local/go/bin/go")  # where Go's own installer (and these machines) put it
# Host tools the cluster runs or calls, with the Debian package that brings each (make setup installs them).
HOST_TOOLS = {"containerd": "docker.io (containerd)", "ctr": "docker.io (containerd)", "runc": "docker.io (runc)",
              "iptables": "iptables", "conntrack": "conntrack", "ip": "iproute2", "openssl": "openssl",
              "gcc": "gcc libc6-dev", "kubectl": "kubectl"}


def go_binary() -> str | None:
    return shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)


def missing_prerequisites(which=shutil.which, platform: str = sys.platform, euid: int | None = None) -> list[tuple[str, str]]:
    """What this machine lacks to build and run the local cluster, as (what, fix) pairs; [] when it can."""
    euid = os.geteuid() if euid is None else euid
    if not platform.startswith("linux"):
        return [("the local cluster runs only on Linux", "use --cluster=kind or a Minikube/Docker Desktop context")]
    problems = []
    if euid != 0:
        problems.append(("the local cluster needs root (it runs a kubelet, containerd and iptables rules)",
                         "run as root, or use --cluster=kind"))
    if not (which("go") or GO_FALLBACK.exists()):
        problems.append(("Go not found (the cluster's binaries are built from source)",
                         "install Go >= 1.24: https://go.dev/doc/install"))
    for tool, package in HOST_TOOLS.items():
        if not which(tool):
            problems.append((f"{tool} not found on PATH", f"make setup, or apt-get install {package.split(' (')[0]}"))
    if not any(Path(d, "bridge").exists() for d in CNI_BIN_DIRS):
        problems.append(("CNI plugins not found", "make setup, or apt-get install containernetworking-plugins"))
    return problems


def build_binaries(timeout: float | None = None) -> None:
    """The cached builds (instant when the pinned versions are already built). Their progress lines
    go to stderr: a cold build takes minutes. ``timeout`` bounds each of the two build scripts."""
    env = dict(os.environ)
    if (go := go_binary()) and not shutil.which("go"):
        env["PATH"] = f"{env.get('PATH', '')}{os.pathsep}{Path(go).parent}"
    for script in ("build-kubernetes.sh", "build-cluster-tools.sh"):
        argv = ["nice", "-n", "10", str(SCRIPTS_DIR / script)]
        # A group of its own, so that a deadline (or Ctrl-C) stops the Go compilers too, not only the script.
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env, start_new_session=True) as proc:
            try:
                code = proc.wait(timeout=timeout)
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
        if code:
            raise subprocess.CalledProcessError(code, argv)


def write_pki(layout: Layout, ip: str) -> None:
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    ossl = shutil.which("openssl") or "openssl"

    def cert(name: str, subj: str, ext: str) -> None:
        run([ossl, "genrsa", "-out", str(pki / f"{name}.key"), "2048"])
        run([ossl, "req", "-new", "-key", str(pki / f"{name}.key"), "-subj", subj, "-out", str(pki / f"{name}.csr")])
        (pki / f"{name}.ext").write_text(ext)
        run([ossl, "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
             "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "365", "-sha256",
             "-extfile", str(pki / f"{name}.ext"), "-out", str(pki / f"{name}.crt")])

    run([ossl, "genrsa", "-out", str(pki / "ca.key"), "2048"])
    run([ossl, "req", "-x509", "-new", "-key", str(pki / "ca.key"), "-subj", "/CN=todo-local-ca", "-days", "365",
         "-sha256", "-out", str(pki / "ca.crt")])
    sans = ",".join([f"IP:{KUBERNETES_SERVICE_IP}", "IP:127.0.0.1", f"IP:{ip}", "DNS:localhost", "DNS:kubernetes",
                     "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                     f"DNS:kubernetes.default.svc.{CLUSTER_DOMAIN}"])
    cert("apiserver", "/CN=kube-apiserver", f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
         f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")
    client = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    cert("admin", "/O=system:masters/CN=todo-local-admin", client)
    cert("kubelet", f"/O=system:nodes/CN=system:node:{NODE_NAME}", client)
    run([ossl, "genrsa", "-out", str(pki / "sa.key"), "2048"])
    run([ossl, "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")])
    for f in pki.iterdir():
        f.chmod(0o600)


def install_forward_rules() -> None:
    """FORWARD_CHAIN with forward_rules, jumped to from the end of FORWARD (idempotent)."""
    ipt = ["iptables", "-w", "-t", "filter"]
    run([*ipt, "-N", FORWARD_CHAIN], check=False)  # exists already: fine
    run([*ipt, "-F", FORWARD_CHAIN])
    for rule in forward_rules():
        run([*ipt, "-A", FORWARD_CHAIN, *rule])
    if run([*ipt, "-C", "FORWARD", "-j", FORWARD_CHAIN], check=False).returncode != 0:
        run([*ipt, "-A", "FORWARD", "-j", FORWARD_CHAIN])


def write_configs(layout: Layout, ip: str) -> None:
    import yaml

    run_dir, pki = layout.run, layout.pki
    server = f"https://127.0.0.1:{APISERVER_PORT}"
    for name, cert_name, user in (("admin", "admin", "todo-local-admin"), ("kubelet", "kubelet", f"system:node:{NODE_NAME}")):
        (run_dir / f"{name}.kubeconfig").write_text(yaml.safe_dump(
            kubeconfig(server, pki / "ca.crt", pki / f"{cert_name}.crt", pki / f"{cert_name}.key", user)))
    shutil.copy(run_dir / "admin.kubeconfig", layout.kubeconfig)
    (run_dir / "containerd").mkdir(parents=True, exist_ok=True)
    (run_dir / "containerd" / "config.toml").write_text(containerd_config(layout, cni_bin_dir()))
    (run_dir / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
    (run_dir / "cni" / "net.d" / "10-todo-local.conflist").write_text(json.dumps(cni_config(layout), indent=2))
    (run_dir / "kubelet-config.yaml").write_text(yaml.safe_dump(kubelet_config(layout)))
    (run_dir / "kube-proxy-config.yaml").write_text(yaml.safe_dump(kube_proxy_config(layout)))


def start(name: str, layout: Layout, ip: str) -> int:
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    out = open(layout.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(component_argv(name, layout, ip), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            start_new_session=True, cwd=layout.run)
    (layout.pids / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


alive = processes.alive


def pid_of(name: str, layout: Layout) -> int | None:
    try:
        return int((layout.pids / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def wait_for(what: str, check, timeout: float, layout: Layout, component: str | None = None) -> float:
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout:
        if component and (pid := pid_of(component, layout)) and not alive(pid):
            tail = (layout.logs / f"{component}.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{component} exited while waiting for {what}:\n" + "\n".join(tail))
        try:
            if check():
                return time.monotonic() - start_t
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout:.0f}s (logs: {layout.logs})")


def kubectl(layout: Layout, *args: str, input: str | None = None, check: bool = True) -> str:
    return run(["kubectl", f"--kubeconfig={layout.kubeconfig}", f"--context={CONTEXT}", *args],
               input=input, check=check).stdout


def ctr(layout: Layout, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "--address", str(layout.containerd_socket), "-n", "k8s.io", *args], **kw)


def import_tar(layout: Layout, data: bytes) -> None:
    ctr(layout, "images", "import", "--no-unpack", "-", input=data, check=True, capture_output=True)


def load_docker_image(layout: Layout, image: str) -> None:
    """``docker save IMAGE | ctr images import -`` into the cluster's containerd. A failure names the
    command that failed first and its own message (a missing image is docker's error, not ctr's)."""
    docker = shutil.which("docker") or "docker"
    with tempfile.TemporaryFile() as save_err:
        with subprocess.Popen([docker, "save", image], stdout=subprocess.PIPE, stderr=save_err) as save:
            result = ctr(layout, "images", "import", "-", stdin=save.stdout, capture_output=True, text=True)
            save.stdout.close()
        if save.returncode:
            save_err.seek(0)
            message = save_err.read().decode(errors="replace").strip()
            raise RuntimeError(f"'{docker} save {image}' failed (exit {save.returncode}): {message}")
    if result.returncode:
        raise RuntimeError(f"'ctr images import' of {image} failed (exit {result.returncode}): {result.stderr.strip()}")


def http_ok(url: str) -> bool:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=None)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(url, timeout=2, context=ctx) as r:  # noqa: S310 - loopback only
        return r.status == 200


@contextlib.contextmanager
def _exclusive(layout: Layout):
    """One ``up`` or ``down`` at a time per cluster, across processes (a CI run and a developer, or
    two pytest sessions): otherwise a second ``up`` sees the first one's half-started cluster as
    crashed and tears it down under it. The lock file sits beside the run directory (``down``
    removes that)."""
    lock = layout.run.with_name(layout.run.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another start or stop of the cluster to finish ({lock})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(layout: Layout | None = None, build: bool = True) -> Path:
    layout = layout or Layout()
    with _exclusive(layout):
        return _up(layout, build)


def _up(layout: Layout, build: bool) -> Path:
    if status(layout)["running"]:
        log("already running")
        return layout.kubeconfig
    _down(layout, quiet=True)  # a half-started or crashed cluster from before
    t0 = time.monotonic()
    if build:
        build_binaries()
    ip = node_ip()
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.netns_snapshot.write_text("\n".join(sorted(os.listdir("/var/run/netns"))) if Path("/var/run/netns").is_dir() else "")
    write_pki(layout, ip)
    write_configs(layout, ip)
    start("etcd", layout, ip)
    wait_for("etcd", lambda: http_ok(f"http://127.0.0.1:{ETCD_CLIENT_PORT}/health"), 60, layout, "etcd")
    start("containerd", layout, ip)
    wait_for("containerd", lambda: ctr(layout, "version", capture_output=True).returncode == 0, 60, layout, "containerd")
    pause = layout.tools_bin / "pause"
    import_tar(layout, image_tarball(PAUSE_IMAGE, {"/pause": (pause.read_bytes(), 0o755)}, ["/pause"]))
    coredns = layout.tools_bin / "coredns"
    import_tar(layout, image_tarball(COREDNS_IMAGE, {"/coredns": (coredns.read_bytes(), 0o755)}, ["/coredns"]))
    start("kube-apiserver", layout, ip)
    wait_for("kube-apiserver /readyz", lambda: kubectl(layout, "get", "--raw=/readyz").strip() == "ok", 120, layout,
             "kube-apiserver")
    install_forward_rules()  # before the first pod; kube-proxy prepends its own jumps ahead of it
    for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
        start(name, layout, ip)
    wait_for("node Ready", lambda: "True" in kubectl(
        layout, "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"),
        120, layout, "kubelet")
    node_ready = time.monotonic() - t0
    import yaml

    kubectl(layout, "apply", "-f", "-", input=yaml.safe_dump_all(coredns_manifests()))
    wait_for("CoreDNS Ready", lambda: kubectl(layout, "-n", "kube-system", "rollout", "status", "deploy/coredns",
                                              "--timeout=2s", check=False).find("successfully") >= 0, 120, layout)
    log(f"node Ready after {node_ready:.1f}s, CoreDNS Ready after {time.monotonic() - t0:.1f}s")
    return layout.kubeconfig


# --- test sessions sharing the cluster (``--cluster=local``) ---------------------------------------
#
# A pytest session that finds no cluster starts one and stops it at its end; one that finds a
# cluster running uses it and leaves it. With several sessions at once (a CI run and a developer)
# the cluster must not be stopped under a session still using it: each session holds a lease
# (users/<pid>), and the cluster is stopped by the last session out, and only when a session
# started it (a cluster from ``make cluster-up`` is left running).


def _leases(layout: Layout) -> Path:
    return layout.run / "users"


def _started_by_session(layout: Layout) -> Path:
    return layout.run / "started-by-test-session"


def begin_session(layout: Layout, build: bool = True) -> bool:
    """Start the cluster unless running; lease it for this process. True when this call started it."""
    with _exclusive(layout):
        started = not status(layout)["running"]
        if started:
            _up(layout, build)
            _started_by_session(layout).touch()
        _leases(layout).mkdir(parents=True, exist_ok=True)
        (_leases(layout) / str(os.getpid())).touch()
        return started


def end_session(layout: Layout, keep: bool = False) -> bool:
    """Give this process's lease back; stop the cluster when a session started it and no other
    live session holds it (unless ``keep``). True when it was stopped."""
    with _exclusive(layout):
        (_leases(layout) / str(os.getpid())).unlink(missing_ok=True)
        others = [p for p in (_leases(layout).iterdir() if _leases(layout).is_dir() else [])
                  if p.name.isdigit() and alive(int(p.name))]
        if keep:
            _started_by_session(layout).unlink(missing_ok=True)  # kept: left like a `make cluster-up` cluster
        if others or not _started_by_session(layout).exists():
            if others and _started_by_session(layout).exists():
                log(f"left running for the test session(s) still using it: {', '.join(p.name for p in others)}")
            return False
        _down(layout, quiet=False)
        return True


def status(layout: Layout | None = None) -> dict:
    layout = layout or Layout()
    procs = {}
    for name in COMPONENTS:
        pid = pid_of(name, layout)
        procs[name] = pid is not None and alive(pid)
    return {"running": bool(procs) and all(procs.values()), "components": procs, "kubeconfig": str(layout.kubeconfig)}


def _terminate(pid: int, timeout: float = 20) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)


def _our_shims(layout: Layout) -> list[int]:
    """containerd-shim processes started by our containerd (their command line names our socket)."""
    found = []
    needle = str(layout.containerd_socket).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmd and needle in cmd:
            found.append(int(entry.name))
    return found


def _our_mounts(layout: Layout) -> list[str]:
    root = str(layout.run.resolve())
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == root or point.startswith(root + "/"):
            mounts.append(point)
    return sorted(set(mounts), key=lambda p: -p.count("/"))


def cleanup_iptables() -> None:
    for tool in ("iptables", "ip6tables"):
        if not shutil.which(tool):
            continue
        for table in ("filter", "nat", "mangle"):
            saved = run([f"{tool}-save", "-t", table], check=False).stdout
            rules, chains = rules_to_delete(saved)
            for rule in rules:
                run([tool, "-w", "-t", table, *rule], check=False)
            for chain in chains:
                run([tool, "-w", "-t", table, "-F", chain], check=False)
            for chain in chains:
                run([tool, "-w", "-t", table, "-X", chain], check=False)


def down(layout: Layout | None = None, quiet: bool = False) -> list[str]:
    """Stop every component and remove every trace; returns what was left behind (empty = clean)."""
    layout = layout or Layout()
    with _exclusive(layout):
        return _down(layout, quiet)


def _down(layout: Layout, quiet: bool) -> list[str]:
    if not layout.run.exists():
        return []
    kubelet_pid = pid_of("kubelet", layout)
    if kubelet_pid and alive(kubelet_pid) and (pid := pid_of("kube-apiserver", layout)) and alive(pid):
        # Controllers off first so nothing comes back; then the kubelet stops every pod the normal
        # way (CRI StopPodSandbox: CNI DEL, network namespace removed).
        for name in ("kube-controller-manager", "kube-scheduler"):
            if p := pid_of(name, layout):
                _terminate(p)
        kubectl(layout, "delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=false",
                check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True)
            if out.returncode != 0 or not out.stdout.strip():
                break
            time.sleep(1)
    for name in reversed(COMPONENTS):
        if name == "containerd":
            # whatever the kubelet did not stop: kill and delete the tasks, then the containers
            out = ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True).stdout.split()
            for task in out:
                ctr(layout, "tasks", "kill", "-s", "SIGKILL", task, capture_output=True)
            time.sleep(1 if out else 0)
            for task in out:
                ctr(layout, "tasks", "delete", "-f", task, capture_output=True)
        if pid := pid_of(name, layout):
            _terminate(pid)
    for pid in _our_shims(layout):
        _terminate(pid, timeout=5)
    if layout.kubeconfig.exists() and (layout.k8s_bin / "kube-proxy").exists():
        run([str(layout.k8s_bin / "kube-proxy"), "--cleanup", "--v=0"], check=False)
    cleanup_iptables()
    before = set(layout.netns_snapshot.read_text().split()) if layout.netns_snapshot.exists() else set()
    netns_dir = Path("/var/run/netns")
    if netns_dir.is_dir():
        for ns in os.listdir(netns_dir):
            if ns.startswith("cni-") and ns not in before:
                run(["umount", str(netns_dir / ns)], check=False)
                (netns_dir / ns).unlink(missing_ok=True)
    for point in _our_mounts(layout):
        run(["umount", "-l", point], check=False)
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        run(["ip", "link", "delete", BRIDGE], check=False)
    for cg_root in Path("/sys/fs/cgroup").glob("*"):
        kubepods = cg_root / "kubepods"
        if kubepods.is_dir():
            for d in sorted((p for p in kubepods.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                kubepods.rmdir()
            except OSError:
                pass
    left = leftovers(layout)
    if not left:
        shutil.rmtree(layout.run, ignore_errors=True)
    elif not quiet:
        log("left behind: " + "; ".join(left))
    return left


def leftovers(layout: Layout) -> list[str]:
    left = []
    for name in COMPONENTS:
        if (pid := pid_of(name, layout)) and alive(pid):
            left.append(f"process {name} ({pid})")
    left += [f"shim {pid}" for pid in _our_shims(layout)]
    left += [f"mount {m}" for m in _our_mounts(layout)]
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        left.append(f"interface {BRIDGE}")
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool):
            for table in ("filter", "nat", "mangle"):
                rules, chains = rules_to_delete(run([f"{tool}-save", "-t", table], check=False).stdout)
                if rules or chains:
                    left.append(f"{tool} {table}: {len(rules)} rules, {len(chains)} chains")
    return left


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    layout = Layout()
    if cmd == "up":
        print(up(layout, build="--no-build" not in argv))
        return 0
    if cmd == "down":
        left = down(layout)
        print("removed" if not left else "left behind: " + "; ".join(left))
        return 1 if left else 0
    if cmd == "status":
        print(json.dumps(status(layout), indent=2))
        return 0
    if cmd == "load":
        for image in argv[1:]:
            load_docker_image(layout, image)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
