#!/usr/bin/env bash
# Installs the Helm CLI at a pinned version into the project's tool cache.
# No prebuilt helm binary is downloadable on machines without internet access
# beyond the package registries, so it is built from Helm's official source
# through the Go module proxy (about 1.5 minutes cold on 2 cores; cached after).
# Prints the path of the helm binary on stdout.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
HELM_KUBE_MINOR="${HELM_KUBE_MINOR:-34}"   # the client-go minor that Helm v3.19.5 is built with
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/todo-chatbot/bin}"
helm_bin="$TOOLS_DIR/helm"

stamp="$TOOLS_DIR/helm.version"   # go install builds carry no exact version string

# A Helm 3 or 4 that the user installed wins (HELM_FROM_PATH=0 forces the pinned build); another
# one is named in the message rather than called missing.
on_path=""
if [ "${HELM_FROM_PATH:-1}" = 1 ] && command -v helm >/dev/null 2>&1 && [ "$(command -v helm)" != "$helm_bin" ]; then
  path_version=$(helm version --template '{{.Version}}' 2>/dev/null || true)
  case "$path_version" in
    v3.*|v4.*) command -v helm; exit 0 ;;
    *) on_path="the helm on PATH ($(command -v helm)) is ${path_version:-of a version it does not tell}, not Helm 3 or 4, " ;;
  esac
fi
if [ -x "$helm_bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$HELM_VERSION" ] \
   && "$helm_bin" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "$helm_bin"; exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-helm: ${on_path:-helm is not on PATH, }and Go is missing to build Helm $HELM_VERSION: install Helm 3 or 4 (https://helm.sh/docs/intro/install/, brew install helm) or Go >= 1.24 (https://go.dev/doc/install)" >&2
  exit 1
fi
mkdir -p "$TOOLS_DIR"
echo "install-helm: building helm $HELM_VERSION from source with go install (cached in $TOOLS_DIR)" >&2
# The same -X flags as Helm's release Makefile: without them the binary reports a bare
# "v3.19" and assumes Kubernetes v1.20 for `helm template` and `helm lint`.
ldflags="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
done
(cd /tmp && GOBIN="$TOOLS_DIR" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2
echo "$HELM_VERSION" > "$stamp"
echo "$helm_bin"
