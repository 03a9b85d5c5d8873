"""Password hashing (argon2id) and access tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_ALGORITHM = "HS256"
TOKEN_LIFETIME = timedelta(hours=24)
# Who issued a token and for whom: a token signed with the same key for another purpose (another
# service sharing JWT_SECRET, a future token type) is not a login token for this API.
TOKEN_ISSUER = "todo-api"
TOKEN_AUDIENCE = "todo-frontend"

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). The library's
# default takes 64 MiB per hash, and FastAPI runs sync handlers on up to 40 threads: a
# burst of sign-ups (the load test's 100 users) needed gigabytes and the pods were
# OOM-killed at their 384Mi limit. Hashes made with other parameters still verify
# (the parameters are stored in the hash).
#
# Hashing runs on two dedicated threads, not on the request's thread: glibc gives each
# thread its own malloc arena and keeps freed 19 MiB buffers in it, so 40 hashing
# threads would still hold ~400 MiB after the burst; two threads hold at most 38 MiB.
#
# The hashing threads also run at a lower priority (nice 10; on Linux nice is per thread). A
# burst of sign-ups is CPU-bound and the container's CPU limit is shared by all its threads:
# at equal priority the burst took most of the quota and every signed-in request behind it
# waited (signed-in p95 2.4 s in a 100-user run). Lowered, the request threads go first and
# the hashes use what is left, so a sign-up waits a little longer instead of everyone.
HASH_MEMORY_KIB = 19 * 1024
HASH_THREADS = 2
HASH_NICE = 10


def _lower_priority() -> None:
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + HASH_NICE))
    except (AttributeError, OSError):  # not Linux, or not allowed: hash at normal priority
        pass


_hasher = PasswordHasher(time_cost=2, memory_cost=HASH_MEMORY_KIB, parallelism=1)
_hashing = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2", initializer=_lower_priority)
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hashing.submit(_hasher.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hashing.submit(_hasher.verify, password_hash or _DUMMY_HASH, password).result()
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# The routes await the hashing threads instead of blocking one of FastAPI's worker threads on
# them: in a burst of sign-ups, requests waiting for a hash held up to all 40 worker threads and
# every signed-in request queued behind them for a thread (issue 15).
async def hash_password_async(password: str) -> str:
    return await asyncio.wrap_future(_hashing.submit(_hasher.hash, password))


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    try:
        matches = await asyncio.wrap_future(_hashing.submit(_hasher.verify, password_hash or _DUMMY_HASH, password))
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (older or weaker ones):
    the login that just verified it stores a fresh one, so every account moves to the current
    parameters without a reset."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def create_token(secret: str, user_id: str) -> str:
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


class InvalidToken(Exception):
    pass


# Tokens verified recently: token → (subject, expiry). Every signed-in request carries the same
# token, and checking its signature and claims again (PyJWT prepares the key, parses and checks
# the claims each time) was a visible share of a request's CPU. Only tokens that passed every
# check are kept, with their own expiry, which is checked on every use; the key includes the
# secret, so a token is never accepted under a secret other than the one that verified it.
# Bounded: when full it is emptied (the tokens are then simply verified again).
_VERIFIED_MAX = 10_000
_verified: dict[tuple[str, str], tuple[str, float]] = {}


def token_subject(secret: str, token: str) -> str:
    """The user id a valid token was issued to; :class:`InvalidToken` otherwise."""
    known = _verified.get((secret, token))
    if known is not None and time.time() < known[1]:
        return known[0]
    subject, expires = _verify(secret, token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[(secret, token)] = (subject, expires)
    return subject


def _verify(secret: str, token: str) -> tuple[str, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            audience=TOKEN_AUDIENCE,
            options={"require": ["sub", "exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    return subject, float(claims["exp"])
