"""Sign-in and sign-up limits: repeated attempts at one account are 429 with Retry-After, while a burst
of distinct accounts from one address (the load test's 100 sign-ups in 10 s) passes. Behind the
frontend the limits are keyed on the client it saw (X-Todo-Client, believed only with PROXY_TOKEN), so
one client's flood locks nobody else out (issue 27).

The test client connects from 127.0.0.1, the one proxy uvicorn trusts by default, so X-Forwarded-For
gives each test an address of its own (and keeps these floods away from the other tests' 127.0.0.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from backend_support import ApiUser, backend, register_and_login
from todo_api.ratelimit import (
    ACCOUNT_ATTEMPTS_PER_MINUTE,
    ADDRESS_FAILED_LOGINS_PER_MINUTE,
    ADDRESS_SIGN_UPS_PER_MINUTE,
    BackoffLimiter,
    SlidingWindowLimiter,
)

from harness import contract
from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess


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


# --- issue 27: keyed on the real caller, backoff per account, reserved before verifying ----------------
def test_backoff_gives_free_failures_then_doubles_the_wait_and_a_success_forgets() -> None:
    clock = Clock()
    limiter = BackoffLimiter(3, base=2, cap=10, clock=clock)
    for _ in range(3):
        assert limiter.acquire("k") == 0
        limiter.failed("k")
    assert limiter.acquire("k") == 2  # the third failure started a 2 s wait
    clock.now += 2
    assert limiter.acquire("k") == 0
    limiter.failed("k")
    assert limiter.acquire("k") == 4  # doubled
    clock.now += 4
    assert limiter.acquire("k") == 0
    limiter.failed("k")
    clock.now += 8
    assert limiter.acquire("k") == 0
    limiter.failed("k")
    assert limiter.acquire("k") == 10  # capped
    assert limiter.acquire("other") == 0  # nobody else waits
    clock.now += 10
    assert limiter.acquire("k") == 0
    limiter.succeeded("k")
    for _ in range(3):
        assert limiter.acquire("k") == 0  # forgotten: free attempts again
        limiter.failed("k")


def test_reserved_attempts_cannot_overrun_the_free_ones() -> None:
    limiter = BackoffLimiter(3, clock=Clock())
    assert [limiter.acquire("k") for _ in range(5)] == [0, 0, 0, 1, 1]  # three in flight, the rest wait
    limiter.release("k")
    assert limiter.acquire("k") == 0
    window = SlidingWindowLimiter(2, clock=Clock())
    assert [window.acquire("k") for _ in range(3)] == [0, 0, 60]


@pytest.mark.timeout(180)
def test_parallel_wrong_passwords_for_one_account_get_at_most_the_limit_of_401s(client: httpx.Client,
                                                                                 user: ApiUser) -> None:
    """Check, then verify, then record let 60 parallel guesses all be verified; reserved first, at most
    the free attempts are verified and every other one is 429."""
    here = from_address("203.0.113.20")

    def guess(i: int) -> int:
        return client.post("/api/auth/login", json={"email": user.email, "password": f"wrong guess {i}"},
                           headers=here).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(guess, range(60)))
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= ACCOUNT_ATTEMPTS_PER_MINUTE, statuses
    assert statuses.count(429) >= 60 - ACCOUNT_ATTEMPTS_PER_MINUTE


PROXY_TOKEN = secrets.token_hex(32)


@pytest.fixture(scope="module")
def proxied(postgres_server: LocalPostgres) -> Iterator[ServerProcess]:
    """A backend behind "the frontend": it believes X-Todo-Client only with the PROXY_TOKEN."""
    with backend(postgres_server.create_database().url, PROXY_TOKEN=PROXY_TOKEN) as server:
        yield server


def via_frontend(client_address: str, token: str = PROXY_TOKEN) -> dict[str, str]:
    # Every request comes from one peer (the test's, as the frontend pod's would); X-Forwarded-For pins it.
    return {"X-Forwarded-For": "198.51.100.7", "X-Todo-Client": client_address, "X-Todo-Proxy-Token": token}


@pytest.mark.timeout(240)
def test_a_flood_from_one_client_behind_the_frontend_locks_nobody_else_out(proxied: ServerProcess) -> None:
    """Keyed on the frontend's address, a few hundred bad log-ins made every log-in 429; keyed on the
    client the frontend saw, the flooding client is limited and another client signs in."""
    owner = register_and_login(proxied.url)
    with httpx.Client(base_url=proxied.url, timeout=60) as http:
        flood = via_frontend("192.0.2.66")

        def bad(i: int) -> int:
            email = owner.email if i % 10 == 0 else f"nobody-{i}@example.com"  # the owner's account too
            return http.post("/api/auth/login", json={"email": email, "password": "guess"}, headers=flood).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(bad, range(ADDRESS_FAILED_LOGINS_PER_MINUTE + 30)))
        right = http.post("/api/auth/login", json={"email": owner.email, "password": owner.password},
                          headers=via_frontend("192.0.2.77"))
        assert right.status_code == 200, right.text
        assert statuses.count(429) >= 30, statuses  # the flooding client is limited
        assert set(statuses) <= {401, 429}
        # The flooder stays limited whatever address it claims without the token.
        forged = http.post("/api/auth/login", json={"email": "nobody-x@example.com", "password": "guess"},
                           headers=via_frontend("192.0.2.99", token="f" * 64))
        assert forged.status_code in (401, 429)


def test_the_client_header_is_ignored_without_the_proxy_token(proxied: ServerProcess) -> None:
    """Anyone can send X-Todo-Client: believed without the token, it would hand every guess a fresh key."""
    owner = register_and_login(proxied.url)
    with httpx.Client(base_url=proxied.url, timeout=60) as http:
        statuses = [http.post("/api/auth/login", json={"email": owner.email, "password": f"guess {i}"},
                              headers={"X-Forwarded-For": "198.51.100.8", "X-Todo-Client": f"192.0.2.{i + 1}"}
                              ).status_code
                    for i in range(ACCOUNT_ATTEMPTS_PER_MINUTE + 1)]
    assert statuses == [401] * ACCOUNT_ATTEMPTS_PER_MINUTE + [429]
