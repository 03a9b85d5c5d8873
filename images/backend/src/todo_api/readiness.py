"""Start-up migration with bounded backoff, and the readiness check.

The process serves liveness at once, even while the database is down; a background thread
keeps trying to migrate (0.5 s doubling to at most 10 s between attempts) until it succeeds or
the process stops. Readiness = the database answers and its schema is at the head revision.

The readiness query has a connection of its own (:func:`todo_api.db.make_probe_engine`: one pooled
connection, short connect and statement timeouts) and a thread of its own, and /readyz awaits it
with a time limit. Sharing the request pool and FastAPI's thread pool, a burst of slow requests
(sign-ups queued for hashing, chats) starved the probe and took every replica out of the Service
at once, which turned a busy minute into an outage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from todo_api import migrate
from todo_api.db import PROBE_STATEMENT_TIMEOUT_MS
from todo_api.logs import scrub

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0
# /readyz answers within this (the chart's readiness probe allows more): a database that does not
# answer in time is "not ready", not a hung probe.
CHECK_TIMEOUT_SECONDS = 3.0


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return scrub(f"{type(exc).__name__}: {first}")[:300]


class Readiness:
    def __init__(self, engine: Engine, probe_engine: Engine | None = None, lock_timeout: float = 60.0) -> None:
        self.engine = engine  # migrations
        self.probe_engine = probe_engine or engine  # the readiness query
        self.lock_timeout = lock_timeout
        # Its own thread: FastAPI's thread pool may be full of requests waiting for the database.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self.migrated = threading.Event()
        self.stopping = threading.Event()
        self.last_error = "migrations not yet applied"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._migrate_loop, name="migrate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _migrate_loop(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        attempt = 1
        while not self.stopping.is_set():
            try:
                migrate.upgrade(self.engine, self.lock_timeout)
            except Exception as exc:  # noqa: BLE001 - every failure is retried
                self.last_error = f"database not migrated yet: {_reason(exc)}"
                log.warning("migration attempt failed; retrying", extra={"attempt": attempt, "retry_in_s": delay,
                                                                        "reason": self.last_error})
                self.stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
                attempt += 1
            else:
                self.migrated.set()
                log.info("database schema is current", extra={"revision": migrate.head_revision()})
                return

    async def check_async(self) -> str | None:
        """:meth:`check` on the readiness thread, given at most CHECK_TIMEOUT_SECONDS."""
        if not self.migrated.is_set():
            return self.last_error
        future = asyncio.get_running_loop().run_in_executor(self._executor, self.check)
        try:
            return await asyncio.wait_for(future, CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return f"database unreachable: no answer within {CHECK_TIMEOUT_SECONDS:g} s"

    def check(self) -> str | None:
        """None when ready, else the reason (one line, no secret)."""
        if not self.migrated.is_set():
            return self.last_error
        try:
            revision = migrate.current_revision(self.probe_engine, PROBE_STATEMENT_TIMEOUT_MS)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return f"database unreachable: {_reason(exc)}"
        if revision != migrate.head_revision():
            return f"database schema is at revision {revision}, expected {migrate.head_revision()}"
        return None
