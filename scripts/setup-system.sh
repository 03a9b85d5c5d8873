#!/usr/bin/env bash
# The machine-level pieces the tiers need, in one place: `make setup` (and so `make test` and
# `make acceptance`) and `.ci/run` call this script, nothing else installs system packages.
#
#   scripts/setup-system.sh           # root with apt: install what is missing, then start Docker;
#                                     # elsewhere: one line per missing piece with its install
#                                     # command, exit 1
#   scripts/setup-system.sh --check   # only report what is missing (exit 1 when anything is)
#   SYSTEM_SETUP=skip make test       # go on without them: the tiers that need a missing piece
#                                     # skip, each with a one-line reason
#
# Idempotent and quick when everything is there (a few file tests, no network).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "setup-system: unknown argument '$1' (use --check, or nothing)" >&2; exit 2 ;;
esac
if [ "${SYSTEM_SETUP:-}" = skip ]; then
  echo "setup-system: SYSTEM_SETUP=skip: not checking system packages (tiers missing one will skip)" >&2
  exit 0
fi

os=$(uname -s)
# Each check is a function, so that it works wherever the piece came from (apt, Homebrew, by hand).
has_docker() { command -v dockerd || docker info; }
has_postgres() { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; }
has_chromium() { test -x /usr/bin/chromium; }  # where images/frontend/e2e looks for it
has_debootstrap() { command -v debootstrap; }
has_cni() { ls /usr/lib/cni/bridge || ls /opt/cni/bin/bridge; }
has_conntrack() { command -v conntrack; }
has_cc() { command -v gcc && test -f /usr/include/stdio.h; }
# name|check|Debian packages|what needs it
pieces=(
  "Docker engine|has_docker|docker.io|the image, runtime, load and cluster tiers"
  "PostgreSQL server|has_postgres|postgresql|the backend's tests"
  "Chromium|has_chromium|chromium fonts-liberation|the browser tests of the frontend"
  "debootstrap|has_debootstrap|debootstrap|local base images when no registry answers"
)
if [ "$os" = Linux ]; then
  pieces+=(
    "CNI plugins|has_cni|containernetworking-plugins|the local cluster's pod network"
    "conntrack|has_conntrack|conntrack|the local cluster's kube-proxy"
    "C compiler and libc headers|has_cc|gcc libc6-dev|the local cluster's pause binary"
  )
fi

probe() {  # fills missing_names ("name|packages|needed by") and missing_packages
  missing_names=() missing_packages=()
  local piece name check packages needed_by list
  for piece in "${pieces[@]}"; do
    IFS='|' read -r name check packages needed_by <<<"$piece"
    if ! "$check" >/dev/null 2>&1; then
      missing_names+=("$name|$packages|$needed_by")
      read -r -a list <<<"$packages"
      missing_packages+=("${list[@]}")
    fi
  done
}
probe

go_bin() { command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

if [ "${#missing_packages[@]}" -gt 0 ] && [ "$mode" = install ] && can_apt; then
  echo "setup-system: installing Debian packages: ${missing_packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
  probe
fi
if [ -z "$(go_bin)" ] && [ "$mode" = install ] && can_apt; then
  echo "setup-system: installing Debian's golang-go" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
fi

problems=0
install_hint() {  # the exact command for this machine
  if [ "$os" = Darwin ]; then
    case "$1" in
      "Docker engine") echo "install Docker Desktop (https://docs.docker.com/desktop/)" ;;
      "PostgreSQL server") echo "brew install postgresql@15" ;;
      Chromium) echo "brew install --cask chromium" ;;
      *) echo "brew install $2" ;;
    esac
  elif command -v apt-get >/dev/null 2>&1; then
    echo "sudo apt-get install $2"
  else
    echo "install the package(s) your distribution names $2"
  fi
}
for entry in "${missing_names[@]}"; do
  IFS='|' read -r name packages needed_by <<<"$entry"
  echo "setup-system: missing $name (for $needed_by): $(install_hint "$name" "$packages")" >&2
  problems=$((problems + 1))
done
go=$(go_bin)
if [ -z "$go" ]; then
  echo "setup-system: missing Go >= 1.24 (for Helm, the pod shim and the local cluster): https://go.dev/doc/install" >&2
  problems=$((problems + 1))
elif ! "$go" version | grep -qE 'go1\.(2[4-9]|[3-9][0-9])'; then
  echo "setup-system: $("$go" version) is too old (Helm, the pod shim and the local cluster need Go >= 1.24): https://go.dev/doc/install" >&2
  problems=$((problems + 1))
fi
node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  echo "setup-system: missing Node.js >= 20 with npm (for the frontend): https://nodejs.org/en/download" >&2
  problems=$((problems + 1))
fi

if [ "$problems" -gt 0 ]; then
  echo "setup-system: $problems piece(s) missing; install them, or run with SYSTEM_SETUP=skip to go on without (their tiers skip with the reason)" >&2
  exit 1
fi
[ "$mode" = check ] && exit 0
scripts/ensure-docker.sh
