"""Request and response shapes (the public API contract)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters: refuse them as a validation error, not a 500."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(no_nul)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(no_nul)]
TaskStatus = Literal["all", "pending", "completed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth --------------------------------------------------------------------------------------
class RegisterRequest(Strict):
    email: Text = Field(max_length=320, examples=["ada@example.com"])
    password: Text = Field(min_length=8, max_length=128, description="8 to 128 characters")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(no_nul)] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError("must be an email address such as ada@example.com")
        return value


class RegisterResponse(BaseModel):
    id: str
    email: str


class LoginRequest(Strict):
    email: Text = Field(max_length=320)
    password: Text = Field(max_length=128)


class LoginResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user_id: str


# --- tasks --------------------------------------------------------------------------------------
class TaskCreate(Strict):
    title: Title
    description: Description | None = None


class TaskUpdate(Strict):
    """Any subset of the fields; at least one."""

    title: Title | None = None
    description: Description | None = None
    completed: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> TaskUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, completed")
        if "title" in self.model_fields_set and self.title is None:
            raise ValueError("title must not be null")
        if "completed" in self.model_fields_set and self.completed is None:
            raise ValueError("completed must not be null")
        return self


class TaskComplete(Strict):
    completed: bool = True


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime


# --- chat ---------------------------------------------------------------------------------------
class ChatRequest(Strict):
    conversation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), AfterValidator(no_nul)]


class ToolCall(BaseModel):
    name: str
    arguments: dict[str, Any]
    result: Any


class ChatResponse(BaseModel):
    conversation_id: int
    response: str
    tool_calls: list[ToolCall]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCall] | None
    created_at: datetime


class ConversationOut(BaseModel):
    id: int
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut]


class Problem(BaseModel):
    detail: str
