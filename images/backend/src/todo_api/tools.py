"""The task tools: one implementation behind the chat agent (both providers) and the MCP server.

Return shapes follow the published Phase III tool specification:
``add_task`` → ``{task_id, status: "created", title}``, ``list_tasks`` → ``[{id, title, completed, …}]``,
``complete_task``/``delete_task``/``update_task`` → ``{task_id, status, title}``.
Every function takes the owner's ``user_id`` from the authenticated caller, never from the model.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal, NamedTuple

from psycopg import Connection
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from todo_api.db import Statement
from todo_api.models import Task, utcnow
from todo_api.schemas import Description, Title


class ToolError(Exception):
    """A tool could not do what was asked; the message is for the user (and the model)."""


# --- arguments (their JSON schemas are what the model and MCP clients see) ----------------------
class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddTaskArgs(_Args):
    title: Title = Field(description="Short title of the task")
    description: Description | None = Field(default=None, description="Optional details")


class ListTasksArgs(_Args):
    status: Literal["all", "pending", "completed"] = Field(default="all", description="Which tasks to list")


# Task ids are PostgreSQL integers: a larger number would reach the database and fail there (a 500);
# bounded here it is an ordinary tool error for every caller (the chat agents and MCP).
MAX_TASK_ID = 2**31 - 1


class TaskIdArgs(_Args):
    task_id: int = Field(ge=1, le=MAX_TASK_ID, description="The task's number")


class UpdateTaskArgs(_Args):
    task_id: int = Field(ge=1, le=MAX_TASK_ID, description="The task's number")
    title: Title | None = Field(default=None, description="New title")
    description: Description | None = Field(default=None, description="New description")


# --- implementations ----------------------------------------------------------------------------
# Each tool is one statement, compiled once (db.Statement: issue 15, SQLAlchemy's per-execution
# work cost several times the round trip) and run in autocommit: a statement that finds the task by
# id *and* user_id both checks ownership and acts, so no tool needs a transaction around two.
class TaskRow(NamedTuple):
    id: int
    title: str
    description: str | None
    completed: bool


def task_summary(task: TaskRow) -> dict[str, Any]:
    return task._asdict()


def status_filter(status: str) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a status: all, pending or completed."""
    if status == "pending":
        return [Task.completed.is_(False)]
    if status == "completed":
        return [Task.completed.is_(True)]
    return []


_user, _task_id, _now = bindparam("p_user", type_=String), bindparam("p_task", type_=Integer), \
    bindparam("p_now", type_=DateTime(timezone=True))
_of_user = (Task.id == _task_id, Task.user_id == _user)
_SUMMARY = (Task.id, Task.title, Task.description, Task.completed)
_QUERY = {status: Statement(select(*_SUMMARY).where(Task.user_id == _user, *status_filter(status)).order_by(Task.id)
                             .limit(bindparam("p_limit", type_=Integer)))
          for status in ("all", "pending", "completed")}
# The cap on tasks per user holds for the agents and MCP as for the REST API (routers/tasks.py CREATE).
_ADD = Statement(insert(Task).from_select(
    ["user_id", "title", "description", "completed", "created_at", "updated_at"],
    select(_user, bindparam("p_title", type_=String), bindparam("p_description", type_=Text), literal(False),
           _now, _now).where(
        select(func.count()).select_from(Task).where(Task.user_id == _user).scalar_subquery()
        < bindparam("p_cap", type_=Integer)),
).returning(Task.id, Task.title))
# Completing a completed task changes nothing (its updated_at stays).
_COMPLETE = Statement(update(Task).where(*_of_user).values(
    completed=True, updated_at=case((Task.completed, Task.updated_at), else_=_now)).returning(Task.id, Task.title))
_DELETE = Statement(delete(Task).where(*_of_user).returning(Task.id, Task.title))
_UPDATE = Statement(update(Task).where(*_of_user).values(
    title=func.coalesce(bindparam("p_title", type_=String), Task.title),
    description=case((bindparam("p_set_description", type_=Boolean), bindparam("p_description", type_=Text)),
                     else_=Task.description),
    updated_at=_now).returning(Task.id, Task.title))


# Per process, from Settings (app.create_app calls configure): what one account may hold, and the
# most tasks a tool lists. A listing goes into the model's context and is stored with the turn, so
# it is bounded well below the cap (issue 27: a turn stored the whole list twice).
TASKS_PER_USER = 1000
LIST_TOOL_MAX = 100


def configure(tasks_per_user: int) -> None:
    global TASKS_PER_USER
    TASKS_PER_USER = tasks_per_user


def query_tasks(connection: Connection, user_id: str, status: str = "all",
                limit: int | None = None) -> list[TaskRow]:
    rows = _QUERY[status].run(connection, p_user=user_id, p_limit=limit if limit is not None else TASKS_PER_USER)
    return [TaskRow(*row) for row in rows]


def _changed(row: tuple[Any, ...] | None, task_id: int, status: str) -> dict[str, Any]:
    if row is None:
        raise ToolError(f"Task {task_id} not found")
    return {"task_id": row[0], "status": status, "title": row[1]}


def add_task(connection: Connection, user_id: str, args: AddTaskArgs) -> dict[str, Any]:
    row = _ADD.run(connection, p_user=user_id, p_title=args.title, p_description=args.description or None,
                   p_now=utcnow(), p_cap=TASKS_PER_USER).fetchone()
    if row is None:
        raise ToolError(f"Task limit reached: an account holds at most {TASKS_PER_USER} tasks; delete some first")
    return {"task_id": row[0], "status": "created", "title": row[1]}


def list_tasks(connection: Connection, user_id: str, args: ListTasksArgs) -> list[dict[str, Any]]:
    return [task_summary(t) for t in query_tasks(connection, user_id, args.status, LIST_TOOL_MAX)]


def complete_task(connection: Connection, user_id: str, args: TaskIdArgs) -> dict[str, Any]:
    row = _COMPLETE.run(connection, p_task=args.task_id, p_user=user_id, p_now=utcnow()).fetchone()
    return _changed(row, args.task_id, "completed")


def delete_task(connection: Connection, user_id: str, args: TaskIdArgs) -> dict[str, Any]:
    row = _DELETE.run(connection, p_task=args.task_id, p_user=user_id).fetchone()
    return _changed(row, args.task_id, "deleted")


def update_task(connection: Connection, user_id: str, args: UpdateTaskArgs) -> dict[str, Any]:
    if args.title is None and args.description is None:
        raise ToolError("Give a new title or description")
    row = _UPDATE.run(connection, p_task=args.task_id, p_user=user_id, p_title=args.title,
                      p_set_description=args.description is not None, p_description=args.description or None,
                      p_now=utcnow()).fetchone()
    return _changed(row, args.task_id, "updated")


class ToolSpec(BaseModel):
    name: str
    description: str
    args: type[_Args]
    run: Callable[[Connection, str, Any], Any]


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(name="add_task", description="Create a new task", args=AddTaskArgs, run=add_task),
        ToolSpec(
            name="list_tasks",
            description="List the user's tasks, optionally only pending or completed ones",
            args=ListTasksArgs,
            run=list_tasks,
        ),
        ToolSpec(name="complete_task", description="Mark a task as complete", args=TaskIdArgs, run=complete_task),
        ToolSpec(name="delete_task", description="Delete a task", args=TaskIdArgs, run=delete_task),
        ToolSpec(
            name="update_task",
            description="Change a task's title or description",
            args=UpdateTaskArgs,
            run=update_task,
        ),
    )
}


def parameters_schema(spec: ToolSpec) -> dict[str, Any]:
    schema = spec.args.model_json_schema()
    schema.pop("title", None)
    return schema


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "invalid arguments: " + "; ".join(parts)


class TaskTools:
    """The tools bound to one user, recording every call made.

    Every tool runs on a connection of its own from ``connect`` (db.pooled_connection), returned at
    once: the chat agent may think for a minute between tool calls, and no connection may stay
    checked out meanwhile (it would starve the pool).
    """

    def __init__(self, connect: Callable[[], AbstractContextManager[Connection]], user_id: str) -> None:
        self.connect = connect
        self.user_id = user_id
        self.calls: list[dict[str, Any]] = []

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a tool; failures become ``{"error": "…"}`` results, as a model expects."""
        try:
            result = self.run(name, arguments)
        except ToolError as exc:
            result = {"error": str(exc)}
        self.calls.append({"name": name, "arguments": arguments, "result": result})
        return result

    def run(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a tool; raises :class:`ToolError` on unknown tools, bad arguments or missing tasks."""
        spec = TOOLS.get(name)
        if spec is None:
            raise ToolError(f"Unknown tool {name!r}; the tools are {', '.join(TOOLS)}")
        try:
            args = spec.args.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(_describe(exc)) from None
        with self.connect() as connection:
            return spec.run(connection, self.user_id, args)

    def tasks(self, status: str = "all") -> list[TaskRow]:
        """The user's tasks (not recorded as a tool call: the rules agent resolves titles with it)."""
        with self.connect() as connection:
            return query_tasks(connection, self.user_id, status)
