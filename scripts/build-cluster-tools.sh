#!/usr/bin/env bash
# Builds etcd, CoreDNS and the pause image's binary for the local cluster from official,
# unmodified upstream sources at pinned versions: etcd and CoreDNS through the Go module proxy,
# pause from build/pause/linux/pause.c inside the k8s.io/kubernetes module zip. Output lives
# under ~/.cache (never in git) and is reused when the pinned versions match.
#
#   scripts/build-cluster-tools.sh      # prints the bin directory
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"       # the etcd Kubernetes 1.34 is tested with
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
PAUSE_VERSION="${PAUSE_VERSION:-3.10.1}"     # build/pause/Makefile TAG of Kubernetes 1.34
CACHE="${TODO_CACHE:-$HOME/.cache/todo-chatbot}"
OUT="${TOOLS_OUT:-$CACHE/cluster-tools/bin}"
mkdir -p "$OUT"
command -v go >/dev/null || { echo "build-cluster-tools: Go is missing: install Go >= 1.24" >&2; exit 1; }

# etcd: go.etcd.io/etcd/server/v3 replaces its sibling modules with ../ paths that module zips
# do not carry; a build module pins them to the same release and calls etcdmain.Main.
if ! { [ -x "$OUT/etcd" ] && "$OUT/etcd" --version 2>/dev/null | grep -q "etcd Version: ${ETCD_VERSION#v}$"; }; then
  echo "build-cluster-tools: building etcd $ETCD_VERSION" >&2
  m="$CACHE/cluster-tools/etcd-$ETCD_VERSION-build"
  mkdir -p "$m"
  cat > "$m/go.mod" <<MOD
module todo-chatbot.local/etcd-build

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
MOD
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > "$m/main.go"
  (cd "$m" && GOFLAGS=-mod=mod go mod tidy >&2 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" .)
fi

# CoreDNS: its root package is the main package; no replace directives, so go install works.
if ! { [ -x "$OUT/coredns" ] && "$OUT/coredns" -version 2>/dev/null | grep -q "CoreDNS-${COREDNS_VERSION#v}$"; }; then
  echo "build-cluster-tools: building CoreDNS $COREDNS_VERSION" >&2
  CGO_ENABLED=0 GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
fi

# pause: Kubernetes' own pause.c, compiled statically.
if ! { [ -x "$OUT/pause" ] && [ "$(cat "$OUT/pause.version" 2>/dev/null)" = "$K8S_VERSION/$PAUSE_VERSION" ]; }; then
  echo "build-cluster-tools: building pause $PAUSE_VERSION from k8s.io/kubernetes $K8S_VERSION" >&2
  dir=$(cd /tmp && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$OUT/pause" "$dir/build/pause/linux/pause.c"
  strip "$OUT/pause"
  echo "$K8S_VERSION/$PAUSE_VERSION" > "$OUT/pause.version"
fi
echo "$OUT"
