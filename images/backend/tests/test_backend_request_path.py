"""Behaviour kept or added by the cheaper request path (issue 15): one database hop per route, the
owner check inside it, remembered token verifications, re-hashing old passwords at login, the
collector's tuning. Speed itself is measured by images/backend/bench/bench_cpu.py, never asserted."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg
import pytest
from argon2 import PasswordHasher
from backend_support import ApiUser, backend, register_and_login

from harness.testkit.postgres import LocalPostgres
from harness.testkit.server_process import ServerProcess


def _sql(api: ServerProcess, statement: str, *params: object) -> list[tuple]:
    url = api.env["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def test_a_token_of_a_user_that_no_longer_exists_is_404_on_every_route(
    api: ServerProcess, client: httpx.Client, user: ApiUser
) -> None:
    """The owner's existence is checked inside the route's own session now; still checked everywhere."""
    task = client.post(f"/api/{user.id}/tasks", json={"title": "soon gone"}, headers=user.headers)
    assert task.status_code == 201
    chat = client.post(f"/api/{user.id}/chat", json={"message": "Show me all my tasks"}, headers=user.headers)
    assert chat.status_code == 200
    conversation = chat.json()["conversation_id"]
    _sql(api, "DELETE FROM users WHERE id = %s", user.id)
    task_url = f"/api/{user.id}/tasks/{task.json()['id']}"
    answers = {
        "list": client.get(f"/api/{user.id}/tasks", headers=user.headers),
        "create": client.post(f"/api/{user.id}/tasks", json={"title": "x"}, headers=user.headers),
        "get": client.get(task_url, headers=user.headers),
        "update": client.put(task_url, json={"title": "y"}, headers=user.headers),
        "complete": client.patch(f"{task_url}/complete", headers=user.headers),
        "delete": client.delete(task_url, headers=user.headers),
        "new chat": client.post(f"/api/{user.id}/chat", json={"message": "Add a task to x"}, headers=user.headers),
        "chat": client.post(f"/api/{user.id}/chat", json={"message": "Add a task to x", "conversation_id": conversation},
                            headers=user.headers),
        "conversation": client.get(f"/api/{user.id}/conversations/{conversation}", headers=user.headers),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert _sql(api, "SELECT count(*) FROM tasks WHERE user_id = %s", user.id) == [(0,)]


def test_another_users_path_is_404(client: httpx.Client, user: ApiUser,
                                                            other_user: ApiUser) -> None:
    for response in (
        client.get(f"/api/{other_user.id}/tasks", headers=user.headers),
        client.post(f"/api/{other_user.id}/chat", json={"message": "Show me all my tasks"}, headers=user.headers),
    ):
        assert response.status_code == 404


def test_a_login_rehashes_a_password_stored_with_older_parameters(
    api: ServerProcess, client: httpx.Client, user: ApiUser
) -> None:
    from todo_api import security

    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(user.password)
    _sql(api, "UPDATE users SET password_hash = %s WHERE id = %s", old, user.id)
    login = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 200
    [(stored,)] = _sql(api, "SELECT password_hash FROM users WHERE id = %s", user.id)
    assert stored != old and not security.needs_rehash(stored)
    assert f"m={security.HASH_MEMORY_KIB},t=2,p=1" in stored
    # The fresh hash is the same password: the next login works and leaves it alone.
    again = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert again.status_code == 200
    assert _sql(api, "SELECT password_hash FROM users WHERE id = %s", user.id) == [(stored,)]


def test_a_wrong_password_never_rehashes(api: ServerProcess, client: httpx.Client, user: ApiUser) -> None:
    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(user.password)
    _sql(api, "UPDATE users SET password_hash = %s WHERE id = %s", old, user.id)
    login = client.post("/api/auth/login", json={"email": user.email, "password": user.password + "x"})
    assert login.status_code == 401
    assert _sql(api, "SELECT password_hash FROM users WHERE id = %s", user.id) == [(old,)]


def _token(secret: str, subject: str, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": subject, "iss": "todo-api", "aud": "todo-frontend", "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_remembered_token_still_expires() -> None:
    from todo_api import security

    secret = "s" * 64
    token = _token(secret, "user-1", timedelta(seconds=2))
    assert security.token_subject(secret, token) == "user-1"
    assert security.token_subject(secret, token) == "user-1"  # the remembered answer
    time.sleep(2.5)
    with pytest.raises(security.InvalidToken):
        security.token_subject(secret, token)


def test_a_remembered_token_is_not_valid_under_another_secret() -> None:
    from todo_api import security

    token = _token("a" * 64, "user-2", timedelta(hours=1))
    assert security.token_subject("a" * 64, token) == "user-2"
    with pytest.raises(security.InvalidToken):
        security.token_subject("b" * 64, token)


def test_a_refused_token_is_not_remembered() -> None:
    from todo_api import security

    token = _token("a" * 64, "user-3", timedelta(hours=1))
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(2):
        with pytest.raises(security.InvalidToken):
            security.token_subject("a" * 64, tampered)


def test_the_server_raises_the_collectors_threshold_and_freezes_start_up_objects() -> None:
    script = (
        "import gc; from todo_api.__main__ import GC_THRESHOLD, tune_gc; tune_gc(); "
        "assert gc.get_threshold()[0] == GC_THRESHOLD, gc.get_threshold(); assert gc.get_freeze_count() > 0"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.mark.timeout(180)
def test_pooled_connections_that_died_while_idle_are_replaced_not_failed() -> None:
    """The pool pings a connection only after it idled (db.PING_AFTER_IDLE_SECONDS), not at every
    checkout; a PostgreSQL restart while the pool idles still costs no request."""
    from todo_api.db import PING_AFTER_IDLE_SECONDS

    with LocalPostgres() as postgres, backend(postgres.create_database().url, name="todo-api-ping") as api:
        user = register_and_login(api.url)
        with httpx.Client(base_url=api.url, timeout=30) as http:
            # The pool now holds a connection, which the restart kills while it idles.
            for _ in range(3):
                assert http.get(f"/api/{user.id}/tasks", headers=user.headers).status_code == 200
            postgres.stop()
            postgres.restart()
            time.sleep(PING_AFTER_IDLE_SECONDS + 0.5)
            answers = [http.get(f"/api/{user.id}/tasks", headers=user.headers).status_code for _ in range(5)]
            answers.append(http.post(f"/api/{user.id}/tasks", json={"title": "after"}, headers=user.headers).status_code)
    assert answers == [200] * 5 + [201]


def test_a_pooled_connection_goes_back_to_the_pool_out_of_autocommit(postgres_server: LocalPostgres) -> None:
    """db.pooled_connection hands out the pool's connections in autocommit; the ORM Sessions on the
    same pool (sign-up, PUT) rely on transactions, so each goes back with autocommit off, also
    after a failed statement."""
    from sqlalchemy import text
    from todo_api.db import make_engine, make_sessionmaker, pooled_connection

    engine = make_engine(postgres_server.create_database().url, pool_size=1, max_overflow=0)
    try:
        with pooled_connection(engine) as connection:
            assert connection.autocommit
            connection.execute("CREATE TABLE t (n int)")
        with pytest.raises(psycopg.errors.UndefinedTable), pooled_connection(engine) as connection:
            connection.execute("SELECT * FROM missing")
        with make_sessionmaker(engine)() as session:  # the same, only connection (pool_size=1)
            assert not session.connection().connection.driver_connection.autocommit
            session.execute(text("INSERT INTO t VALUES (1)"))
            session.rollback()
            assert session.scalar(text("SELECT count(*) FROM t")) == 0
    finally:
        engine.dispose()
