#!/usr/bin/env bash
# Makes sure a Docker engine answers: uses the running one, or starts the installed dockerd
# (as root). Installs nothing: scripts/setup-system.sh (make setup) does that. Idempotent.
set -euo pipefail
DOCKER=/usr/bin/docker                     # Debian's client: builds with BuildKit
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)

if [ -n "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: no Docker engine: run 'make setup' (Debian, as root), 'sudo apt-get install docker.io', or start Docker Desktop" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: dockerd is installed but not running: start it with 'sudo systemctl start docker' (or start Docker Desktop)" >&2
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
