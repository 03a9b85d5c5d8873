"""The one place that reads the environment.

Every variable is validated before the process serves anything; a problem becomes
:class:`ConfigError`, whose message names the variable and what is wrong with it,
never the value.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from todo_api import secret_strength

JWT_SECRET_MIN_BYTES = 32  # equals harness.contract.JWT_SECRET_MIN_BYTES (a test checks it)
DEFAULT_PORT = 8000  # equals harness.contract.BACKEND_PORT (a test checks it)
# SQLAlchemy's pool per process; the chart sets both (backend.database.poolSize / maxOverflow).
DEFAULT_DB_POOL_SIZE = 10
DEFAULT_DB_MAX_OVERFLOW = 20
# A chat turn's overall deadline (all model rounds and tool calls), answered 504 when it passes. It
# must stay below the frontend proxy's chat timeout (images/frontend/src/lib/proxy.ts CHAT_TIMEOUT_MS,
# 90 s), or the user would see the proxy's generic "unavailable" instead of the backend's answer.
DEFAULT_CHAT_DEADLINE_SECONDS = 75.0
FRONTEND_CHAT_TIMEOUT_SECONDS = 90.0
# How long one migration attempt waits for the advisory lock another replica holds (todo_api.migrate).
DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS = 60.0
# Per-user bounds (issue 27); the chart's backend.limits.* set them.
DEFAULT_TASKS_PER_USER = 1000
DEFAULT_TASKS_CREATED_PER_MINUTE = 60  # the UI and the chat agent add tasks one at a time
DEFAULT_CHAT_TURNS_PER_MINUTE = 20  # each turn may cost model calls (openai provider)
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")

# A JWT_SECRET copied from .env.example or the docs, typed by hand, or committed to this repository is
# guessable: anyone who knows it can sign a token for any user. Refused at start-up by strength, not
# by a denylist (issue 27): todo_api.secret_strength says how it is judged.
JWT_SECRET_HOW = secret_strength.HOW
# PROXY_TOKEN: the frontend's proof that X-Todo-Client is its own (todo_api.caller); random, like JWT_SECRET.
PROXY_TOKEN_MIN_BYTES = 32


class ConfigError(Exception):
    """The environment cannot configure the service; str() is one line for people."""


class Settings(BaseSettings):
    """The backend's configuration; field names are the environment variables (upper-cased)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    database_url: SecretStr
    jwt_secret: SecretStr
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    cors_origins: str = ""
    chat_provider: Literal["rules", "openai"] = "rules"
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    # A model endpoint over plain http sends the API key and every chat in clear text: refused
    # unless this says it is meant (a model server on the same machine or in the cluster).
    openai_allow_http: bool = False
    # The shared token that makes the backend believe X-Todo-Client (todo_api.caller); unset: never.
    proxy_token: SecretStr | None = None
    # /docs, /redoc and /openapi.json describe every route to anyone: off unless asked for.
    api_docs: bool = False
    # What one account may spend (issue 27): stored tasks, and tasks created and chat turns a minute.
    tasks_per_user: int = Field(default=DEFAULT_TASKS_PER_USER, ge=1)
    tasks_created_per_minute: int = Field(default=DEFAULT_TASKS_CREATED_PER_MINUTE, ge=1)
    chat_turns_per_minute: int = Field(default=DEFAULT_CHAT_TURNS_PER_MINUTE, ge=1)
    openai_model: str = "gpt-4o-mini"
    # Connections per process: DB_POOL_SIZE kept open, up to DB_MAX_OVERFLOW more under load.
    # (0 overflow is valid; SQLAlchemy's -1, "unlimited", is refused: it defeats the arithmetic.)
    db_pool_size: int = Field(default=DEFAULT_DB_POOL_SIZE, ge=1)
    db_max_overflow: int = Field(default=DEFAULT_DB_MAX_OVERFLOW, ge=0)
    # Seconds a chat turn may take in all (answered 504 after); below the frontend's 90 s chat timeout.
    chat_deadline_seconds: float = Field(default=DEFAULT_CHAT_DEADLINE_SECONDS)
    # Seconds one start-up migration attempt waits for another replica's migration lock.
    migration_lock_timeout_seconds: float = Field(default=DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS)

    @field_validator("log_level", "chat_provider", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            raise ValueError("is not a valid URL (expected postgresql://user:password@host:port/dbname)") from None
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                "must start with postgresql:// (expected postgresql://user:password@host:port/dbname)"
            )
        if not parts.hostname:
            raise ValueError("has no host (expected postgresql://user:password@host:port/dbname)")
        if not parts.path.strip("/"):
            raise ValueError("has no database name (expected postgresql://user:password@host:port/dbname)")
        if port == 0:
            raise ValueError("has port 0")
        return SecretStr(raw)

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        length = len(secret.encode())
        if length < JWT_SECRET_MIN_BYTES:
            raise ValueError(f"must be at least {JWT_SECRET_MIN_BYTES} bytes long (it has {length}); {JWT_SECRET_HOW}")
        weakness = secret_strength.problem(secret)
        if weakness:
            raise ValueError(weakness)
        return value

    @field_validator("proxy_token")
    @classmethod
    def _proxy_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value().encode()) < PROXY_TOKEN_MIN_BYTES:
            raise ValueError(f"must be at least {PROXY_TOKEN_MIN_BYTES} bytes long; generate one with: openssl rand -hex 32")
        return value

    @field_validator("chat_deadline_seconds")
    @classmethod
    def _chat_deadline(cls, value: float) -> float:
        if not 0 < value < FRONTEND_CHAT_TIMEOUT_SECONDS:
            raise ValueError(
                f"must be more than 0 and less than {FRONTEND_CHAT_TIMEOUT_SECONDS:g} seconds "
                f"(the frontend's chat timeout), e.g. {DEFAULT_CHAT_DEADLINE_SECONDS:g}"
            )
        return value

    @field_validator("migration_lock_timeout_seconds")
    @classmethod
    def _lock_timeout(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"must be a number of seconds above 0, e.g. {DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS:g}")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL, for example https://api.openai.com/v1")
        return value.strip().rstrip("/")

    @field_validator("openai_model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("cors_origins")
    @classmethod
    def _cors(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            if origin != "*" and urlsplit(origin).scheme not in ("http", "https"):
                raise ValueError("must be a comma-separated list of origins such as https://todo.example.com, or *")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def check_consistency(self) -> None:
        if urlsplit(self.openai_base_url).scheme == "http" and not self.openai_allow_http:
            raise ConfigError(
                "configuration error: OPENAI_BASE_URL: is plain http:// (the API key and every chat would travel "
                "in clear text): use https://, or set OPENAI_ALLOW_HTTP=true for a model server on this machine "
                "or inside the cluster"
            )
        if self.chat_provider == "openai" and self.openai_api_key is None:
            raise ConfigError("configuration error: OPENAI_API_KEY: is required when CHAT_PROVIDER=openai")


_MESSAGES = {
    "missing": "is required but not set",
    "literal_error": None,  # pydantic's own text lists the allowed values
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number of seconds",
    "bool_parsing": "must be true or false",
    "greater_than_equal": None,  # formatted below: "must be at least N"
}


def describe(error: ValidationError) -> str:
    """One line naming every bad variable and why, without any value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "environment"
        message = _MESSAGES.get(item["type"]) or item["msg"]
        message = message.removeprefix("Value error, ")
        if item["type"] == "greater_than_equal":
            message = f"must be at least {item['ctx']['ge']}"
        if item["type"] == "literal_error":
            message = "must be " + item["msg"].removeprefix("Input should be ")
        problems.append(f"{name}: {message}")
    return "configuration error: " + "; ".join(problems)


def load_settings() -> Settings:
    """Read and validate the environment, or raise :class:`ConfigError`."""
    try:
        settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    settings.check_consistency()
    return settings
