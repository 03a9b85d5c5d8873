#!/usr/bin/env bash
# Is the Node.js the frontend needs here? Next.js 16's build wants ^20.19 or >= 22.12, with npm.
#   exit 0: yes (silent)
#   exit 3: no, and the frontend's checks skip (one line on stderr with the install command)
#   exit 1: no, and REQUIRE_TIERS names app (CI): the same line, fatal
# bash 3.2 clean (macOS's /bin/bash). Used by the Makefile and scripts/setup-system.sh.
set -uo pipefail

ok() {
  local v major minor
  command -v npm >/dev/null 2>&1 || return 1
  v=$(node --version 2>/dev/null) || return 1
  v=${v#v}; major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; } || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; } || [ "$major" -ge 23 ]
}
ok 2>/dev/null && exit 0
[ "${1:-}" = --quiet ] && exit 3

found=$(node --version 2>/dev/null || echo "none")
if [ "$(uname -s)" = Darwin ]; then how="brew install node@22"; else how="https://nodejs.org/en/download"; fi
case ",${REQUIRE_TIERS:-}," in
  *,app,*) echo "node: Node.js ^20.19 or >= 22.12 with npm is needed for the frontend (found: $found): $how" >&2; exit 1 ;;
esac
echo "node: Node.js ^20.19 or >= 22.12 with npm is needed for the frontend (found: $found): $how; the frontend's checks skip" >&2
exit 3
