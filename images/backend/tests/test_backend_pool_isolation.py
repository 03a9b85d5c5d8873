"""Slow work holds no database connection (security review, issue 16): a chat waiting for the model,
sign-ups and sign-ins waiting for argon2, and /readyz under a burst. The process runs with a pool of
ONE connection (DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0), so anything that held it would block the rest."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from backend_support import FakeOpenAI, backend, register_and_login

from harness.testkit.postgres import LocalPostgres

pytestmark = pytest.mark.timeout(240)

ONE_CONNECTION = {"DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0"}
# The chart's readiness probe gives /readyz 5 s (timeoutSeconds); the backend answers within 3 s.
PROBE_TIMEOUT_SECONDS = 5.0


def _idle_in_transaction(postgres_server: LocalPostgres, database: str) -> int:
    return int(postgres_server.psql(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND state = 'idle in transaction'"
    ))


def test_a_slow_model_does_not_block_another_users_task_list(postgres_server: LocalPostgres,
                                                             fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 12.0  # longer than the pool's 10 s checkout timeout
    database = postgres_server.create_database()
    with backend(database.url, name="todo-api-pool-1", CHAT_PROVIDER="openai", OPENAI_API_KEY="sk-test",
                 OPENAI_BASE_URL=fake_openai.url, OPENAI_ALLOW_HTTP="true", **ONE_CONNECTION) as server:
        chatter, reader = register_and_login(server.url), register_and_login(server.url)
        outcome: dict[str, httpx.Response] = {}

        def chat() -> None:
            outcome["chat"] = httpx.post(f"{server.url}/api/{chatter.id}/chat", json={"message": "list"},
                                         headers=chatter.headers, timeout=60)

        thread = threading.Thread(target=chat)
        thread.start()
        assert fake_openai.received.wait(timeout=20), "the chat never reached the model"
        # While the model thinks: no transaction left open, and the other user is served at once.
        assert _idle_in_transaction(postgres_server, database.name) == 0
        started = time.monotonic()
        tasks = httpx.get(f"{server.url}/api/{reader.id}/tasks", headers=reader.headers, timeout=30)
        took = time.monotonic() - started
        assert tasks.status_code == 200, tasks.text
        assert took < 2.0, f"the task list waited {took:.1f} s behind the chat"
        thread.join(timeout=60)
        # The chat still completes: the tool call (list_tasks) and both messages in short sessions.
        assert outcome["chat"].status_code == 200, outcome["chat"].text
        assert outcome["chat"].json()["tool_calls"][0]["name"] == "list_tasks"


def test_readyz_answers_while_logins_are_hashing(postgres_server: LocalPostgres) -> None:
    with backend(postgres_server.create_database().url, name="todo-api-burst", **ONE_CONNECTION) as server:
        user = register_and_login(server.url)
        burst = 120  # > FastAPI's 40 worker threads, all queued on the two argon2 threads
        with ThreadPoolExecutor(burst) as pool, httpx.Client(timeout=120) as http:
            # The right password: every login is verified (hashed) and none counts as a failure. Each
            # from an address of its own (X-Forwarded-For, trusted from 127.0.0.1): attempts at one
            # account from one client are reserved before hashing, at most 10 at a time (issue 27).
            logins = [pool.submit(http.post, f"{server.url}/api/auth/login",
                                  json={"email": user.email, "password": user.password},
                                  headers={"X-Forwarded-For": f"10.9.{i // 200}.{i % 200 + 1}"})
                      for i in range(burst)]
            time.sleep(0.5)  # the burst is in: the thread pool is full, the hashing queue long
            # Judged while the probes run, not after: a fast machine may finish the burst soon after.
            pending = sum(not f.done() for f in logins)
            latencies = []
            for _ in range(5):
                started = time.monotonic()
                ready = httpx.get(f"{server.url}/readyz", timeout=PROBE_TIMEOUT_SECONDS)
                latencies.append(time.monotonic() - started)
                assert ready.status_code == 200, ready.text
                time.sleep(0.2)
            statuses = [f.result().status_code for f in logins]
        print(f"/readyz latencies under a {burst}-login burst: {[round(x, 3) for x in latencies]}; "
              f"{pending} logins pending when the probes began")
        assert pending > 0, "the burst was over before the probes: the test proved nothing"
        assert max(latencies) < PROBE_TIMEOUT_SECONDS
        assert statuses == [200] * burst


def test_register_and_login_hold_no_connection_while_hashing(postgres_server: LocalPostgres) -> None:
    """With one connection, concurrent sign-ups all succeed: none keeps the connection while queued for argon2."""
    with backend(postgres_server.create_database().url, name="todo-api-signups", **ONE_CONNECTION) as server:
        def sign_up(_: int) -> int:
            body = {"email": f"burst-{secrets.token_hex(5)}@example.com", "password": secrets.token_urlsafe(12)}
            return httpx.post(f"{server.url}/api/auth/register", json=body, timeout=120).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(sign_up, range(8))) == [201] * 8


def test_a_chat_past_its_deadline_is_504_and_leaves_no_open_transaction(postgres_server: LocalPostgres,
                                                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 5.0
    database = postgres_server.create_database()
    with backend(database.url, name="todo-api-deadline", CHAT_PROVIDER="openai", OPENAI_API_KEY="sk-test",
                 OPENAI_BASE_URL=fake_openai.url, OPENAI_ALLOW_HTTP="true", CHAT_DEADLINE_SECONDS="2", **ONE_CONNECTION) as server:
        user = register_and_login(server.url)
        started = time.monotonic()
        response = httpx.post(f"{server.url}/api/{user.id}/chat", json={"message": "hello"},
                              headers=user.headers, timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 504, response.text
        assert response.json() == {"detail": "the chat took longer than CHAT_DEADLINE_SECONDS (2 s): "
                                             "the model did not finish in time; please try again"}
        assert took < 4.0, f"the 504 came after {took:.1f} s"
        assert _idle_in_transaction(postgres_server, database.name) == 0
        # Nothing of the turn is stored, and the one connection is free for the next request.
        assert postgres_server.psql("SELECT count(*) FROM conversations", database=database.name) == "0"
        tasks = httpx.get(f"{server.url}/api/{user.id}/tasks", headers=user.headers, timeout=5)
        assert tasks.status_code == 200
