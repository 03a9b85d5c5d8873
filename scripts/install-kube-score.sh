#!/usr/bin/env bash
# Installs kube-score (the static tier's second opinion on the rendered chart) at a pinned
# version into the project's tool cache, built with `go install` from the Go module proxy
# (about a minute cold on 2 cores; cached after). Prints the path of the binary on stdout.
set -euo pipefail
KUBE_SCORE_VERSION="${KUBE_SCORE_VERSION:-v1.20.0}"
TOOLS_DIR="${TOOLS_DIR:-${TODO_CACHE:-$HOME/.cache/todo-chatbot}/bin}"
bin="$TOOLS_DIR/kube-score"
stamp="$TOOLS_DIR/kube-score.version"   # go install builds carry no exact version string

# A kube-score the user installed wins (KUBE_SCORE_FROM_PATH=0 forces the pinned build).
if [ "${KUBE_SCORE_FROM_PATH:-1}" = 1 ] && command -v kube-score >/dev/null 2>&1 \
   && [ "$(command -v kube-score)" != "$bin" ]; then
  command -v kube-score; exit 0
fi
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$KUBE_SCORE_VERSION" ]; then
  echo "$bin"; exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-kube-score: kube-score is not on PATH and Go is missing to build it: install Go >= 1.24 (https://go.dev/doc/install, or add /usr/local/go/bin to PATH) or kube-score (https://github.com/zegl/kube-score#installation)" >&2
  exit 1
fi
mkdir -p "$TOOLS_DIR"
echo "install-kube-score: building kube-score $KUBE_SCORE_VERSION from source with go install (cached in $TOOLS_DIR)" >&2
# -X main.version: what `kube-score version` prints (the release Makefile's flag).
(cd /tmp && GOBIN="$TOOLS_DIR" GOFLAGS=-mod=mod go install -trimpath \
  -ldflags "-w -s -X main.version=${KUBE_SCORE_VERSION#v}" \
  "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION") >&2
echo "$KUBE_SCORE_VERSION" > "$stamp"
echo "$bin"
