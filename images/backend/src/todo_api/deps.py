"""FastAPI dependencies (settings, the current user) and the one way a route reaches the database.

Cost per request (issue 15): every *sync* dependency, sync handler and sync response validation
is a hop to the thread pool, each a hand-off between the event loop and a worker thread (locks,
condition variables, GIL switches). A task route with sync token, owner and session dependencies
made six hops and spent more CPU on them than on its SQL. So the dependencies here are async
(decoding a JWT is a few microseconds of CPU) and each route makes exactly one hop,
:func:`in_connection` (the hot routes: compiled statements on one pooled psycopg connection) or
:func:`in_session` (the others: one ORM session), both through :func:`in_thread`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.db import pooled_connection
from todo_api.models import User
from todo_api.security import InvalidToken, token_subject
from todo_api.settings import Settings

T = TypeVar("T")

# The worker threads of the request path's one hop per route. A plain executor, not anyio's
# run_in_threadpool: its hand-off (a C SimpleQueue and a future) cost ~20 us of CPU per hop at 20
# concurrent requests, anyio's (a Condition-based queue, a capacity limiter, a copied context)
# ~57 us, and Condition.notify alone was 15 % of the process's GIL time (issue 15, py-spy). The
# same 40 threads as anyio's default limiter: a chat turn waiting on the model holds one.
WORKER_THREADS = 40
_workers = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="todo-worker")


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on a worker thread, awaited."""
    return await asyncio.get_running_loop().run_in_executor(_workers, function, *args)
bearer = HTTPBearer(auto_error=False, description="The access_token from POST /api/auth/login")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "missing or invalid access token", headers={"WWW-Authenticate": "Bearer"}
)
NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")


async def token_user_id(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UNAUTHORIZED
    try:
        return token_subject(request.app.state.settings.jwt_secret.get_secret_value(), credentials.credentials)
    except InvalidToken:
        raise UNAUTHORIZED from None


async def owner(
    user_id: Annotated[str, Path(max_length=64, description="Must be the id of the token's user")],
    subject: Annotated[str, Depends(token_user_id)],
) -> str:
    """The path's user, who must be the token's subject; anything else is 404 (no existence leak).

    That the user still exists is checked by :func:`in_session` / :func:`user_exists`, in the
    route's own session: a separate one would cost another pool checkout and thread hop.
    """
    if user_id != subject:
        raise NOT_FOUND
    return subject


OwnerDep = Annotated[str, Depends(owner)]


def user_exists(session: Session, user_id: str) -> bool:
    return session.scalar(select(User.id).where(User.id == user_id)) is not None


async def in_session(request: Request, user_id: str | None, work: Callable[[Session], T]) -> T:
    """``work(session)`` on a worker thread, in one session; first checks that ``user_id`` exists
    (404 if not) unless it is None: a route whose query proves it by itself passes None (a task
    found by id *and* user_id implies its user, tasks.user_id references users).

    For the routes off the hot path (the hot ones use :func:`in_connection`). The session is closed
    (its connection back in the pool) before the answer is serialised and sent; ``work`` commits
    what it changes. Objects it returns stay readable (expire_on_commit=False).
    """
    factory = request.app.state.sessionmaker

    def run() -> T:
        with factory() as session:
            if user_id is not None and not user_exists(session, user_id):
                raise NOT_FOUND
            return work(session)

    return await in_thread(run)


async def in_connection(request: Request, work: Callable[[psycopg.Connection], T]) -> T:
    """``work(connection)`` on a worker thread, on a pooled psycopg connection in autocommit
    (db.pooled_connection): the routes that run precompiled statements (db.Statement), which prove
    the user's existence by themselves. The connection is back in the pool before the answer is sent."""
    engine = request.app.state.engine

    def run() -> T:
        with pooled_connection(engine) as connection:
            return work(connection)

    return await in_thread(run)
