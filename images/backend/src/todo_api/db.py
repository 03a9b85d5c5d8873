"""The database engine: the provider's plain postgresql:// URL, driven by psycopg 3."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

CONNECT_TIMEOUT_SECONDS = 5


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` (as Neon and every provider hand it out) → SQLAlchemy's psycopg 3 form.

    The query string (sslmode, channel_binding, …) passes through to libpq unchanged.
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


# A pooled connection is checked ("pinged") before use only when it sat idle this long. pool_pre_ping
# pinged at every checkout: a round trip per request, most of them on a connection returned
# milliseconds earlier (issue 15: round trips are most of a request's CPU). What the ping is for - a
# connection the server or a proxy closed while it idled (a PostgreSQL restart, Neon suspending its
# compute) - needs idle time; a connection that dies mid-use fails its request either way.
PING_AFTER_IDLE_SECONDS = 2.0


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    engine = create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "todo-api"},
    )
    ping_after_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a connection at checkout when it was idle in the pool longer than ``idle_seconds``; a
    dead one is replaced (DisconnectionError makes the pool discard it and connect again)."""

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # just connected, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# --- the hot path: statements compiled once, run on the pool's psycopg connections -----------------
# Per statement, SQLAlchemy's Session and Connection cost ~4-6x the round trip itself in CPU (issue
# 15, measured: a task list ~650 us through the ORM, ~240 us as a Core statement, ~95 us as the same
# SQL on the pooled psycopg connection): a Session per request, the statement's cache key (a walk
# of its whole tree) at every execution, the compiled-cache lookup, result and ORM-state machinery.
# The request path's statements are still written with SQLAlchemy Core against models.py (one
# schema, checked names), compiled once at import into psycopg's SQL, and run on a connection of
# the same pool (same limits, ping after idle, recycling).
_DIALECT = psycopg_dialect()


class Statement:
    """A Core statement compiled once; ``run(connection, **params)`` executes its SQL on psycopg.

    Parameters are the statement's ``bindparam`` names; literal values in the statement are bound
    once, here. Rows come back as psycopg tuples, in the statement's column order.
    """

    def __init__(self, statement: Executable) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = {k: v for k, v in compiled.params.items() if v is not None}

    def run(self, connection: psycopg.Connection, **params: Any) -> psycopg.Cursor:
        return connection.execute(self.sql, {**self.defaults, **params} if self.defaults else params)


@contextmanager
def pooled_connection(engine: Engine) -> Iterator[psycopg.Connection]:
    """A psycopg connection of ``engine``'s pool, in autocommit: a lone statement is atomic by
    itself, and several that must succeed together use ``with connection.transaction():``.

    Back in the pool it is out of autocommit again (a client-side switch, no round trip), as the
    Sessions on the same pool expect; one that failed at the network level is discarded.
    """
    pooled = engine.raw_connection()
    connection: psycopg.Connection = pooled.driver_connection  # type: ignore[assignment]
    try:
        connection.autocommit = True
        yield connection
    except psycopg.OperationalError:
        if connection.closed or connection.broken:
            pooled.invalidate()
        raise
    finally:
        if not connection.closed:
            try:
                connection.autocommit = False
            except psycopg.Error:  # left in an unknown state: do not hand it out again
                pooled.invalidate()
        pooled.close()


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
