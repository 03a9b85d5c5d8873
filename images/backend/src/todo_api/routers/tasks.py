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
LIST = {
    status: Statement(
        select(User.id, *TASK_COLUMNS).select_from(User)
        .outerjoin(Task, and_(Task.user_id == User.id, *status_filter(status)))
        .where(User.id == _user).order_by(Task.id)
    )
    for status in get_args(TaskStatus)
}
CREATE = Statement(
    insert(Task).from_select(
        ["user_id", "title", "description", "completed", "created_at", "updated_at"],
        select(User.id, bindparam("p_title", type_=String), bindparam("p_description", type_=Text), literal(False),
               _now, _now).where(User.id == _user),
    ).returning(*TASK_COLUMNS)
)
GET = Statement(select(*TASK_COLUMNS).where(*_of_user))
# One UPDATE … RETURNING; the toggle happens in SQL, so two concurrent toggles both count.
TOGGLE = Statement(update(Task).where(*_of_user).values(completed=not_(Task.completed), updated_at=_now)
                   .returning(*TASK_COLUMNS))
SET_COMPLETED = Statement(update(Task).where(*_of_user)
                          .values(completed=bindparam("p_completed", type_=Boolean), updated_at=_now)
                          .returning(*TASK_COLUMNS))
DELETE = Statement(delete(Task).where(*_of_user).returning(Task.id))


@router.get("", response_model=list[TaskOut], summary="List tasks (status: all, pending or completed)")
async def list_tasks(user_id: OwnerDep, request: Request, status: TaskStatus = Query("all")) -> list[dict[str, Any]]:
    def work(connection: Connection) -> list[dict[str, Any]]:
        rows = LIST[status].run(connection, p_user=user_id).fetchall()
        if not rows:
            raise NOT_FOUND
        return [_task(row[1:]) for row in rows if row[1] is not None]

    return await in_connection(request, work)


@router.post("", response_model=TaskOut, status_code=201, summary="Create a task")
async def create_task(body: TaskCreate, user_id: OwnerDep, request: Request) -> dict[str, Any]:
    def work(connection: Connection) -> dict[str, Any]:
        row = CREATE.run(connection, p_user=user_id, p_title=body.title, p_description=body.description or None,
                         p_now=utcnow()).fetchone()
        if row is None:
            raise NOT_FOUND
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
