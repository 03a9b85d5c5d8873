#!/usr/bin/env bash
# Installs Checkov (the static tier's second opinion on the rendered chart) into a virtualenv of
# its own in the project's tool cache: its pins (packaging<24) conflict with pytest 9's, so it
# cannot live in .venv. The version comes from pyproject.toml's [dependency-groups] scanners,
# installed through the ordinary pip client (about a minute cold; cached after).
# Prints the path of the checkov executable on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
CACHE="${TODO_CACHE:-$HOME/.cache/todo-chatbot}"
venv="$CACHE/checkov-venv"
bin="$venv/bin/checkov"

# The group's requirements, one per line (tomllib: Python >= 3.11, which the project requires).
requirements="$("$PYTHON" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["dependency-groups"]["scanners"]))')"
stamp="$venv/requirements.txt"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$requirements" ]; then
  echo "$bin"; exit 0
fi
echo "install-checkov: installing $(echo "$requirements" | tr '\n' ' ')into $venv" >&2
rm -rf "$venv"
"$PYTHON" -m venv "$venv" >&2
echo "$requirements" > "$venv/requirements.in"
"$venv/bin/pip" install -q -r "$venv/requirements.in" >&2 || {
  echo "install-checkov: pip could not install $(echo "$requirements" | tr '\n' ' ')(no package index reachable?): fix that and re-run scripts/install-checkov.sh" >&2
  exit 1
}
echo "$requirements" > "$stamp"
echo "$bin"
