"""The user's tasks: /api/{user_id}/tasks."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response, status
from psycopg import Connection
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    not_,
    select,
    update,
)
from sqlalchemy.orm import Session

from todo_api.db import Statement
from todo_api.deps import NOT_FOUND, OwnerDep, in_connection, in_session
from todo_api.models import Task, User, utcnow
from todo_api.schemas import Problem, TaskComplete, TaskCreate, TaskOut, TaskStatus, TaskUpdate
from todo_api.tools import status_filter

AUTH_RESPONSES = {
    401: {"model": Problem, "description": "Missing or invalid access token"},
    404: {"model": Problem, "description": "No such user or task for this token"},
}
router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=AUTH_RESPONSES)
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


TASK_NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "task not found")
# What TaskOut shows, in its order: the columns the statements below return.
TASK_COLUMNS = (Task.id, Task.title, Task.description, Task.completed, Task.created_at, Task.updated_at)
TASK_FIELDS = tuple(column.key for column in TASK_COLUMNS)


def _get(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise TASK_NOT_FOUND
    return task


def _task(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(TASK_FIELDS, row, strict=True))


# The hot routes run statements compiled once (db.Statement; db.py says why), each one statement
# that also proves what the route needs: the list's users LEFT JOIN tasks (no row: no such user),
# create's INSERT … SELECT FROM users, and the routes that find a task by id *and* user_id (a task of
# the user implies the user; tasks.user_id references users). Parameter names are not column names:
# SQLAlchemy keeps those for the VALUES / SET clauses.
_user, _task_id, _now = bindparam("p_user", type_=String), bindparam("p_task", type_=Integer), \
    bindparam("p_now", type_=DateTime(timezone=True))
_of_user = (Task.id == _task_id, Task.user_id == _user)
# A page of the list: tasks with an id above ``after`` (keyset pagination: stable while tasks are
# added or deleted, and no OFFSET scan), at most ``limit`` of them. The outer join keeps the
# user's row when the page is empty (no row at all: no such user).
_after, _limit = bindparam("p_after", type_=Integer), bindparam("p_limit", type_=Integer)
LIST = {
    status: Statement(
        select(User.id, *TASK_COLUMNS).select_from(User)
        .outerjoin(Task, and_(Task.user_id == User.id, Task.id > _after, *status_filter(status)))
        .where(User.id == _user).order_by(Task.id).limit(_limit)
    )
    for status in get_args(TaskStatus)
}
# At most p_cap tasks per user: the INSERT selects nothing once the user has that many. Two creates
# racing at cap - 1 can both pass (the count is each one's snapshot), so the cap holds to within the
# requests one user has in flight, which the per-user creation rate bounds.
CREATE = Statement(
    insert(Task).from_select(
        ["user_id", "title", "description", "completed", "created_at", "updated_at"],
        select(User.id, bindparam("p_title", type_=String), bindparam("p_description", type_=Text), literal(False),
               _now, _now).where(
            User.id == _user,
            select(func.count()).select_from(Task).where(Task.user_id == _user).scalar_subquery()
            < bindparam("p_cap", type_=Integer),
        ),
    ).returning(*TASK_COLUMNS)
)
USER_EXISTS = Statement(select(User.id).where(User.id == _user))
# The largest page of GET /tasks, and the default: the UI shows one page.
MAX_PAGE = 500
GET = Statement(select(*TASK_COLUMNS).where(*_of_user))
# One UPDATE … RETURNING; the toggle happens in SQL, so two concurrent toggles both count.
TOGGLE = Statement(update(Task).where(*_of_user).values(completed=not_(Task.completed), updated_at=_now)
                   .returning(*TASK_COLUMNS))
SET_COMPLETED = Statement(update(Task).where(*_of_user)
                          .values(completed=bindparam("p_completed", type_=Boolean), updated_at=_now)
                          .returning(*TASK_COLUMNS))
DELETE = Statement(delete(Task).where(*_of_user).returning(Task.id))


@router.get(
    "",
    response_model=list[TaskOut],
    summary="List tasks (status: all, pending or completed), a page at a time",
    description=f"Oldest first, at most `limit` (1 to {MAX_PAGE}, default {MAX_PAGE}) tasks with an id above "
                "`after`: for the next page pass the last id of this one; a page shorter than `limit` is the last.",
)
async def list_tasks(
    user_id: OwnerDep,
    request: Request,
    status: TaskStatus = Query("all"),
    limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE),
    after: int = Query(0, ge=0, le=2**31 - 1),
) -> list[dict[str, Any]]:
    def work(connection: Connection) -> list[dict[str, Any]]:
        rows = LIST[status].run(connection, p_user=user_id, p_after=after, p_limit=limit).fetchall()
        if not rows:
            raise NOT_FOUND
        return [_task(row[1:]) for row in rows if row[1] is not None]

    return await in_connection(request, work)


def task_limit_reached(cap: int) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT,
                         f"task limit reached: an account holds at most {cap} tasks; delete some to add more")


@router.post(
    "",
    response_model=TaskOut,
    status_code=201,
    summary="Create a task",
    responses={
        409: {"model": Problem, "description": "The account holds the most tasks it may (TASKS_PER_USER)"},
        429: {"model": Problem, "description": "Too many tasks created this minute; Retry-After says when to retry"},
    },
)
async def create_task(body: TaskCreate, user_id: OwnerDep, request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    wait = request.app.state.user_limits.task_creation.acquire(user_id)
    if wait:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many tasks created: try again in {wait} seconds", headers={"Retry-After": str(wait)})

    def work(connection: Connection) -> dict[str, Any]:
        row = CREATE.run(connection, p_user=user_id, p_title=body.title, p_description=body.description or None,
                         p_now=utcnow(), p_cap=settings.tasks_per_user).fetchone()
        if row is None:
            # Nothing inserted: no such user, or the cap (asked only on this rare path).
            if USER_EXISTS.run(connection, p_user=user_id).fetchone() is None:
                raise NOT_FOUND
            raise task_limit_reached(settings.tasks_per_user)
        return _task(row)

    return await in_connection(request, work)


@router.get("/{task_id}", response_model=TaskOut, summary="Get one task")
async def get_task(task_id: TaskId, user_id: OwnerDep, request: Request) -> dict[str, Any]:
    def work(connection: Connection) -> dict[str, Any]:
        row = GET.run(connection, p_task=task_id, p_user=user_id).fetchone()
        if row is None:
            raise TASK_NOT_FOUND
        return _task(row)

    return await in_connection(request, work)


@router.put("/{task_id}", response_model=TaskOut, summary="Update a task (any of title, description, completed)")
async def update_task(task_id: TaskId, body: TaskUpdate, user_id: OwnerDep, request: Request) -> Task:
    def work(session: Session) -> Task:
        task = _get(session, user_id, task_id)
        for field in body.model_fields_set:
            value = getattr(body, field)
            setattr(task, field, (value or None) if field == "description" else value)
        task.updated_at = utcnow()
        session.commit()
        return task

    return await in_session(request, None, work)


@router.delete("/{task_id}", status_code=204, summary="Delete a task")
async def delete_task(task_id: TaskId, user_id: OwnerDep, request: Request) -> Response:
    def work(connection: Connection) -> None:
        if DELETE.run(connection, p_task=task_id, p_user=user_id).fetchone() is None:
            raise TASK_NOT_FOUND

    await in_connection(request, work)
    return Response(status_code=204)


@router.patch(
    "/{task_id}/complete",
    response_model=TaskOut,
    summary="Toggle completion, or set it with {\"completed\": true|false}",
)
async def complete_task(
    task_id: TaskId,
    user_id: OwnerDep,
    request: Request,
    body: Annotated[TaskComplete | None, Body()] = None,
) -> dict[str, Any]:
    def work(connection: Connection) -> dict[str, Any]:
        if body is None:
            cursor = TOGGLE.run(connection, p_task=task_id, p_user=user_id, p_now=utcnow())
        else:
            cursor = SET_COMPLETED.run(connection, p_task=task_id, p_user=user_id, p_completed=body.completed,
                                       p_now=utcnow())
        row = cursor.fetchone()
        if row is None:
            raise TASK_NOT_FOUND
        return _task(row)

    return await in_connection(request, work)
