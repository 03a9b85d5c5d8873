"""Fixtures shared by the applications' tests and every tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from verification.lib.postgres import LocalPostgres, PostgresUnavailable
from verification.tiers import skip_or_fail


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A private PostgreSQL server (Debian's binaries) for the whole session, removed at the end."""
    try:
        server = LocalPostgres()
    except PostgresUnavailable as exc:
        skip_or_fail("app", str(exc))
    with server:
        yield server
