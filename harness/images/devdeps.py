"""What a final application image must not carry (FR-004): the applications' development
dependencies and the build toolchain.

The image tier runs :data:`BACKEND_PROBE` / :data:`FRONTEND_PROBE` inside an image (and inside
its base image, so that what the base brings is told apart from what the Dockerfile's final stage
added) and judges the two inventories with :func:`backend_findings` / :func:`frontend_findings`
against the development dependencies the applications declare:

* backend: the optional-dependency groups of ``images/backend/pyproject.toml`` (``test``) and
  every distribution they pull in (as installed in this checkout's ``.venv``, ``make setup``),
  less what ``requirements.lock`` (the run-time lockfile the image installs) carries;
* frontend: ``devDependencies`` of ``images/frontend/package.json`` and every package that
  ``package-lock.json`` marks ``"dev": true`` (needed by nothing at run time), less any name the
  lockfile also needs at run time.

No pytest here; the tests are in ``verification/images/test_images.py``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.core.paths import IMAGES_DIR

BACKEND_PYPROJECT = IMAGES_DIR / "backend" / "pyproject.toml"
BACKEND_LOCK = IMAGES_DIR / "backend" / "requirements.lock"
FRONTEND_PACKAGE = IMAGES_DIR / "frontend" / "package.json"
FRONTEND_LOCK = IMAGES_DIR / "frontend" / "package-lock.json"

# Build tools no final image needs: compilers, linkers, build drivers, package managers.
COMPILERS = ("gcc", "g++", "cc", "c++", "clang", "make", "cmake", "ld", "as", "strip", "rustc", "cargo", "go")
PYTHON_BUILD_TOOLS = ("pip", "setuptools", "wheel")  # uninstalled from the backend's virtualenv by its Dockerfile
NODE_BUILD_TOOLS = ("npm", "npx", "yarn", "pnpm", "corepack", "tsc", "next")
# Sources and build configuration of the frontend that only the build stage reads.
FRONTEND_BUILD_FILES = ("/app/src", "/app/package-lock.json", "/app/tsconfig.json", "/app/tsconfig.server.json",
                        "/app/next.config.ts", "/app/eslint.config.mjs", "/app/vitest.config.ts")
# Served to browsers as they are: a source map here publishes the sources (next.config.ts leaves
# productionBrowserSourceMaps off).
FRONTEND_PUBLIC_DIRS = ("/app/.next/static", "/app/public")


def normalize(name: str) -> str:
    """A Python distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: Iterable[str], extras: Iterable[str] = ("",)) -> set[str]:
    from packaging.requirements import Requirement

    names = set()
    for text in requirements:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in extras):
            names.add(normalize(req.name))
    return names


def _installed_closure(names: set[str]) -> set[str]:
    """``names`` and what they require, as far as this interpreter has them installed."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own dependencies stay unknown
        todo += _requirement_names(requires) - seen
    return seen


def locked_names(lock: Path = BACKEND_LOCK) -> set[str]:
    """The distributions a pip-compile lockfile pins (``name==version`` lines)."""
    return {normalize(m.group(1)) for m in re.finditer(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text())}


def backend_dev_packages(pyproject: Path = BACKEND_PYPROJECT, lock: Path = BACKEND_LOCK) -> set[str]:
    """The backend's development-only distributions (normalized names)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    groups = project.get("optional-dependencies") or {}
    direct = set().union(*(_requirement_names(group, groups) for group in groups.values()))
    if not direct:
        raise ValueError(f"{pyproject}: no optional dependency groups (test/dev extras) to look for")
    return _installed_closure(direct) - locked_names(lock) - {normalize(project["name"])}


def frontend_dev_packages(package: Path = FRONTEND_PACKAGE, lock: Path = FRONTEND_LOCK) -> set[str]:
    """The frontend's development-only npm packages: its devDependencies and what only they need."""
    declared = set(json.loads(package.read_text()).get("devDependencies") or {})
    if not declared:
        raise ValueError(f"{package}: no devDependencies to look for")
    packages = json.loads(lock.read_text()).get("packages") or {}
    dev, runtime = set(), set()
    for path, entry in packages.items():
        if "node_modules/" not in path:
            continue  # the root project
        name = path.rsplit("node_modules/", 1)[1]
        (dev if entry.get("dev") else runtime).add(name)
    return (declared | dev) - runtime


# --- what is inside an image ------------------------------------------------------------------
# Run with the image's python3 (as root, so that no directory hides from the walk); prints JSON.
# TOOLS, PY_TOOLS and PATHS are defined in front of it by backend_probe().
BACKEND_PROBE = r"""
import importlib.util, json, os, shutil, sys
dists = []
for root, dirs, files in os.walk("/"):
    if root in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    for d in dirs:
        for suffix in (".dist-info", ".egg-info"):
            if d.endswith(suffix):
                dists.append([d[: -len(suffix)].split("-")[0], root])
print(json.dumps({"dists": dists, "tools": {t: shutil.which(t) for t in TOOLS if shutil.which(t)},
                  "interpreter_modules": [m for m in PY_TOOLS if importlib.util.find_spec(m)],
                  "prefix": sys.prefix, "paths": [p for p in PATHS if os.path.exists(p)]}))
"""

# Run with the image's node (as root); prints JSON. TOOLS and PATHS come from frontend_probe().
FRONTEND_PROBE = r"""
const fs = require("fs"), path = require("path");
const packages = [], caches = [], maps = [];
function list(dir) {
  try { return fs.readdirSync(dir, { withFileTypes: true }).filter(e => e.isDirectory()); } catch { return []; }
}
function add(dir, where) {
  let name = null;
  try { name = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name; } catch {}
  packages.push([name || path.relative(where, dir), where]);
}
function walk(dir) {
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  if (path.basename(dir) === "node_modules") {
    for (const e of entries.filter(e => e.isDirectory() && e.name[0] !== ".")) {
      if (e.name[0] === "@") for (const s of list(path.join(dir, e.name))) add(path.join(dir, e.name, s.name), dir);
      else add(path.join(dir, e.name), dir);
    }
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (["/proc", "/sys", "/dev"].includes(full)) continue;
      if (e.name === ".npm" || e.name === "_cacache") caches.push(full);
      walk(full);
    } else if (e.name.endsWith(".map")) maps.push(full);
  }
}
walk("/");
const tools = {};
for (const t of TOOLS) for (const d of (process.env.PATH || "").split(":")) {
  const f = path.join(d, t);
  try { fs.accessSync(f, fs.constants.X_OK); if (!(t in tools)) tools[t] = f; } catch {}
}
console.log(JSON.stringify({ packages, caches, maps, tools, paths: PATHS.filter(p => fs.existsSync(p)) }));
"""


def backend_probe() -> list[str]:
    """Arguments for the image's ``python3`` that print its inventory as JSON."""
    return ["-c", f"TOOLS = {COMPILERS!r}\nPY_TOOLS = {PYTHON_BUILD_TOOLS!r}\nPATHS = {('/src', '/opt/tools')!r}\n"
                  + BACKEND_PROBE]


def frontend_probe() -> list[str]:
    """Arguments for the image's ``node`` that print its inventory as JSON."""
    return ["-e", f"const TOOLS = {json.dumps([*COMPILERS, *NODE_BUILD_TOOLS])};\n"
                  f"const PATHS = {json.dumps(FRONTEND_BUILD_FILES)};\n" + FRONTEND_PROBE]


@dataclass(frozen=True)
class Verdict:
    problems: list[str]  # what the final stage added that it must not
    notes: list[str]  # what the base image brings (not the Dockerfile's doing), for the evidence


def _added(image: Iterable[Iterable], base: Iterable[Iterable]) -> list[tuple]:
    before = {tuple(item) for item in base}
    return [tuple(item) for item in image if tuple(item) not in before]


def backend_findings(image: dict, base: dict | None, dev: set[str]) -> Verdict:
    """Development distributions, build tools and build trees the backend image has beyond its base."""
    base = base or {"dists": [], "tools": {}}
    problems = [f"development dependency {name} installed in {where}"
                for name, where in _added(image["dists"], base["dists"]) if normalize(name) in dev]
    problems += [f"build tool {tool} at {where}" for tool, where in _added(image["tools"].items(), base["tools"].items())]
    problems += [f"{module} importable by the application's interpreter ({image['prefix']})"
                 for module in image["interpreter_modules"]]
    problems += [f"{path} (a build stage's tree) in the final image" for path in image["paths"]]
    notes = [f"the base image carries {tool} ({where})" for tool, where in sorted(base["tools"].items())]
    return Verdict(problems, notes)


def frontend_findings(image: dict, base: dict | None, dev: set[str]) -> Verdict:
    """Development packages, npm caches, build tools, sources and public source maps the frontend
    image has beyond its base."""
    base = base or {"packages": [], "caches": [], "tools": {}, "maps": []}
    problems = [f"development dependency {name} in {where}"
                for name, where in _added(image["packages"], base["packages"]) if name in dev]
    problems += [f"npm cache {where}" for where in image["caches"] if where not in base["caches"]]
    problems += [f"build tool {tool} at {where}" for tool, where in _added(image["tools"].items(), base["tools"].items())]
    problems += [f"{path} (sources or build configuration) in the final image" for path in image["paths"]]
    problems += [f"source map {where} is served to browsers" for where in image["maps"]
                 if where.startswith(tuple(d + "/" for d in FRONTEND_PUBLIC_DIRS))]
    notes = [f"the base image carries {tool} ({where})" for tool, where in sorted(base["tools"].items())]
    server_maps = [m for m in image["maps"] if m.startswith("/app/") and m not in base["maps"]]
    if server_maps:
        notes.append(f"{len(server_maps)} server-side source map(s) under /app/.next/server (Next's own, not served)")
    return Verdict(problems, notes)


def dev_packages(app: str) -> set[str]:
    return backend_dev_packages() if app == "backend" else frontend_dev_packages()


def inventory(docker_client, ref: str, app: str) -> dict:
    """What :data:`BACKEND_PROBE` / :data:`FRONTEND_PROBE` finds in ``ref`` (run as root, no network)."""
    from harness.images.containers import run_once

    program, args = ("python3", backend_probe()) if app == "backend" else ("node", frontend_probe())
    code, out = run_once(docker_client, ref, {}, entrypoint=[program], command=args, user="0:0", timeout=300)
    lines = out.strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"the inventory of {ref} failed (exit {code}): {out[-1500:]}")
    return json.loads(lines[-1])


def base_inventory(docker_client, ref: str, app: str) -> dict | None:
    """The inventory of the base image ``ref`` names in its org.opencontainers.image.base.name
    label, or None when that image is not in the engine (then everything counts as added)."""
    from harness.core.docker import image_exists

    labels = docker_client.images.get(ref).attrs["Config"].get("Labels") or {}
    base = labels.get("org.opencontainers.image.base.name")
    return inventory(docker_client, base, app) if base and image_exists(base) else None


def findings(app: str, image: dict, base: dict | None, dev: set[str] | None = None) -> Verdict:
    judge = backend_findings if app == "backend" else frontend_findings
    return judge(image, base, dev_packages(app) if dev is None else dev)
