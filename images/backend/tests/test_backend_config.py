"""Configuration: the environment is validated before serving; errors are one line, name the variable, never the value."""

from __future__ import annotations

import base64
import re
import secrets
import subprocess

import pytest
from backend_support import PYTHON_M, TODO_API
from todo_api.settings import DEFAULT_PORT, JWT_SECRET_MIN_BYTES, Settings

from harness import contract
from harness.core.paths import REPO_ROOT

ENV_EXAMPLE = dict(
    line.split("=", 1) for line in (REPO_ROOT / ".env.example").read_text().splitlines()
    if line and not line.startswith("#") and "=" in line
)
GOOD_URL = "postgresql://todo:hunter2-db-password@127.0.0.1:5432/todo?sslmode=disable"
GOOD_SECRET = secrets.token_hex(32)  # random per run: a committed secret is refused (issue 27)


def test_every_variable_is_in_the_readmes_configuration_table() -> None:
    """images/backend/README.md's table is where a person looks the variables up: all of them."""
    readme = (REPO_ROOT / "images" / "backend" / "README.md").read_text()
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, re.M))
    assert sorted(name.upper() for name in Settings.model_fields if name.upper() not in table) == []


def test_settings_variables_equal_the_contract() -> None:
    names = {name.upper() for name in Settings.model_fields}
    required = {name.upper() for name, f in Settings.model_fields.items() if f.is_required()}
    assert names == set(contract.BACKEND_REQUIRED_ENV) | set(contract.BACKEND_OPTIONAL_ENV)
    assert required == set(contract.BACKEND_REQUIRED_ENV)


def test_settings_constants_equal_the_contract() -> None:
    assert JWT_SECRET_MIN_BYTES == contract.JWT_SECRET_MIN_BYTES
    assert DEFAULT_PORT == contract.BACKEND_PORT
    assert all(contract.is_sensitive(n) for n in ("DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY"))


def run(env: dict[str, str], argv: list[str] = TODO_API) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


CASES = [
    ("missing DATABASE_URL", {"JWT_SECRET": GOOD_SECRET}, "DATABASE_URL", "is required"),
    ("missing JWT_SECRET", {"DATABASE_URL": GOOD_URL}, "JWT_SECRET", "is required"),
    ("short JWT_SECRET", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": "short-secret-value"}, "JWT_SECRET", "at least 32 bytes"),
    ("placeholder JWT_SECRET of .env.example", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": ENV_EXAMPLE["JWT_SECRET"]},
     "JWT_SECRET", "committed to this repository"),
    ("placeholder JWT_SECRET", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": "Change-Me-To-Something-Long-And-Random-1234"},
     "JWT_SECRET", "committed to this repository"),
    ("a phrase", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": "my-very-secret-jwt-signing-key-2024"},
     "JWT_SECRET", "HS256 needs 256"),
    ("a long phrase", {"DATABASE_URL": GOOD_URL,
                       "JWT_SECRET": "my-very-secret-jwt-signing-key-2024-and-some-more-words-here"},
     "JWT_SECRET", "does not look random"),
    ("128 random bits", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": secrets.token_hex(16)}, "JWT_SECRET",
     "HS256 needs 256"),
    ("low-entropy JWT_SECRET", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": "test-secret-" + "s" * 64},
     "JWT_SECRET", "does not look random"),
    ("repeated-pattern JWT_SECRET", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": secrets.token_hex(32) * 2},
     "JWT_SECRET", "repeated"),
    ("OPENAI_BASE_URL over plain http", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET,
                                         "OPENAI_BASE_URL": "http://llm.example/v1"},
     "OPENAI_BASE_URL", "OPENAI_ALLOW_HTTP=true"),
    ("short PROXY_TOKEN", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "PROXY_TOKEN": "short-token"},
     "PROXY_TOKEN", "at least 32 bytes"),
    ("zero TASKS_PER_USER", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "TASKS_PER_USER": "0"},
     "TASKS_PER_USER", "must be at least 1"),
    ("wrong scheme", {"DATABASE_URL": "mysql://u:hunter2-db-password@h/db", "JWT_SECRET": GOOD_SECRET},
     "DATABASE_URL", "postgresql://"),
    ("no database name", {"DATABASE_URL": "postgresql://u:hunter2-db-password@h:5432", "JWT_SECRET": GOOD_SECRET},
     "DATABASE_URL", "no database name"),
    ("bad port in URL", {"DATABASE_URL": "postgresql://u:hunter2-db-password@h:99999/db", "JWT_SECRET": GOOD_SECRET},
     "DATABASE_URL", "not a valid URL"),
    ("bad PORT", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "PORT": "eighty"}, "PORT", "whole number"),
    ("PORT out of range", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "PORT": "70000"}, "PORT", "65535"),
    ("CHAT_DEADLINE_SECONDS not below the frontend's 90 s",
     {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "CHAT_DEADLINE_SECONDS": "90"},
     "CHAT_DEADLINE_SECONDS", "less than 90 seconds"),
    ("CHAT_DEADLINE_SECONDS not a number",
     {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "CHAT_DEADLINE_SECONDS": "soon"},
     "CHAT_DEADLINE_SECONDS", "must be a number of seconds"),
    ("MIGRATION_LOCK_TIMEOUT_SECONDS 0",
     {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "MIGRATION_LOCK_TIMEOUT_SECONDS": "0"},
     "MIGRATION_LOCK_TIMEOUT_SECONDS", "above 0"),
    ("bad LOG_LEVEL", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "LOG_LEVEL": "loud"}, "LOG_LEVEL", "'debug'"),
    ("bad CHAT_PROVIDER", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "CHAT_PROVIDER": "magic"},
     "CHAT_PROVIDER", "'rules' or 'openai'"),
    ("openai without key", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "CHAT_PROVIDER": "openai"},
     "OPENAI_API_KEY", "required when CHAT_PROVIDER=openai"),
    ("bad OPENAI_BASE_URL", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "OPENAI_BASE_URL": "ftp://x"},
     "OPENAI_BASE_URL", "http"),
    ("bad CORS_ORIGINS", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "CORS_ORIGINS": "not-an-origin"},
     "CORS_ORIGINS", "origins"),
    ("bad DB_POOL_SIZE", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "DB_POOL_SIZE": "many"},
     "DB_POOL_SIZE", "whole number"),
    ("zero DB_POOL_SIZE", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "DB_POOL_SIZE": "0"},
     "DB_POOL_SIZE", "must be at least 1"),
    ("unlimited DB_MAX_OVERFLOW", {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET, "DB_MAX_OVERFLOW": "-1"},
     "DB_MAX_OVERFLOW", "must be at least 0"),
]


@pytest.mark.parametrize(("env", "variable", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_environment_stops_before_serving_with_one_line(env: dict[str, str], variable: str, reason: str) -> None:
    result = run(env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and reason in lines[0], lines[0]
    for value in env.values():
        secretish = value not in ("", "openai") and len(value) > 6
        if secretish:
            assert value not in result.stderr, "a configuration error printed a value"
    assert "hunter2-db-password" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_python_m_reports_config_errors_too() -> None:
    result = run({"JWT_SECRET": GOOD_SECRET}, PYTHON_M)
    assert result.returncode != 0
    assert "DATABASE_URL: is required but not set" in result.stderr


def test_bad_jwt_secret_errors_say_how_to_generate_one() -> None:
    for value in ("short", ENV_EXAMPLE["JWT_SECRET"], "x" * 40, "0123456789ab" * 3):
        result = run({"DATABASE_URL": GOOD_URL, "JWT_SECRET": value})
        assert result.returncode == 2 and "JWT_SECRET" in result.stderr, result.stderr
        assert "openssl rand -hex 32" in result.stderr and value not in result.stderr


@pytest.mark.parametrize("name", ["openssl rand -hex 32", "openssl rand -base64 32", "token_urlsafe(36)"])
def test_random_secrets_are_accepted(name: str) -> None:
    values = {
        "openssl rand -hex 32": [secrets.token_hex(32) for _ in range(300)],
        "openssl rand -base64 32": [base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(300)],
        "token_urlsafe(36)": ["jwt-" + secrets.token_urlsafe(36) for _ in range(300)],
    }[name]
    for value in values:
        Settings(database_url=GOOD_URL, jwt_secret=value)  # type: ignore[arg-type]


def test_the_secret_the_chart_is_rendered_with_in_tests_is_random_per_run_and_accepted() -> None:
    """The harness's values file with secrets is made per run (harness/kube/render.py), readable only
    by its owner, and its JWT secret passes the backend's own check; nothing committed is used."""
    from harness.kube import render

    path = render.TEST_SECRETS_VALUES
    assert REPO_ROOT not in path.parents, f"{path} is inside the repository"
    assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    value = re.search(r"jwtSecret: '?([^'\n]+)", path.read_text())[1]  # type: ignore[index]
    Settings(database_url=GOOD_URL, jwt_secret=value)  # type: ignore[arg-type]


def test_pool_size_and_overflow_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_POOL_SIZE and DB_MAX_OVERFLOW (set by the chart's backend.database values) size the engine's pool."""
    from todo_api import app as app_module
    from todo_api.settings import load_settings

    for name, value in {"DATABASE_URL": GOOD_URL, "JWT_SECRET": GOOD_SECRET,
                        "DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    engines = []
    real_make_engine = app_module.make_engine

    def spy(url: str, **kwargs: int):
        engines.append(real_make_engine(url, **kwargs))
        return engines[-1]

    monkeypatch.setattr(app_module, "make_engine", spy)
    app_module.create_app(load_settings())
    pool = engines[0].pool
    assert (pool.size(), pool._max_overflow) == (3, 0)  # QueuePool keeps the overflow only privately
    engines[0].dispose()
