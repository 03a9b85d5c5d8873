"""Registration and login."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from todo_api.deps import SessionDep
from todo_api.models import User
from todo_api.schemas import LoginRequest, LoginResponse, Problem, RegisterRequest, RegisterResponse
from todo_api.security import create_token, hash_password, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    responses={409: {"model": Problem, "description": "The email is already registered"}},
)
def register(body: RegisterRequest, session: SessionDep) -> RegisterResponse:
    taken = HTTPException(status.HTTP_409_CONFLICT, "email already registered")
    if session.scalar(select(User.id).where(User.email == body.email)) is not None:
        raise taken
    user = User(email=body.email, name=body.name or None, password_hash=hash_password(body.password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        raise taken from None
    return RegisterResponse(id=user.id, email=user.email)


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={401: {"model": Problem, "description": "Wrong email or password"}},
)
def login(body: LoginRequest, session: SessionDep, request: Request) -> LoginResponse:
    user = session.scalar(select(User).where(User.email == body.email.strip().lower()))
    if not verify_password(user.password_hash if user else None, body.password) or user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid email or password")
    token = create_token(request.app.state.settings.jwt_secret.get_secret_value(), user.id)
    return LoginResponse(access_token=token, user_id=user.id)
