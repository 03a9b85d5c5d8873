"""Liveness (the process answers) and readiness (database reachable, schema current)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


def public_reason(reason: str) -> str:
    """What a caller of /readyz is told: the kind of problem, never the driver's text (it names the
    database host and user). The whole reason goes to the log (issue 27)."""
    if reason.startswith("database schema"):
        return "database schema not current"
    if reason.startswith("database not migrated"):
        # Our own lock timeout names the variable to change and nothing about the server: kept.
        _, own, text = reason.partition("MigrationLockTimeout: ")
        return f"database not migrated yet: {text}" if own else "database not migrated yet"
    return "database unreachable"


@router.get("/healthz", summary="Liveness: the process answers (never touches the database)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database is reachable and its schema current",
    responses={503: {"description": "Not ready; `reason` says why"}},
)
async def readyz(request: Request) -> JSONResponse:
    # async on purpose: a sync handler would wait for a free thread of FastAPI's pool, which a burst
    # of requests can fill (Readiness runs the query on a thread and a connection of its own).
    reason = await request.app.state.readiness.check_async()
    if reason is None:
        request.app.state.logged_reason = None
        return JSONResponse({"status": "ready"})
    if reason != getattr(request.app.state, "logged_reason", None):  # once per new reason, not per probe
        request.app.state.logged_reason = reason
        log.warning("not ready", extra={"reason": reason})
    return JSONResponse({"status": "not ready", "reason": public_reason(reason)}, status_code=503)
