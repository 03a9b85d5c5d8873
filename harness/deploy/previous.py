"""The previous release of the product, ready on the cluster under test: its tree in a scratch git
worktree, its two images built from that tree and loaded into the cluster, its chart beside them.

The build is the one of ``make images`` (``harness.images.build``) with another source root and
tag (``<tag>-prev-<commit>``): BuildKit's layer cache makes it quick when the previous version's
sources are close to the working tree's. The base images are the working tree's choice (official
when pullable, else the local ones); a previous version whose Dockerfiles name other base ARGs
would need its own. Everything is removed on exit, after failures too: the images from the cluster
(the provider's ``remove_image``) and from Docker, then the worktree. No pytest here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.core.paths import REPO_ROOT
from harness.deploy.release import Cluster, Images
from harness.deploy.upgrade import CHART_YAML, PreviousRef, ScratchWorktree, UpgradeProblem, migration_heads


@dataclass(frozen=True)
class PreviousVersion:
    ref: PreviousRef
    root: Path  # the scratch worktree
    images: Images
    build_seconds: float

    @property
    def chart(self) -> Path:
        return self.root / CHART_YAML.parent

    def migration_heads(self) -> set[str]:
        return migration_heads(self.root)


@contextlib.contextmanager
def previous_version(cluster: Cluster, ref: PreviousRef, current: Images, scratch: Path,
                     repo: Path = REPO_ROOT) -> Iterator[PreviousVersion]:
    from harness.images import build as images_lib

    tag = f"{current.tag}-prev-{ref.short}"
    built: list[str] = []
    with ScratchWorktree(repo, ref.commit, scratch) as root:
        try:
            start = time.monotonic()
            for name in ("backend", "frontend"):
                context = root / "images" / name
                if not (context / "Dockerfile").is_file():
                    raise UpgradeProblem(f"{ref.name} has no images/{name}/Dockerfile: the previous release's "
                                         "layout differs from this tree's; set UPGRADE_FROM to a later ref")
                try:
                    result = images_lib.build(name, tag, context=context, extra_args={"OCI_REVISION": ref.commit})
                except images_lib.ImageBuildError as exc:
                    raise UpgradeProblem(f"building {ref.name}'s {name} image failed: {str(exc)[-1500:]}") from None
                built.append(result.ref)
            build_seconds = time.monotonic() - start
            start = time.monotonic()
            for image in built:
                cluster.provider.load_image(image)
            images = Images(built[0], built[1], current.postgres, tag, time.monotonic() - start)
            yield PreviousVersion(ref, root, images, build_seconds)
        finally:
            for image in built:
                cluster.provider.remove_image(image)  # from the cluster's runtime, where the provider can
                images_lib.docker("image", "rm", image, check=False)
