"""Alembic migrations, packaged inside todo_api and applied under a PostgreSQL advisory lock.

The script location is this package's ``migrations`` folder, found from ``__file__``: nothing
is read from or written to the working directory, so a read-only root filesystem is fine.
Replicas starting together serialise on the advisory lock; the second finds the schema
current and does nothing.

The lock is transaction-scoped (``pg_try_advisory_xact_lock``), taken in the same transaction that
runs the migrations and released by its commit or rollback. A session-level lock would wait forever
behind a stuck holder, and behind a transaction pooler (Neon's ``-pooler`` host, PgBouncer in
transaction mode) the unlock could run on another server connection than the lock, leaving it held.
Taking it is retried for at most MIGRATION_LOCK_TIMEOUT_SECONDS, then :class:`MigrationLockTimeout`.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# An arbitrary constant shared by every replica: "todo" in ASCII.
ADVISORY_LOCK_KEY = 0x746F646F
LOCK_RETRY_SECONDS = 0.25


class MigrationLockTimeout(Exception):
    """Another process held the migration lock for longer than MIGRATION_LOCK_TIMEOUT_SECONDS."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


def upgrade(engine: Engine, lock_timeout: float = 60.0) -> None:
    """Bring the schema to the head revision; safe to call from many processes at once.

    Raises :class:`MigrationLockTimeout` when another process holds the lock for ``lock_timeout``
    seconds (the caller retries later).
    """
    config = alembic_config()
    deadline = time.monotonic() + lock_timeout
    with engine.connect() as connection:
        # Polled with the non-blocking form rather than waited for server-side: the wait stays
        # bounded without a lock_timeout that would also cut the migrations' own DDL short, and
        # each failed try ends its transaction, so no snapshot is held while waiting.
        while not connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ).scalar():
            connection.rollback()
            if time.monotonic() >= deadline:
                raise MigrationLockTimeout(
                    f"MIGRATION_LOCK_TIMEOUT_SECONDS ({lock_timeout:g} s) expired: another process holds "
                    f"the migration lock (pg_locks: locktype advisory, objid {ADVISORY_LOCK_KEY})"
                )
            time.sleep(LOCK_RETRY_SECONDS)
        try:
            # Still inside the transaction that holds the lock: Alembic's begin_transaction() joins it
            # (PostgreSQL has transactional DDL), and the commit below releases the lock with it.
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            connection.rollback()  # a no-op after the commit; after a failure, undoes it and unlocks


def current_revision(engine: Engine, statement_timeout_ms: int | None = None) -> str | None:
    """The revision stored in the database, or None when it has never been migrated.

    ``statement_timeout_ms`` bounds the query (the readiness probe). It is set with SET LOCAL, per
    transaction, not as a connection option: transaction poolers (Neon's -pooler host, PgBouncer)
    refuse start-up options and do not keep session settings.
    """
    with engine.connect() as connection:
        if statement_timeout_ms is not None:
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError:
            return None
