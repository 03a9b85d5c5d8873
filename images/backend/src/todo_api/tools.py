"""The task tools: one implementation behind the chat agent (both providers) and the MCP server.

Return shapes follow the published Phase III tool specification:
``add_task`` → ``{task_id, status: "created", title}``, ``list_tasks`` → ``[{id, title, completed, …}]``,
``complete_task``/``delete_task``/``update_task`` → ``{task_id, status, title}``.
Every function takes the owner's ``user_id`` from the authenticated caller, never from the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from todo_api.models import Task, User, utcnow
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
def _task(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise ToolError(f"Task {task_id} not found")
    return task


def task_summary(task: Task) -> dict[str, Any]:
    return {"id": task.id, "title": task.title, "description": task.description, "completed": task.completed}


def status_filter(status: str) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a status: all, pending or completed."""
    if status == "pending":
        return [Task.completed.is_(False)]
    if status == "completed":
        return [Task.completed.is_(True)]
    return []


def query_tasks(session: Session, user_id: str, status: str = "all") -> list[Task]:
    query = select(Task).where(Task.user_id == user_id, *status_filter(status)).order_by(Task.id)
    return list(session.scalars(query))


def add_task(session: Session, user_id: str, args: AddTaskArgs) -> dict[str, Any]:
    task = Task(user_id=user_id, title=args.title, description=args.description or None)
    session.add(task)
    session.flush()
    return {"task_id": task.id, "status": "created", "title": task.title}


def list_tasks(session: Session, user_id: str, args: ListTasksArgs) -> list[dict[str, Any]]:
    return [task_summary(t) for t in query_tasks(session, user_id, args.status)]


def complete_task(session: Session, user_id: str, args: TaskIdArgs) -> dict[str, Any]:
    task = _task(session, user_id, args.task_id)
    if not task.completed:
        task.completed = True
        task.updated_at = utcnow()
        session.flush()
    return {"task_id": task.id, "status": "completed", "title": task.title}


def delete_task(session: Session, user_id: str, args: TaskIdArgs) -> dict[str, Any]:
    task = _task(session, user_id, args.task_id)
    title = task.title
    session.delete(task)
    session.flush()
    return {"task_id": args.task_id, "status": "deleted", "title": title}


def update_task(session: Session, user_id: str, args: UpdateTaskArgs) -> dict[str, Any]:
    if args.title is None and args.description is None:
        raise ToolError("Give a new title or description")
    task = _task(session, user_id, args.task_id)
    if args.title is not None:
        task.title = args.title
    if args.description is not None:
        task.description = args.description or None
    task.updated_at = utcnow()
    session.flush()
    return {"task_id": task.id, "status": "updated", "title": task.title}


class ToolSpec(BaseModel):
    name: str
    description: str
    args: type[_Args]
    run: Callable[[Session, str, Any], Any]
    # Runs one SQL statement: may run in autocommit (TaskTools' autocommit_factory), saving the
    # BEGIN and COMMIT round trips. The others read, then write: they keep their transaction.
    single_statement: bool = False


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(name="add_task", description="Create a new task", args=AddTaskArgs, run=add_task,
                 single_statement=True),
        ToolSpec(
            name="list_tasks",
            description="List the user's tasks, optionally only pending or completed ones",
            args=ListTasksArgs,
            run=list_tasks,
            single_statement=True,
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

    Given a ``session`` (MCP), every tool runs in it and the caller commits. Given a ``factory``
    instead (the chat agent), every tool runs in a short session of its own, committed at once: the
    agent may think for a minute between tool calls, and no connection or transaction may stay open
    meanwhile (it would starve the pool and block vacuum).
    """

    def __init__(
        self, session: Session | None, user_id: str, *, factory: Callable[[], Session] | None = None,
        autocommit_factory: Callable[[], Session] | None = None,
    ) -> None:
        """``autocommit_factory`` (with ``factory``): sessions for the single-statement tools."""
        if (session is None) == (factory is None):
            raise TypeError("TaskTools needs a session or a session factory, not both")
        self.session = session
        self.factory = factory
        self.autocommit_factory = autocommit_factory or factory
        self.user_id = user_id
        self.calls: list[dict[str, Any]] = []

    @contextmanager
    def _session(self, single_statement: bool = False) -> Iterator[Session]:
        if self.session is not None:
            yield self.session
            return
        factory = self.autocommit_factory if single_statement else self.factory
        assert factory is not None
        with factory() as session:  # closed (rolled back) on a ToolError
            yield session
            session.commit()

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
        with self._session(spec.single_statement) as session:
            return spec.run(session, self.user_id, args)

    def tasks(self, status: str = "all") -> list[Task]:
        """The user's tasks (not recorded as a tool call: the rules agent resolves titles with it)."""
        with self._session(single_statement=True) as session:
            return query_tasks(session, self.user_id, status)
