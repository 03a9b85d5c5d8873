"""Images in the local cluster's own containerd (namespace ``k8s.io``, through ``ctr``): the one-binary
pause and CoreDNS images assembled here, and application images from the Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from harness.localk8s.config import COREDNS_IMAGE, PAUSE_IMAGE, Layout, image_tarball


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


def remove_image(layout: Layout, image: str) -> bool:
    """``ctr images rm`` of ``image`` (Docker's short name, as it was imported): True when it was there."""
    ref = image if "/" in image.split(":")[0] else f"docker.io/library/{image}"
    return ctr(layout, "images", "rm", ref, capture_output=True, text=True).returncode == 0


def import_system_images(layout: Layout) -> None:
    """The pause and CoreDNS images, each one binary from the cluster-tools build (no registry)."""
    pause = layout.tools_bin / "pause"
    import_tar(layout, image_tarball(PAUSE_IMAGE, {"/pause": (pause.read_bytes(), 0o755)}, ["/pause"]))
    coredns = layout.tools_bin / "coredns"
    import_tar(layout, image_tarball(COREDNS_IMAGE, {"/coredns": (coredns.read_bytes(), 0o755)}, ["/coredns"]))
