"""The user's tasks: /api/{user_id}/tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.deps import OwnerDep, in_session
from todo_api.models import Task, utcnow
from todo_api.schemas import Problem, TaskComplete, TaskCreate, TaskOut, TaskStatus, TaskUpdate
from todo_api.tools import query_tasks

AUTH_RESPONSES = {
    401: {"model": Problem, "description": "Missing or invalid access token"},
    404: {"model": Problem, "description": "No such user or task for this token"},
}
router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=AUTH_RESPONSES)
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _get(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "task not found")
    return task


# Every route is async and reaches the database in one hop (deps.in_session); see deps.py for why.


@router.get("", response_model=list[TaskOut], summary="List tasks (status: all, pending or completed)")
async def list_tasks(user_id: OwnerDep, request: Request, status: TaskStatus = Query("all")) -> list[Task]:
    return await in_session(request, user_id, lambda session: query_tasks(session, user_id, status))


@router.post("", response_model=TaskOut, status_code=201, summary="Create a task")
async def create_task(body: TaskCreate, user_id: OwnerDep, request: Request) -> Task:
    def work(session: Session) -> Task:
        task = Task(user_id=user_id, title=body.title, description=body.description or None)
        session.add(task)
        session.commit()
        return task

    return await in_session(request, user_id, work)


@router.get("/{task_id}", response_model=TaskOut, summary="Get one task")
async def get_task(task_id: TaskId, user_id: OwnerDep, request: Request) -> Task:
    return await in_session(request, user_id, lambda session: _get(session, user_id, task_id))


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

    return await in_session(request, user_id, work)


@router.delete("/{task_id}", status_code=204, summary="Delete a task")
async def delete_task(task_id: TaskId, user_id: OwnerDep, request: Request) -> Response:
    def work(session: Session) -> None:
        session.delete(_get(session, user_id, task_id))
        session.commit()

    await in_session(request, user_id, work)
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
) -> Task:
    def work(session: Session) -> Task:
        task = _get(session, user_id, task_id)
        task.completed = (not task.completed) if body is None else body.completed
        task.updated_at = utcnow()
        session.commit()
        return task

    return await in_session(request, user_id, work)
