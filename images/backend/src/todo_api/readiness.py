"""Start-up migration with bounded backoff, and the readiness check.

The process serves liveness at once, even while the database is down; a background thread
keeps trying to migrate (0.5 s doubling to at most 10 s between attempts) until it succeeds or
the process stops. Readiness = the database answers and its schema is at the head revision.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from todo_api import migrate
from todo_api.logs import scrub

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return scrub(f"{type(exc).__name__}: {first}")[:300]


class Readiness:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
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

    def _migrate_loop(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        attempt = 1
        while not self.stopping.is_set():
            try:
                migrate.upgrade(self.engine)
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

    def check(self) -> str | None:
        """None when ready, else the reason (one line, no secret)."""
        if not self.migrated.is_set():
            return self.last_error
        try:
            revision = migrate.current_revision(self.engine)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return f"database unreachable: {_reason(exc)}"
        if revision != migrate.head_revision():
            return f"database schema is at revision {revision}, expected {migrate.head_revision()}"
        return None
