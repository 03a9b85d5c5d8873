#!/usr/bin/env bash
# Makes sure a Docker engine answers: uses the running one, or starts Debian's
# dockerd (installing docker.io first when run as root on Debian). Idempotent.
set -euo pipefail
DOCKER=/usr/bin/docker                     # Debian's client: builds with BuildKit
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)

if [ -n "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-docker: installing Debian's docker.io" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  else
    echo "ensure-docker: no Docker engine: install Docker Desktop, or on Debian/Ubuntu 'sudo apt-get install docker.io'" >&2
    exit 1
  fi
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: dockerd is installed but not running: start it with 'sudo systemctl start docker' (or start Docker Desktop)" >&2
  exit 1
fi
log=/var/log/todo-dockerd.log
echo "ensure-docker: starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if /usr/bin/docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
