"""Registration and login."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from todo_api.deps import SessionDep
from todo_api.models import User
from todo_api.ratelimit import AuthLimits, SlidingWindowLimiter
from todo_api.schemas import LoginRequest, LoginResponse, Problem, RegisterRequest, RegisterResponse
from todo_api.security import create_token, hash_password, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOO_MANY = {429: {"model": Problem, "description": "Too many attempts; the Retry-After header says when to retry"}}


def _address(request: Request) -> str:
    # uvicorn puts X-Forwarded-For's address here only for trusted proxies (FORWARDED_ALLOW_IPS,
    # default 127.0.0.1); behind the frontend it is the frontend replica's address.
    return request.client.host if request.client else "unknown"


def _check(*limits: tuple[SlidingWindowLimiter, object]) -> None:
    """429 with Retry-After when any of the limiters has no room for the key, checked before any hashing."""
    wait = max(limiter.retry_after(key) for limiter, key in limits)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many attempts: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )


def _limits(request: Request) -> AuthLimits:
    return request.app.state.auth_limits


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    responses={409: {"model": Problem, "description": "The email is already registered"}, **TOO_MANY},
)
def register(body: RegisterRequest, session: SessionDep, request: Request) -> RegisterResponse:
    limits, address = _limits(request), _address(request)
    account = (address, body.email)
    _check((limits.account, account), (limits.sign_ups, address))
    limits.account.hit(account)
    limits.sign_ups.hit(address)
    # 409 tells whether an email is registered; kept on purpose (DEPLOYMENT.md, "Accounts"): without
    # email verification a generic answer would leave people unable to tell "sign in instead" from
    # "it worked", and the limits above bound how fast anyone can probe.
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
    responses={401: {"model": Problem, "description": "Wrong email or password"}, **TOO_MANY},
)
def login(body: LoginRequest, session: SessionDep, request: Request) -> LoginResponse:
    email = body.email.strip().lower()
    limits, address = _limits(request), _address(request)
    account = (address, email)
    # Only failures count: a person who signs in often is never limited, a guesser is.
    _check((limits.account, account), (limits.failed_logins, address))
    user = session.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, body.password) or user is None:
        limits.account.hit(account)
        limits.failed_logins.hit(address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid email or password")
    limits.account.reset(account)
    token = create_token(request.app.state.settings.jwt_secret.get_secret_value(), user.id)
    return LoginResponse(access_token=token, user_id=user.id)
