"""The chart's rendered pod templates, translated into Docker container settings.

Pure functions, no Docker calls: :func:`pods_from_manifests` reads the rendered
manifests (a list of dicts, as ``harness.kube.render`` returns them) and gives
one :class:`PodSpec` per replica of each Deployment (:func:`replica_spec` for one), each with a
:class:`ContainerSpec` per container of the pod template; :func:`docker_create_kwargs`
turns a container spec into the keyword arguments of ``docker.containers.create``.
``harness.podrt.runtime`` (with ``harness.podrt.pod``) runs them.

The translation, field by field (what Kubernetes does → what Docker is given):

* ``image``, ``command`` → entrypoint, ``args`` → command, ``workingDir``; ``$(VAR)``
  references in command, args and env values expand as the kubelet expands them.
* ``envFrom`` then ``env`` (later wins), ``valueFrom`` ``configMapKeyRef`` /
  ``secretKeyRef`` / ``fieldRef`` resolved against the *rendered* ConfigMaps and
  Secrets (:func:`harness.kube.manifests.resolve_env`); every variable keeps its source
  (:class:`~harness.kube.manifests.EnvVar`) so a test can prove where a value came from.
* ``securityContext`` (container over pod): ``runAsUser``/``runAsGroup`` → user,
  ``fsGroup``/``supplementalGroups`` → extra groups, ``readOnlyRootFilesystem`` →
  read-only root, ``allowPrivilegeEscalation: false`` → ``no-new-privileges``,
  ``capabilities`` → cap_drop/cap_add.
* ``emptyDir`` volume mounts → tmpfs at the mount path (mode 0777 like an emptyDir,
  ``sizeLimit`` → size). Other volume types are refused with a clear message.
* ``resources.limits`` → memory limit (and no swap) and CPU quota;
  ``requests.cpu`` → CPU shares, ``requests.memory`` → memory reservation.
* probes, ``lifecycle.preStop`` and ``terminationGracePeriodSeconds`` are carried as
  data for the kubelet stand-in (``harness.podrt.probes``).

What it is not: Kubernetes. There is no scheduler, no API server and no controller;
Services are stand-ins (see ``harness.podrt.services``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.kube.manifests import (
    EnvVar,
    UnsupportedEnv,
    configmap_values,
    expand,
    pod_labels,
    pod_spec,
    resolve_env,
    secret_values,
)
from harness.kube.quantities import parse_cpu, parse_memory

LABEL_PREFIX = "todo-chatbot.runtime"
DEFAULT_GRACE_SECONDS = 30


class UnsupportedSpec(ValueError):
    """The pod template uses something this translation cannot reproduce on Docker."""


# --- the rendered objects -------------------------------------------------------------------
@dataclass
class RenderedObjects:
    """The rendered manifests, indexed the way the pod templates refer to them."""

    deployments: dict[str, dict] = field(default_factory=dict)
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[str, dict] = field(default_factory=dict)
    namespace: str = "default"

    @classmethod
    def from_manifests(cls, manifests: Iterable[Mapping[str, Any]], namespace: str = "default") -> RenderedObjects:
        objects = cls(namespace=namespace)
        for manifest in manifests:
            if not manifest:
                continue
            kind = manifest.get("kind")
            name = manifest.get("metadata", {}).get("name", "")
            if kind == "Deployment":
                objects.deployments[name] = dict(manifest)
            elif kind == "ConfigMap":
                objects.configmaps[name] = configmap_values(manifest)
            elif kind == "Secret":
                objects.secrets[name] = secret_values(manifest)
            elif kind == "Service":
                objects.services[name] = dict(manifest)
        return objects

    def services_selecting(self, labels: Mapping[str, str]) -> list[str]:
        """Names of the Services whose selector matches ``labels`` (a pod's labels)."""
        names = []
        for name, service in self.services.items():
            selector = service.get("spec", {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                names.append(name)
        return sorted(names)


# --- probes and lifecycle (data only) ------------------------------------------------------
@dataclass(frozen=True)
class ProbeSpec:
    """A probe with Kubernetes' defaults filled in; ``port`` is a number."""

    kind: str  # liveness | readiness | startup
    action: str  # httpGet | tcpSocket | exec
    port: int = 0
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_k8s(cls, kind: str, probe: Mapping[str, Any], named_ports: Mapping[str, int]) -> ProbeSpec:
        common = dict(
            kind=kind,
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            success_threshold=int(probe.get("successThreshold", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
        )
        if "httpGet" in probe:
            http = probe["httpGet"]
            if http.get("host"):
                raise UnsupportedSpec(f"{kind} probe: httpGet.host is not reproduced on Docker")
            headers = tuple((h["name"], str(h["value"])) for h in http.get("httpHeaders") or [])
            return cls(action="httpGet", port=_port_number(http.get("port"), named_ports, kind),
                       path=http.get("path", "/"), scheme=http.get("scheme", "HTTP").upper(),
                       headers=headers, **common)
        if "tcpSocket" in probe:
            return cls(action="tcpSocket", port=_port_number(probe["tcpSocket"].get("port"), named_ports, kind),
                       **common)
        if "exec" in probe:
            return cls(action="exec", command=tuple(probe["exec"].get("command") or ()), **common)
        raise UnsupportedSpec(f"{kind} probe {sorted(probe)}: only httpGet, tcpSocket and exec are reproduced")

    def describe(self) -> str:
        if self.action == "httpGet":
            target = f"GET {self.path} on port {self.port}"
        elif self.action == "tcpSocket":
            target = f"TCP port {self.port}"
        else:
            target = f"exec {' '.join(self.command)}"
        return (f"{self.kind} probe {target} (delay {self.initial_delay:g}s, period {self.period:g}s, "
                f"timeout {self.timeout:g}s, failureThreshold {self.failure_threshold})")


def _port_number(port: Any, named_ports: Mapping[str, int], what: str) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    if isinstance(port, str) and port in named_ports:
        return named_ports[port]
    raise UnsupportedSpec(f"{what}: port {port!r} is neither a number nor a named containerPort")


# --- pods -----------------------------------------------------------------------------------
@dataclass
class ContainerSpec:
    """Everything needed to run one container of a pod template on Docker."""

    name: str
    image: str
    image_pull_policy: str
    entrypoint: list[str] | None
    command: list[str] | None
    env: list[EnvVar]
    working_dir: str | None
    user: str | None
    run_as_non_root: bool
    group_add: list[str]
    read_only: bool
    tmpfs: dict[str, str]
    mem_limit: int | None
    mem_reservation: int | None
    nano_cpus: int | None
    cpu_shares: int | None
    ports: dict[str, int]  # name (or "port-<n>") -> containerPort
    probes: dict[str, ProbeSpec]
    pre_stop: dict | None
    cap_drop: list[str]
    cap_add: list[str]
    security_opt: list[str]
    privileged: bool = False

    @property
    def env_dict(self) -> dict[str, str]:
        return {v.name: v.value for v in self.env}


@dataclass
class PodSpec:
    """One replica of a Deployment's pod template."""

    name: str
    deployment: str
    labels: dict[str, str]
    containers: list[ContainerSpec]
    grace_seconds: float
    services: list[str]

    @property
    def ports(self) -> dict[int, str]:
        """Every port any container declares or probes, with the container that owns it."""
        owned: dict[int, str] = {}
        for c in self.containers:
            for port in c.ports.values():
                owned.setdefault(port, c.name)
            for probe in c.probes.values():
                if probe.port:
                    owned.setdefault(probe.port, c.name)
        return owned


def _security(pod_sc: Mapping[str, Any], sc: Mapping[str, Any]) -> dict[str, Any]:
    def pick(key: str) -> Any:
        return sc[key] if key in sc else pod_sc.get(key)

    uid, gid = pick("runAsUser"), pick("runAsGroup")
    user = None if uid is None else (f"{uid}:{gid}" if gid is not None else str(uid))
    groups = [str(g) for g in (pod_sc.get("supplementalGroups") or [])]
    if pod_sc.get("fsGroup") is not None:
        groups.insert(0, str(pod_sc["fsGroup"]))
    caps = sc.get("capabilities") or {}
    security_opt = []
    if sc.get("allowPrivilegeEscalation") is False:
        security_opt.append("no-new-privileges:true")
    seccomp = (pick("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        security_opt.append("seccomp=unconfined")
    elif seccomp == "Localhost":
        raise UnsupportedSpec("seccompProfile Localhost is not reproduced on Docker")
    return dict(
        user=user,
        run_as_non_root=bool(pick("runAsNonRoot")),
        group_add=list(dict.fromkeys(groups)),
        read_only=bool(sc.get("readOnlyRootFilesystem", False)),
        cap_drop=[str(c) for c in caps.get("drop") or []],
        cap_add=[str(c) for c in caps.get("add") or []],
        security_opt=security_opt,
        privileged=bool(sc.get("privileged", False)),
    )


def _tmpfs_mounts(container: Mapping[str, Any], volumes: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, str]:
    mounts: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise UnsupportedSpec(f"{where}: volumeMount {mount['name']!r} names no volume of the pod")
        if "emptyDir" not in volume:
            kinds = sorted(k for k in volume if k != "name")
            raise UnsupportedSpec(f"{where}: volume {mount['name']!r} ({', '.join(kinds)}) is not reproduced: "
                                  "only emptyDir volumes (tmpfs) are")
        if mount.get("subPath"):
            raise UnsupportedSpec(f"{where}: subPath mounts are not reproduced")
        options = ["rw", "exec", "mode=0777"] if not mount.get("readOnly") else ["ro", "mode=0777"]
        size = (volume.get("emptyDir") or {}).get("sizeLimit")
        if size:
            options.append(f"size={parse_memory(size)}")
        mounts[mount["mountPath"]] = ",".join(options)
    return mounts


def pod_env(container: Mapping[str, Any], objects: RenderedObjects, pod_name: str = "pod",
            pod_ip: str = "") -> list[EnvVar]:
    """The container's environment (:func:`harness.kube.manifests.resolve_env`), as the kubelet builds it.

    An absent non-optional reference raises :class:`~harness.kube.manifests.UnresolvedReference`
    (``CreateContainerConfigError`` on a cluster); what Docker cannot reproduce, :class:`UnsupportedSpec`.
    """
    fields = {"metadata.name": pod_name, "metadata.namespace": objects.namespace,
              "status.podIP": pod_ip, "spec.nodeName": "docker", "status.hostIP": "127.0.0.1"}
    try:
        return resolve_env(container, objects.configmaps, objects.secrets, missing="raise", fields=fields)
    except UnsupportedEnv as exc:
        raise UnsupportedSpec(f"{exc} (not reproduced on Docker)") from exc


def container_spec(container: Mapping[str, Any], pod: Mapping[str, Any], objects: RenderedObjects,
                   pod_name: str) -> ContainerSpec:
    """One container of a pod; ``pod`` is the pod spec it belongs to."""
    where = f"container {container.get('name')!r}"
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    env = pod_env(container, objects, pod_name=pod_name)
    env_map = {v.name: v.value for v in env}
    ports: dict[str, int] = {}
    for p in container.get("ports") or []:
        if p.get("protocol", "TCP") != "TCP":
            raise UnsupportedSpec(f"{where}: only TCP ports are reproduced")
        ports[p.get("name") or f"port-{p['containerPort']}"] = int(p["containerPort"])
    probes = {}
    for kind in ("startup", "liveness", "readiness"):
        if probe := container.get(f"{kind}Probe"):
            probes[kind] = ProbeSpec.from_k8s(kind, probe, ports)
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    mem_limit = parse_memory(limits["memory"]) if "memory" in limits else None
    cpu_limit = parse_cpu(limits["cpu"]) if "cpu" in limits else None
    # Kubernetes defaults a missing request to the limit.
    cpu_request = parse_cpu(requests["cpu"]) if "cpu" in requests else cpu_limit
    mem_request = parse_memory(requests["memory"]) if "memory" in requests else mem_limit
    lifecycle = container.get("lifecycle") or {}
    command = container.get("command")
    args = container.get("args")
    return ContainerSpec(
        name=container["name"],
        image=container["image"],
        image_pull_policy=container.get("imagePullPolicy", "IfNotPresent"),
        entrypoint=[expand(str(a), env_map) for a in command] if command else None,
        command=[expand(str(a), env_map) for a in args] if args else None,
        env=env,
        working_dir=container.get("workingDir"),
        tmpfs=_tmpfs_mounts(container, volumes, where),
        mem_limit=mem_limit,
        mem_reservation=mem_request if mem_request and mem_request != mem_limit else None,
        nano_cpus=int(cpu_limit * 1e9) if cpu_limit else None,
        cpu_shares=max(2, int(cpu_request * 1024)) if cpu_request else None,
        ports=ports,
        probes=probes,
        pre_stop=lifecycle.get("preStop"),
        **_security(pod.get("securityContext") or {}, container.get("securityContext") or {}),
    )


def pod_name_for(deployment: str) -> str:
    """A unique pod name in Kubernetes' style: ``<deployment>-<5 random characters>``."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names
    return f"{deployment}-{''.join(secrets.choice(alphabet) for _ in range(5))}"


def replica_spec(objects: RenderedObjects, deployment: str, name: str | None = None) -> PodSpec:
    """One replica of ``deployment``'s pod template."""
    if deployment not in objects.deployments:
        raise KeyError(f"no Deployment {deployment!r} in the rendered chart (have: {sorted(objects.deployments)})")
    manifest = objects.deployments[deployment]
    spec = pod_spec(manifest) or {}
    if spec.get("initContainers"):
        raise UnsupportedSpec(f"Deployment {deployment}: initContainers are not reproduced")
    name = name or pod_name_for(deployment)
    labels = {str(k): str(v) for k, v in pod_labels(manifest).items()}
    return PodSpec(
        name=name,
        deployment=deployment,
        labels=labels,
        containers=[container_spec(c, spec, objects, name) for c in spec.get("containers") or []],
        grace_seconds=float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)),
        services=objects.services_selecting(labels),
    )


def pods_from_manifests(objects: RenderedObjects) -> list[PodSpec]:
    """Every replica of every Deployment (``spec.replicas``, default 1)."""
    pods = []
    for name, manifest in sorted(objects.deployments.items()):
        replicas = manifest.get("spec", {}).get("replicas", 1)
        pods.extend(replica_spec(objects, name) for _ in range(int(replicas)))
    return pods


def deployment_named(objects: RenderedObjects, component: str) -> str:
    """The Deployment whose ``app.kubernetes.io/component`` label (or name) is ``component``."""
    matches = [
        name for name, d in objects.deployments.items()
        if d.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == component
        or name.endswith(f"-{component}") or name == component
    ]
    if len(matches) != 1:
        raise KeyError(f"expected one Deployment for component {component!r}, found {sorted(matches)}")
    return matches[0]


# --- Docker ---------------------------------------------------------------------------------
def docker_create_kwargs(container: ContainerSpec, *, name: str, sandbox: str,
                         labels: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments of ``docker.containers.create`` for ``container``.

    The container joins the pod sandbox's network namespace (``sandbox``: a container
    name or id), so its IP, hostname and published ports belong to the pod and survive
    restarts, as in Kubernetes.
    """
    kwargs: dict[str, Any] = dict(
        image=container.image,
        name=name,
        environment=[f"{v.name}={v.value}" for v in container.env],
        network_mode=f"container:{sandbox}",
        read_only=container.read_only,
        tmpfs=dict(container.tmpfs),
        labels=dict(labels),
        detach=True,
    )
    if container.entrypoint is not None:
        kwargs["entrypoint"] = container.entrypoint
    if container.command is not None:
        kwargs["command"] = container.command
    if container.working_dir:
        kwargs["working_dir"] = container.working_dir
    if container.user:
        kwargs["user"] = container.user
    if container.group_add:
        kwargs["group_add"] = container.group_add
    if container.mem_limit:
        kwargs["mem_limit"] = container.mem_limit
        kwargs["memswap_limit"] = container.mem_limit  # no swap, as on a kubelet node
    if container.mem_reservation:
        kwargs["mem_reservation"] = container.mem_reservation
    if container.nano_cpus:
        kwargs["nano_cpus"] = container.nano_cpus
    if container.cpu_shares:
        kwargs["cpu_shares"] = container.cpu_shares
    if container.cap_drop:
        kwargs["cap_drop"] = container.cap_drop
    if container.cap_add:
        kwargs["cap_add"] = container.cap_add
    if container.security_opt:
        kwargs["security_opt"] = container.security_opt
    if container.privileged:
        kwargs["privileged"] = True
    return kwargs
