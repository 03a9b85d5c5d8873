"""The database engine: the provider's plain postgresql:// URL, driven by psycopg 3."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT_SECONDS = 5


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` (as Neon and every provider hand it out) → SQLAlchemy's psycopg 3 form.

    The query string (sslmode, channel_binding, …) passes through to libpq unchanged.
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "todo-api"},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# The readiness probe's own engine: one connection, never shared with requests, so a burst that
# holds the request pool cannot starve it; short timeouts, so a hung database fails the probe fast.
PROBE_CONNECT_TIMEOUT_SECONDS = 2
PROBE_STATEMENT_TIMEOUT_MS = 2000


def make_probe_engine(url: str) -> Engine:
    return create_engine(
        sqlalchemy_url(url),
        pool_size=1,
        max_overflow=0,
        pool_timeout=PROBE_CONNECT_TIMEOUT_SECONDS,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": PROBE_CONNECT_TIMEOUT_SECONDS, "application_name": "todo-api-readiness"},
    )
