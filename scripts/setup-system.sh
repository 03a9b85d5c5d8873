#!/usr/bin/env bash
# The machine-level pieces the tiers need, in one place: `make setup` (and so `make test` and
# `make acceptance`), `make cluster-up` and `.ci/run` call this script, nothing else installs system
# packages. The targets of one tier (`make static`, `make up`, `make load`, …) do not call it: they
# need only Python, Helm and, for the Docker ones, an engine (scripts/ensure-docker.sh).
#
#   scripts/setup-system.sh               # root with apt: install what is missing, then start Docker.
#                                         # Elsewhere (not root, macOS): one line per missing piece with
#                                         # the command that installs it; the tiers that need it skip
#                                         # with that line, and the script goes on (exit 0)
#   REQUIRE_TIERS=static,image,… (CI)     # a missing piece of a named tier stops it (exit 1)
#   scripts/setup-system.sh --for cluster # only the pieces these tiers need, every one of them required
#   scripts/setup-system.sh --check       # only report what is missing (exit 1 when anything is)
#   SYSTEM_SETUP=skip                     # do nothing
#
# Idempotent and quick when everything is there (a few file tests, no network). Written for bash 3.2
# (macOS's /bin/bash): no associative arrays, no ${x,,}, no mapfile, and no "${a[@]}" of an empty
# array under set -u (bash < 4.4 calls it unbound).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --for) only="${2:-}"; [ -n "$only" ] || { echo "setup-system: --for needs tiers, e.g. --for cluster" >&2; exit 2; }; shift ;;
    *) echo "setup-system: unknown argument '$1' (use --check, --for TIER[,TIER], or nothing)" >&2; exit 2 ;;
  esac
  shift
done
if [ "${SYSTEM_SETUP:-}" = skip ]; then
  echo "setup-system: SYSTEM_SETUP=skip: not checking system packages (tiers missing one will skip)" >&2
  exit 0
fi

os=$(uname -s)
any_exists() { local f; for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
# Each check is a function, so that it works wherever the piece came from (apt, Homebrew, by hand).
# The places searched are the ones the tests search (harness/testkit/postgres.py, browser.py).
# Administrative programs live in /usr/sbin, which a user's PATH on Debian does not include.
has_program() { command -v "$1" || test -x "/usr/sbin/$1" || test -x "/sbin/$1"; }
# An engine is there when the CLI reaches it, or refuses us (a socket we may not use: ensure-docker.sh
# says how to get access), or when dockerd is installed (ensure-docker.sh starts it as root).
has_docker() { docker info || docker info 2>&1 | grep -qi 'permission denied' || has_program dockerd; }
has_postgres() {
  if [ -n "${PG_BINDIR:-}" ]; then test -x "$PG_BINDIR/initdb"; return; fi
  command -v initdb || any_exists /usr/lib/postgresql/*/bin/initdb /opt/homebrew/opt/postgresql@*/bin/initdb \
    /usr/local/opt/postgresql@*/bin/initdb /Applications/Postgres.app/Contents/Versions/latest/bin/initdb
}
has_chromium() {
  if [ -n "${CHROMIUM:-}" ]; then test -x "$CHROMIUM"; return; fi
  command -v chromium || command -v chromium-browser \
    || any_exists /usr/bin/chromium /Applications/Chromium.app/Contents/MacOS/Chromium \
                  "$HOME/Applications/Chromium.app/Contents/MacOS/Chromium"
}
has_debootstrap() { has_program debootstrap; }
has_cni() { any_exists /usr/lib/cni/bridge /opt/cni/bin/bridge; }
has_conntrack() { has_program conntrack; }
has_cc() { command -v gcc && test -f /usr/include/stdio.h; }
go_bin() { command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true; }
has_go() { local go; go=$(go_bin); [ -n "$go" ] && "$go" version | grep -qE 'go1\.(2[4-9]|[3-9][0-9])'; }
has_node() { scripts/node-ok.sh --quiet; }  # Next.js 16's build wants ^20.19 or >= 22.12 (one place)
# name|check|Debian packages ("-": none recent enough)|what needs it|the tiers that skip without it (REQUIRE_TIERS' names)
pieces=(
  "Docker engine|has_docker|docker.io|the image, runtime, load and cluster tiers|image,runtime,load,cluster"
  "PostgreSQL server|has_postgres|postgresql|the backend's tests|app"
  "Chromium|has_chromium|chromium fonts-liberation|the browser tests of the frontend|app"
  "Go >= 1.24|has_go|golang-go|the runtime tier's pod shim, the local cluster, Helm and kube-score when not installed|runtime,cluster"
  "Node.js ^20.19 or >= 22.12 with npm|has_node|-|the frontend's checks and browser tests|app"
)
if [ "$os" = Linux ]; then
  pieces+=(
    "debootstrap|has_debootstrap|debootstrap|local base images when no registry answers|image"
    "CNI plugins|has_cni|containernetworking-plugins|the local cluster's pod network|cluster"
    "conntrack|has_conntrack|conntrack|the local cluster's kube-proxy|cluster"
    "C compiler and libc headers|has_cc|gcc libc6-dev|the local cluster's pause binary|cluster"
  )
fi

# Does a comma list ($1) share a name with another ($2)?
overlaps() { local a; for a in ${1//,/ }; do case ",$2," in *",$a,"*) return 0 ;; esac; done; return 1; }
required="${only:-${REQUIRE_TIERS:-}}"

probe() {  # fills missing (lines "name|packages|needed by|tiers") and missing_packages (a string)
  missing=() missing_packages=""
  local piece name check packages needed_by tiers
  for piece in "${pieces[@]}"; do
    IFS='|' read -r name check packages needed_by tiers <<<"$piece"
    if [ -n "$only" ] && ! overlaps "$tiers" "$only"; then continue; fi
    if ! "$check" >/dev/null 2>&1; then
      missing+=("$name|$packages|$needed_by|$tiers")
      [ "$packages" = - ] || missing_packages="$missing_packages $packages"
    fi
  done
}
probe

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
if [ -n "$missing_packages" ] && [ "$mode" = install ] && can_apt; then
  echo "setup-system: installing Debian packages:$missing_packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086  # a list of package names
  apt-get install -y -qq --no-install-recommends $missing_packages >/dev/null
  probe
fi

install_hint() {  # the exact command for this machine: $1 the piece, $2 its Debian packages
  if [ "$os" = Darwin ]; then
    case "$1" in
      "Docker engine") echo "install Docker Desktop (https://docs.docker.com/desktop/) or Colima (brew install colima docker && colima start)" ;;
      "PostgreSQL server") echo "brew install postgresql@17 (keg-only: the tests look in \$(brew --prefix)/opt/postgresql@*/bin; or set PG_BINDIR)" ;;
      Chromium) echo "brew install --cask chromium (the tests look for /Applications/Chromium.app; or set CHROMIUM=/path/to/chromium)" ;;
      Go*) echo "brew install go" ;;
      Node*) echo "brew install node@22" ;;
      *) echo "brew install $2" ;;
    esac
    return
  fi
  case "$1" in
    Go*) echo "https://go.dev/doc/install (Debian's golang-go may be older than 1.24)"; return ;;
    Node*) echo "https://nodejs.org/en/download (Debian bookworm's nodejs is 18)"; return ;;
  esac
  local sudo="sudo "
  [ "$(id -u)" = 0 ] && sudo=""
  if command -v apt-get >/dev/null 2>&1; then
    echo "${sudo}apt-get install $2"
  else
    echo "install the package(s) your distribution names $2"
  fi
}

fatal=0
for entry in ${missing[@]+"${missing[@]}"}; do
  IFS='|' read -r name packages needed_by tiers <<<"$entry"
  if [ "$mode" = check ] || overlaps "$tiers" "$required"; then
    fatal=$((fatal + 1))
    echo "setup-system: missing $name (for $needed_by): $(install_hint "$name" "$packages")" >&2
  else
    echo "setup-system: missing $name (for $needed_by; those tests skip): $(install_hint "$name" "$packages")" >&2
  fi
done

if [ "$fatal" -gt 0 ]; then
  if [ "$mode" = check ]; then
    echo "setup-system: $fatal piece(s) missing" >&2
  else
    echo "setup-system: $fatal piece(s) missing for the required tiers (${required}); install them" >&2
  fi
  exit 1
fi
[ "$mode" = check ] && exit 0
if [ -z "$only" ] || overlaps "image,runtime,load,cluster" "$only"; then
  # Start the engine when it is installed; without one, the Docker tiers skip (scripts/ensure-docker.sh
  # says why), unless they are required.
  if ! scripts/ensure-docker.sh && overlaps "image,runtime,load,cluster" "$required"; then
    exit 1
  fi
fi
exit 0
