"""FastAPI dependencies: settings, the database session, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from todo_api.models import User
from todo_api.security import InvalidToken, token_subject
from todo_api.settings import Settings

bearer = HTTPBearer(auto_error=False, description="The access_token from POST /api/auth/login")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "missing or invalid access token", headers={"WWW-Authenticate": "Bearer"}
)
NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")


def token_user_id(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UNAUTHORIZED
    try:
        return token_subject(request.app.state.settings.jwt_secret.get_secret_value(), credentials.credentials)
    except InvalidToken:
        raise UNAUTHORIZED from None


def owner(
    request: Request,
    user_id: Annotated[str, Path(max_length=64, description="Must be the id of the token's user")],
    subject: Annotated[str, Depends(token_user_id)],
) -> str:
    """The path's user, who must be the token's subject; anything else is 404 (no existence leak).

    Checked in a short session of its own, returned to the pool at once: the request's SessionDep
    lives until the response is sent, and the chat route must hold no connection while the model
    thinks.
    """
    if user_id != subject:
        raise NOT_FOUND
    with request.app.state.sessionmaker() as session:
        if session.get(User, subject) is None:
            raise NOT_FOUND
    return subject


OwnerDep = Annotated[str, Depends(owner)]
