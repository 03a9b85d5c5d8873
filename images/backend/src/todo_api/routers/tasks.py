"""The user's tasks: /api/{user_id}/tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response, status
from sqlalchemy import DateTime, String, Text, delete, insert, literal, not_, select, update
from sqlalchemy.orm import Session

from todo_api.deps import NOT_FOUND, OwnerDep, in_session
from todo_api.models import Task, User, utcnow
from todo_api.schemas import Problem, TaskComplete, TaskCreate, TaskOut, TaskStatus, TaskUpdate
from todo_api.tools import query_tasks_of_user

AUTH_RESPONSES = {
    401: {"model": Problem, "description": "Missing or invalid access token"},
    404: {"model": Problem, "description": "No such user or task for this token"},
}
router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=AUTH_RESPONSES)
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


TASK_NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "task not found")
# What TaskOut shows, for the routes that answer from a RETURNING clause.
TASK_COLUMNS = (Task.id, Task.title, Task.description, Task.completed, Task.created_at, Task.updated_at)


def _get(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise TASK_NOT_FOUND
    return task


# Every route is async and reaches the database in one hop (deps.in_session); see deps.py for why.
# The routes that look a task up by id and user_id need no separate check that the user exists.


@router.get("", response_model=list[TaskOut], summary="List tasks (status: all, pending or completed)")
async def list_tasks(user_id: OwnerDep, request: Request, status: TaskStatus = Query("all")) -> list[Task]:
    def work(session: Session) -> list[Task]:
        tasks = query_tasks_of_user(session, user_id, status)
        if tasks is None:
            raise NOT_FOUND
        return tasks

    return await in_session(request, None, work, autocommit=True)


@router.post("", response_model=TaskOut, status_code=201, summary="Create a task")
async def create_task(body: TaskCreate, user_id: OwnerDep, request: Request) -> dict[str, Any]:
    # One statement that also proves the user exists: INSERT … SELECT FROM users … RETURNING.
    now = utcnow()
    stamp = DateTime(timezone=True)
    insert_task = insert(Task).from_select(
        ["user_id", "title", "description", "completed", "created_at", "updated_at"],
        select(User.id, literal(body.title, String), literal(body.description or None, Text), literal(False),
               literal(now, stamp), literal(now, stamp)).where(User.id == user_id),
    ).returning(*TASK_COLUMNS)

    def work(session: Session) -> dict[str, Any]:
        row = session.connection().execute(insert_task).first()
        if row is None:
            raise NOT_FOUND
        return dict(row._mapping)

    return await in_session(request, None, work, autocommit=True)


@router.get("/{task_id}", response_model=TaskOut, summary="Get one task")
async def get_task(task_id: TaskId, user_id: OwnerDep, request: Request) -> Task:
    return await in_session(request, None, lambda session: _get(session, user_id, task_id), autocommit=True)


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
    delete_it = delete(Task).where(Task.id == task_id, Task.user_id == user_id).returning(Task.id)

    def work(session: Session) -> None:
        if session.connection().execute(delete_it).first() is None:
            raise TASK_NOT_FOUND

    await in_session(request, None, work, autocommit=True)
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
    # One UPDATE … RETURNING; the toggle happens in SQL, so two concurrent toggles both count.
    completed = not_(Task.completed) if body is None else body.completed
    update_it = (
        update(Task).where(Task.id == task_id, Task.user_id == user_id)
        .values(completed=completed, updated_at=utcnow()).returning(*TASK_COLUMNS)
    )

    def work(session: Session) -> dict[str, Any]:
        row = session.connection().execute(update_it).first()
        if row is None:
            raise TASK_NOT_FOUND
        return dict(row._mapping)

    return await in_session(request, None, work, autocommit=True)
