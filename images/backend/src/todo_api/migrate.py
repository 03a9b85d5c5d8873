"""Alembic migrations, packaged inside todo_api and applied under a PostgreSQL advisory lock.

The script location is this package's ``migrations`` folder, found from ``__file__``: nothing
is read from or written to the working directory, so a read-only root filesystem is fine.
Replicas starting together serialise on the advisory lock; the second finds the schema
current and does nothing.
"""

from __future__ import annotations

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


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


def upgrade(engine: Engine) -> None:
    """Bring the schema to the head revision; safe to call from many processes at once."""
    config = alembic_config()
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database, or None when it has never been migrated."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError:
            return None
