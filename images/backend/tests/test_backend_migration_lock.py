"""The migration lock is transaction-scoped and bounded (security review, issue 16): behind a stuck
holder a replica reports MIGRATION_LOCK_TIMEOUT_SECONDS in /readyz and retries, instead of waiting
forever; once the holder lets go it migrates. (Two replicas at once: test_backend_lifecycle.py.)"""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest
from backend_support import backend
from sqlalchemy import create_engine
from todo_api.db import sqlalchemy_url
from todo_api.migrate import ADVISORY_LOCK_KEY, MigrationLockTimeout, head_revision, upgrade

from harness.core.wait import wait_for
from harness.testkit.postgres import LocalPostgres

pytestmark = pytest.mark.timeout(180)


def test_upgrade_gives_up_after_the_lock_timeout_naming_the_setting(postgres_server: LocalPostgres) -> None:
    database = postgres_server.create_database()
    engine = create_engine(sqlalchemy_url(database.url))
    try:
        with psycopg.connect(database.url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))  # a stuck replica
            started = time.monotonic()
            with pytest.raises(MigrationLockTimeout) as raised:
                upgrade(engine, lock_timeout=1.0)
            assert 1.0 <= time.monotonic() - started < 5.0
            message = str(raised.value)
            assert message.startswith("MIGRATION_LOCK_TIMEOUT_SECONDS (1 s) expired") and "\n" not in message
            # It waited outside any transaction and left nothing behind.
            assert postgres_server.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'", database=database.name) == "0"
        upgrade(engine, lock_timeout=1.0)  # the holder is gone
        assert postgres_server.psql("SELECT version_num FROM alembic_version", database=database.name) == head_revision()
        # Transaction-scoped: released by the commit, no session-level lock survives on the pool's connection.
        assert postgres_server.psql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", database=database.name) == "0"
    finally:
        engine.dispose()


def test_a_replica_behind_a_stuck_lock_says_so_and_migrates_once_it_is_free(postgres_server: LocalPostgres) -> None:
    database = postgres_server.create_database()
    holder = psycopg.connect(database.url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    server = backend(database.url, name="todo-api-lock", health_path="/healthz", MIGRATION_LOCK_TIMEOUT_SECONDS="1")
    with server:
        def reason() -> str:
            return httpx.get(f"{server.url}/readyz", timeout=5).json().get("reason", "")

        wait_for(lambda: "MIGRATION_LOCK_TIMEOUT_SECONDS (1 s) expired" in reason(), timeout=30,
                 what="/readyz to name MIGRATION_LOCK_TIMEOUT_SECONDS")
        holder.close()
        wait_for(lambda: httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200, timeout=30,
                 what="the replica to migrate once the lock is free")
