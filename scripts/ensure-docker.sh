#!/usr/bin/env bash
# Makes sure a Docker engine answers: uses the running one, or starts the installed dockerd
# (as root). Installs nothing: scripts/setup-system.sh (make setup) does that. Idempotent.
set -euo pipefail
DOCKER=/usr/bin/docker                     # Debian's client: builds with BuildKit
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)

if [ -n "$DOCKER" ] && said=$("$DOCKER" info 2>&1); then   # older clients print the error on stdout
  exit 0
fi
# Where the CLI looked: DOCKER_HOST, else the active context's endpoint (Docker Desktop and Colima
# serve their own socket, not /var/run/docker.sock).
where=""
if [ -n "$DOCKER" ]; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    where=" at $DOCKER_HOST (DOCKER_HOST)"
  elif current=$("$DOCKER" context inspect -f '{{.Name}} {{.Endpoints.docker.Host}}' 2>/dev/null); then
    ctx=${current%% *}   # `docker context inspect` without a name: the active one (`context show` is newer)
    where=" at ${current#* } (docker context $ctx; 'docker context ls' lists the others)"
  fi
fi
case "${said:-}" in
  *"ermission denied"*)
    echo "ensure-docker: the Docker engine$where refuses user $(id -un) (permission denied on its socket): 'sudo usermod -aG docker $(id -un)' and log in again, or use rootless Docker or Docker Desktop" >&2
    exit 1 ;;
esac
if [ "$(uname -s)" = Darwin ]; then
  echo "ensure-docker: no Docker engine answers$where: start Docker Desktop, or Colima ('colima start'; brew install colima docker)" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
  echo "ensure-docker: no Docker engine answers$where: run 'make setup' (Debian, as root), 'sudo apt-get install docker.io', or start Docker Desktop" >&2
  exit 1
fi
if [ -n "${DOCKER_HOST:-}" ] || { [ -n "${ctx:-}" ] && [ "$ctx" != default ]; }; then
  echo "ensure-docker: no Docker engine answers$where: start that engine, or switch with 'docker context use default'" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: dockerd is installed but not running$where: start it with 'sudo systemctl start docker' (or rootless: 'systemctl --user start docker', then 'docker context use rootless')" >&2
  exit 1
fi
log=/var/log/todo-dockerd.log
echo "ensure-docker: starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if "$DOCKER" info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
