"""The local cluster's PKI, made with openssl: a CA, the API server's serving certificate, the admin's
and the kubelet's client certificates and the service-account key pair; and etcd's own CA, its
serving/peer certificate and the API server's client certificate for it — a CA of its own, as
kubeadm does, so that no cluster client certificate (admin, kubelet) opens etcd (under ``Layout.pki``)."""

from __future__ import annotations

import shutil

from harness.core.processes import run
from harness.localk8s.config import CLUSTER_DOMAIN, KUBERNETES_SERVICE_IP, NODE_NAME, Layout


# The components' client certificates (name → subject). The API server's client to the kubelets
# is kubeadm's (system:masters, for exec, logs and port-forward), apart from the people's admin.
COMPONENT_IDENTITIES = {
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
    "kube-proxy": "/CN=system:kube-proxy",
    "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
}


def write_pki(layout: Layout, ip: str) -> None:
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    ossl = shutil.which("openssl") or "openssl"

    def cert(name: str, subj: str, ext: str, ca: str = "ca") -> None:
        run([ossl, "genrsa", "-out", str(pki / f"{name}.key"), "2048"])
        run([ossl, "req", "-new", "-key", str(pki / f"{name}.key"), "-subj", subj, "-out", str(pki / f"{name}.csr")])
        (pki / f"{name}.ext").write_text(ext)
        run([ossl, "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / f"{ca}.crt"),
             "-CAkey", str(pki / f"{ca}.key"), "-CAcreateserial", "-days", "365", "-sha256",
             "-extfile", str(pki / f"{name}.ext"), "-out", str(pki / f"{name}.crt")])

    for ca, cn in (("ca", "todo-local-ca"), ("etcd-ca", "todo-local-etcd-ca")):
        run([ossl, "genrsa", "-out", str(pki / f"{ca}.key"), "2048"])
        run([ossl, "req", "-x509", "-new", "-key", str(pki / f"{ca}.key"), "-subj", f"/CN={cn}", "-days", "365",
             "-sha256", "-out", str(pki / f"{ca}.crt")])
    sans = ",".join([f"IP:{KUBERNETES_SERVICE_IP}", "IP:127.0.0.1", f"IP:{ip}", "DNS:localhost", "DNS:kubernetes",
                     "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                     f"DNS:kubernetes.default.svc.{CLUSTER_DOMAIN}"])
    cert("apiserver", "/CN=kube-apiserver", f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
         f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")
    client = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    cert("admin", "/O=system:masters/CN=todo-local-admin", client)
    cert("kubelet", f"/O=system:nodes/CN=system:node:{NODE_NAME}", client)
    # One identity per component, each with only what Kubernetes' default RBAC grants that name
    # (as kubeadm does): a leaked controller or proxy key is not the cluster's admin key.
    for name, subject in COMPONENT_IDENTITIES.items():
        cert(name, subject, client)
    cert("etcd", "/CN=todo-local-etcd", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
         "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n", ca="etcd-ca")
    cert("apiserver-etcd-client", "/CN=kube-apiserver-etcd-client", client, ca="etcd-ca")
    run([ossl, "genrsa", "-out", str(pki / "sa.key"), "2048"])
    run([ossl, "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")])
    for f in pki.iterdir():
        f.chmod(0o600)
