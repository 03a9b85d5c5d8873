#!/usr/bin/env bash
# Builds the Kubernetes node and control-plane binaries from the official,
# unmodified k8s.io/kubernetes module at a pinned release, through the Go module
# proxy (no prebuilt binary can be downloaded on machines that reach only package
# registries). k8s.io/kubernetes replaces its k8s.io/* staging modules with local
# paths that module zips do not carry, so a small build module pins each of them to
# its published version instead. Output and caches live under ~/.cache, never in git.
#
#   scripts/build-kubernetes.sh            # builds into $K8S_OUT (prints the directory)
#   K8S_VERSION=v1.34.2 K8S_COMPONENTS="kube-apiserver kubelet" scripts/build-kubernetes.sh
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.2}"
K8S_COMPONENTS="${K8S_COMPONENTS:-kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy}"
CACHE="${TODO_CACHE:-$HOME/.cache/todo-chatbot}"
K8S_OUT="${K8S_OUT:-$CACHE/kubernetes/$K8S_VERSION/bin}"
module="$CACHE/kubernetes/$K8S_VERSION/build-module"
staging_version="v0${K8S_VERSION#v1}"   # k8s.io/api etc. are tagged v0.<minor>.<patch>

command -v go >/dev/null || { echo "build-kubernetes: Go is missing: install Go >= 1.24" >&2; exit 1; }
mkdir -p "$module" "$K8S_OUT"

if [ ! -f "$module/go.mod" ]; then
  echo "build-kubernetes: preparing the build module for k8s.io/kubernetes $K8S_VERSION (downloads its modules from the Go module proxy)" >&2
  modfile=$(cd /tmp && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module todo-chatbot.local/kubernetes-build"
    echo
    sed -n 's/^go \([0-9.]*\)$/go \1/p' "$modfile"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\t\(k8s.io/[a-z-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$modfile"
    echo ")"
  } > "$module/go.mod"
  printf 'package main\n\nimport (\n' > "$module/tools.go"
  for c in $K8S_COMPONENTS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >> "$module/tools.go"; done
  printf ')\n\nfunc main() {}\n' >> "$module/tools.go"
  (cd "$module" && GOFLAGS=-mod=mod go mod tidy >&2)
fi

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitTreeState=clean"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
# Progress on stderr: a cold build compiles five large programs (minutes each on 2 cores).
todo=()
for c in $K8S_COMPONENTS; do
  [ -x "$K8S_OUT/$c" ] && "$K8S_OUT/$c" --version 2>/dev/null | grep -q "$K8S_VERSION" || todo+=("$c")
done
started=$SECONDS i=0
for c in "${todo[@]}"; do
  i=$((i + 1))
  echo "build-kubernetes: [$i/${#todo[@]}] building $c $K8S_VERSION ($((SECONDS - started)) s so far; cached after)" >&2
  (cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$K8S_OUT/$c" "k8s.io/kubernetes/cmd/$c")
done
[ "${#todo[@]}" -eq 0 ] || echo "build-kubernetes: built ${#todo[@]} component(s) in $((SECONDS - started)) s into $K8S_OUT" >&2
echo "$K8S_OUT"
