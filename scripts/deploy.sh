#!/usr/bin/env bash
# `make deploy`: load the locally built images into the named cluster and
# `helm upgrade --install` the chart there. Credentials come from the environment
# or a git-ignored .env file (parsed, never sourced: harness/deploy_secrets.py), are
# checked by the backend's own rules first, and reach Helm through a values document on
# stdin — never the command line (visible in `ps`) and never the repository.
#
#   KUBE_CONTEXT=minikube make deploy            # or docker-desktop, kind-NAME, todo-local
#   NAMESPACE=todo RELEASE=todo VALUES=chart/todo-chatbot/values-dev.yaml
#   DATABASE_CIDR=10.0.0.5/32    the database's addresses, for the NetworkPolicies of staging/prod
#
# bash 3.2 (macOS's /bin/bash): no associative arrays, no ${x,,}, no mapfile, and an array that may
# be empty is expanded as ${a[@]+"${a[@]}"} (bash < 4.4 calls "${a[@]}" of an empty one unbound).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "deploy: $*" >&2; exit 1; }

[ -n "${KUBE_CONTEXT:-}" ] \
  || die "KUBE_CONTEXT is not set: name the cluster to deploy to (minikube, docker-desktop, kind-NAME or todo-local); no other context is touched"
NAMESPACE="${NAMESPACE:-todo}"
RELEASE="${RELEASE:-todo}"
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
# The tag: $IMAGE_TAG, else the chart's appVersion — decided in one place (harness/images/build.py).
IMAGE_TAG=$("$py" -m harness.images tag)

if [ -n "${VALUES:-}" ] && [ ! -f "$VALUES" ]; then
  die "VALUES=$VALUES: no such file (the chart's are chart/todo-chatbot/values-*.yaml)"
fi
# The secrets as a Helm values document, checked before anything is touched (a placeholder JWT_SECRET
# would otherwise show only as crash-looping pods after helm --wait's 5 minutes). Kept in a shell
# variable and handed over by printf, a builtin: never an argument of a process. ENV_FILE: another
# file than .env.
secret_values=$("$py" -m harness.deploy_secrets --env-file "${ENV_FILE:-.env}" ${VALUES:+--values "$VALUES"}) || exit 1

command -v kubectl >/dev/null || die "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/)"
helm=$(scripts/install-helm.sh)
kubectl config get-contexts "$KUBE_CONTEXT" >/dev/null 2>&1 \
  || die "no kubeconfig context named '$KUBE_CONTEXT' (kubectl config get-contexts lists them; is Minikube started?)"
if ! kubectl --context "$KUBE_CONTEXT" --request-timeout=20s get --raw /readyz >/dev/null 2>&1; then
  # How to start it depends on the kind of cluster (minikube start, make cluster-up, ...): one place.
  start=$("$py" -m harness.providers.preflight --start-command "$KUBE_CONTEXT" 2>/dev/null) \
    || start="start the cluster (minikube start, or enable Kubernetes in Docker Desktop)"
  die "cluster '$KUBE_CONTEXT' does not answer (nothing was installed); to start it: $start"
fi

images=("todo-backend:$IMAGE_TAG" "todo-frontend:$IMAGE_TAG")
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || die "image $image not built: run make images"
done
# How an image reaches this kind of cluster (kind, Minikube, the local cluster; nothing for Docker
# Desktop) is known in one place, harness/providers/commands.py: it prints and runs the commands.
"$py" -m harness.providers load --context "$KUBE_CONTEXT" "${images[@]}" | sed 's/^/deploy: /' \
  || die "loading the images into '$KUBE_CONTEXT' failed (see above)"

extra=()
[ -n "${VALUES:-}" ] && extra+=(-f "$VALUES")
# With NetworkPolicies on (staging, prod) the chart needs the database's addresses when it cannot
# read them from the values (credentials in a Secret, or a hostname): it refuses otherwise and names
# networkPolicy.database.cidr.
[ -n "${DATABASE_CIDR:-}" ] && extra+=(--set "networkPolicy.database.cidr=$DATABASE_CIDR")
echo "deploy: helm upgrade --install $RELEASE chart/todo-chatbot -n $NAMESPACE --kube-context $KUBE_CONTEXT ${extra[*]+${extra[*]}}"
# The secret values go through stdin (-f -), in a values document built by Python so quoting is safe.
printf '%s\n' "$secret_values" \
  | "$helm" upgrade --install "$RELEASE" chart/todo-chatbot \
      --kube-context "$KUBE_CONTEXT" --namespace "$NAMESPACE" --create-namespace \
      --set "backend.image.tag=$IMAGE_TAG" --set "frontend.image.tag=$IMAGE_TAG" \
      ${extra[@]+"${extra[@]}"} -f - --wait --timeout 5m
