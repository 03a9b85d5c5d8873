"""Registration and login."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from todo_api.caller import client_address
from todo_api.deps import in_thread
from todo_api.models import User
from todo_api.ratelimit import AuthLimits
from todo_api.schemas import LoginRequest, LoginResponse, Problem, RegisterRequest, RegisterResponse
from todo_api.security import create_token, hash_password_async, needs_rehash, verify_password_async

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOO_MANY = {429: {"model": Problem, "description": "Too many attempts; the Retry-After header says when to retry"}}


def too_many(wait: int, what: str = "attempts") -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many {what}: try again in {wait} seconds",
        headers={"Retry-After": str(wait)},
    )


# Neither route holds a database connection while argon2 runs (tens to hundreds of ms each, queued
# behind the two hashing threads in a burst): read what is needed in one short session, release it,
# hash, then write in another. Holding it, a burst of sign-ups took the whole pool and every other
# request waited for a connection. The routes are async: the limiter checks and the token run on
# the event loop, the database work is one hop to the thread pool each, and the hash is awaited
# (security.hash_password_async), holding no worker thread either.


def _limits(request: Request) -> AuthLimits:
    return request.app.state.auth_limits


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    responses={409: {"model": Problem, "description": "The email is already registered"}, **TOO_MANY},
)
async def register(body: RegisterRequest, request: Request) -> RegisterResponse:
    limits, address = _limits(request), client_address(request)
    # Reserved (checked and counted in one step) before any work: parallel sign-ups cannot overrun it.
    wait = limits.account_sign_ups.acquire((address, body.email))
    if not wait:
        wait = limits.sign_ups.acquire(address)
        if wait:
            limits.account_sign_ups.forgive((address, body.email))
    if wait:
        raise too_many(wait)
    # 409 tells whether an email is registered; kept on purpose (DEPLOYMENT.md, "Accounts"): without
    # email verification a generic answer would leave people unable to tell "sign in instead" from
    # "it worked", and the limits above bound how fast anyone can probe.
    taken = HTTPException(status.HTTP_409_CONFLICT, "email already registered")
    factory = request.app.state.sessionmaker

    def registered() -> bool:
        with factory() as session:
            return session.scalar(select(User.id).where(User.email == body.email)) is not None

    if await in_thread(registered):
        raise taken
    password_hash = await hash_password_async(body.password)  # no connection held

    def store() -> RegisterResponse:
        with factory() as session:
            user = User(email=body.email, name=body.name or None, password_hash=password_hash)
            session.add(user)
            try:
                session.commit()
            except IntegrityError:  # registered by a concurrent request meanwhile
                raise taken from None
            return RegisterResponse(id=user.id, email=user.email)

    return await in_thread(store)


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={401: {"model": Problem, "description": "Wrong email or password"}, **TOO_MANY},
)
async def login(body: LoginRequest, request: Request) -> LoginResponse:
    email = body.email.strip().lower()
    limits, address = _limits(request), client_address(request)
    # Keyed on the caller (todo_api.caller) and the account: a guesser is slowed on that account
    # (backoff), and nobody else is locked out of it. Both limits are reserved before the password
    # is verified, so parallel guesses cannot all pass one check (issue 27); only failures stay counted.
    account = (address, email)
    wait = limits.account.acquire(account)
    if wait:
        raise too_many(wait)
    wait = limits.failed_logins.acquire(address)
    if wait:
        limits.account.release(account)
        raise too_many(wait)
    factory = request.app.state.sessionmaker

    def find() -> User | None:
        with factory() as session:
            return session.scalar(select(User).where(User.email == email))

    try:
        user = await in_thread(find)
        # The session is closed (its connection back in the pool) before the hash is verified.
        verified = await verify_password_async(user.password_hash if user else None, body.password)
    except BaseException:
        limits.account.release(account)
        limits.failed_logins.forgive(address)
        raise
    if not verified or user is None:
        limits.account.failed(account)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid email or password")
    limits.account.succeeded(account)
    limits.failed_logins.forgive(address)
    if needs_rehash(user.password_hash):
        # Made with older parameters: store one with today's, now that the password is known.
        fresh = await hash_password_async(body.password)

        def rehash() -> None:
            with factory() as session:
                session.execute(
                    update(User).where(User.id == user.id, User.password_hash == user.password_hash)
                    .values(password_hash=fresh)
                )
                session.commit()

        await in_thread(rehash)
    token = create_token(request.app.state.settings.jwt_secret.get_secret_value(), user.id)
    return LoginResponse(access_token=token, user_id=user.id)
