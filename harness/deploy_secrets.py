"""The secrets of ``make deploy``: from the environment or ``.env``, checked, as a Helm values document.

    python -m harness.deploy_secrets [--env-file .env]    # prints {"secrets": {...}} for `helm -f -`

``.env`` is *parsed* (python-dotenv, no interpolation), never sourced by a shell: a URL with ``&`` or
``$`` in it, or a value with spaces, arrives as written. A variable set in the environment wins over
``.env`` (as with docker compose); the command says on stderr where each one came from, never its value.

Both values are checked by the backend's own rules (``todo_api.settings``) before anything is
installed: the ``.env.example`` placeholder JWT_SECRET, a short or typed one, or a DATABASE_URL that is
not a PostgreSQL URL would otherwise only show as a crash-looping pod after ``helm --wait`` has sat for
five minutes. A problem is one line naming the variable, without its value, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml
from dotenv import dotenv_values
from pydantic import SecretStr

from harness.core.paths import REPO_ROOT

REQUIRED = ("DATABASE_URL", "JWT_SECRET")
OPTIONAL = ("OPENAI_API_KEY",)
# The chart's value for each variable (chart/todo-chatbot/values.yaml, secrets.*).
CHART_KEYS = {"DATABASE_URL": "databaseUrl", "JWT_SECRET": "jwtSecret", "OPENAI_API_KEY": "openaiApiKey"}
HOW = {"DATABASE_URL": "export DATABASE_URL=postgresql://user:password@host:5432/todo or put it in .env "
                       "(see .env.example)",
       "JWT_SECRET": "export JWT_SECRET=$(openssl rand -hex 32) or put it in .env"}


class SecretsError(ValueError):
    """A secret is missing or would be refused by the backend; str() is one line for people."""


def gather(env_file: Path, environ: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(name → value, name → where it came from) for every variable the release takes."""
    environ = dict(os.environ) if environ is None else environ
    from_file = {k: v for k, v in dotenv_values(env_file, interpolate=False).items() if v is not None} \
        if env_file.is_file() else {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in (*REQUIRED, *OPTIONAL):
        if environ.get(name):
            values[name], sources[name] = environ[name], "the environment"
        elif from_file.get(name):
            values[name], sources[name] = from_file[name], str(env_file.name)
    return values, sources


def check(values: dict[str, str]) -> None:
    """Raise SecretsError for a missing secret or one the backend would refuse at start-up."""
    # The backend's field validators, called as the functions they are: one rule, two places.
    from todo_api.settings import Settings

    for name in REQUIRED:
        if not values.get(name):
            raise SecretsError(f"{name} is not set: {HOW[name]}")
    for name, rule in (("DATABASE_URL", Settings._database_url), ("JWT_SECRET", Settings._jwt_secret)):
        try:
            rule(SecretStr(values[name]))
        except ValueError as exc:
            raise SecretsError(f"{name} {exc} (the backend would refuse it at start-up)") from None


def values_document(values: dict[str, str]) -> str:
    return json.dumps({"secrets": {CHART_KEYS[name]: values.get(name, "") for name in CHART_KEYS}})


def existing_secret(values_file: Path | None) -> str | None:
    """The Secret a values file names in secrets.existingSecret (values-staging.yaml, values-prod.yaml)."""
    if values_file is None:
        return None
    document = yaml.safe_load(values_file.read_text()) or {}
    return ((document.get("secrets") or {}).get("existingSecret") or None) if isinstance(document, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.deploy_secrets", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=REPO_ROOT / ".env")
    parser.add_argument("--values", type=Path, default=None,
                        help="the release's values file: when it names secrets.existingSecret, no secret is passed")
    args = parser.parse_args(argv)
    if name := existing_secret(args.values):
        # The chart reads the credentials from that Secret only: inline ones would be ignored, so none
        # are passed (and none are required); say so rather than let a .env be silently unused.
        print(f"deploy: the credentials come from the Secret {name} ({args.values} sets secrets.existingSecret; "
              f"create it first: kubectl -n NAMESPACE create secret generic {name} --from-literal=DATABASE_URL=… "
              "--from-literal=JWT_SECRET=…); DATABASE_URL and JWT_SECRET of the environment or .env are not used",
              file=sys.stderr)
        print("{}")
        return 0
    values, sources = gather(args.env_file)
    try:
        check(values)
    except SecretsError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 2
    print("deploy: " + ", ".join(f"{name} from {where}" for name, where in sources.items()), file=sys.stderr)
    print(values_document(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
