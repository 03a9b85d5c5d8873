"""Sign-in and sign-up limits: repeated attempts at one account are 429 with Retry-After, while a burst
of distinct accounts from one address (the load test's 100 sign-ups in 10 s) passes.

The test client connects from 127.0.0.1, the one proxy uvicorn trusts by default, so X-Forwarded-For
gives each test an address of its own (and keeps these floods away from the other tests' 127.0.0.1).
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from backend_support import ApiUser
from todo_api.ratelimit import (
    ACCOUNT_ATTEMPTS_PER_MINUTE,
    ADDRESS_FAILED_LOGINS_PER_MINUTE,
    ADDRESS_SIGN_UPS_PER_MINUTE,
    SlidingWindowLimiter,
)

from harness import contract


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert response.json() == {"detail": f"too many attempts: try again in {wait} seconds"}


# --- the limiter itself, on a clock the test moves ----------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_allows_limit_events_then_says_when_to_retry() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("k") == 0
        limiter.hit("k")
        clock.now += 10
    assert limiter.retry_after("k") == 30  # now 1030; the first event (at 1000) leaves the window at 1060
    assert limiter.retry_after("other") == 0
    clock.now += 30
    assert limiter.retry_after("k") == 0
    limiter.hit("k")
    assert limiter.retry_after("k") == 10  # the event at 1010 leaves at 1070
    limiter.reset("k")
    assert limiter.retry_after("k") == 0


def test_invented_keys_cannot_grow_the_limiter_without_bound() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(5, clock=clock, max_keys=100)
    for i in range(10_000):
        limiter.hit(("addr", f"user-{i}@example.com"))
    assert len(limiter._events) <= 100


def test_the_defaults_let_the_load_tests_burst_through() -> None:
    # 100 users, each one sign-up and one successful log in, from the load generator's one address.
    assert ADDRESS_SIGN_UPS_PER_MINUTE >= 2 * contract.LOAD_USERS
    assert ACCOUNT_ATTEMPTS_PER_MINUTE == 10


# --- through HTTP -------------------------------------------------------------------------------------
def test_repeated_failed_logins_at_one_account_are_429_with_retry_after(client: httpx.Client,
                                                                        user: ApiUser) -> None:
    here = from_address("203.0.113.10")
    for _ in range(ACCOUNT_ATTEMPTS_PER_MINUTE):
        wrong = client.post("/api/auth/login", json={"email": user.email, "password": "wrong guess"}, headers=here)
        assert wrong.status_code == 401
    assert_limited(client.post("/api/auth/login", json={"email": user.email, "password": "another guess"},
                               headers=here))
    # While limited even the right password waits: the guesser cannot tell a hit from a miss.
    assert_limited(client.post("/api/auth/login", json={"email": user.email, "password": user.password},
                               headers=here))
    # The limit is per address and account: the owner elsewhere, and other accounts here, are unaffected.
    elsewhere = client.post("/api/auth/login", json={"email": user.email, "password": user.password},
                            headers=from_address("203.0.113.11"))
    assert elsewhere.status_code == 200
    other = client.post("/api/auth/login", json={"email": "other-" + user.email, "password": "x"}, headers=here)
    assert other.status_code == 401


def test_successful_logins_are_not_counted(client: httpx.Client, user: ApiUser) -> None:
    here = from_address("203.0.113.12")
    for _ in range(ACCOUNT_ATTEMPTS_PER_MINUTE + 5):
        response = client.post("/api/auth/login", json={"email": user.email, "password": user.password}, headers=here)
        assert response.status_code == 200


def test_repeated_sign_ups_of_one_email_are_429(client: httpx.Client) -> None:
    here = from_address("203.0.113.13")
    body = {"email": f"again-{secrets.token_hex(4)}@example.com", "password": "long enough password"}
    statuses = [client.post("/api/auth/register", json=body, headers=here).status_code
                for _ in range(ACCOUNT_ATTEMPTS_PER_MINUTE)]
    assert statuses == [201] + [409] * (ACCOUNT_ATTEMPTS_PER_MINUTE - 1)
    assert_limited(client.post("/api/auth/register", json=body, headers=here))


def test_failed_logins_over_many_emails_from_one_address_are_429(client: httpx.Client) -> None:
    here = from_address("203.0.113.14")

    def attempt(i: int) -> int:
        return client.post("/api/auth/login", json={"email": f"nobody-{i}@example.com", "password": "guess"},
                           headers=here).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(ADDRESS_FAILED_LOGINS_PER_MINUTE)))
    assert statuses == [401] * ADDRESS_FAILED_LOGINS_PER_MINUTE
    assert_limited(client.post("/api/auth/login", json={"email": "nobody-new@example.com", "password": "guess"},
                               headers=here))


@pytest.mark.timeout(180)
def test_a_burst_of_distinct_accounts_from_one_address_passes(client: httpx.Client) -> None:
    """The load test's shape: 100 people sign up and log in from one address within seconds."""
    here = from_address("203.0.113.15")
    tag = secrets.token_hex(3)

    def sign_up_and_in(i: int) -> tuple[int, int]:
        body = {"email": f"load-{tag}-{i}@example.test", "password": f"password-{i}-{tag}"}
        created = client.post("/api/auth/register", json={**body, "name": "Load"}, headers=here)
        login = client.post("/api/auth/login", json=body, headers=here)
        return created.status_code, login.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(sign_up_and_in, range(contract.LOAD_USERS)))
    assert results == [(201, 200)] * contract.LOAD_USERS
