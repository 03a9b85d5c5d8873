#!/usr/bin/env bash
# `make undeploy`: helm uninstall the release from the named cluster (one command removes everything, FR-039).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${KUBE_CONTEXT:-}" ] || { echo "undeploy: KUBE_CONTEXT is not set: name the cluster (minikube, docker-desktop or kind-NAME)" >&2; exit 1; }
helm=$(scripts/install-helm.sh)
"$helm" uninstall "${RELEASE:-todo}" --kube-context "$KUBE_CONTEXT" --namespace "${NAMESPACE:-todo}" --wait
