"""Liveness (the process answers) and readiness (database reachable, schema current)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


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
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
