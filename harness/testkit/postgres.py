"""Throwaway PostgreSQL for the tests: one :class:`Database` (connection facts), one ``psql``
command line, and the three places a test database runs.

* :class:`LocalPostgres` — a server from Debian's binaries on a free loopback port, for the
  applications' tests and the end-to-end tests (no Docker). PostgreSQL refuses to run as root,
  so under root (CI) it runs as the unprivileged `postgres` account Debian's package creates.
* a container next to the chart's pods on Docker — started by ``harness.stack`` with
  testcontainers, queried with :func:`psql_argv` through ``docker exec``;
* a Deployment in a cluster namespace — :func:`deploy_in_cluster` / :func:`psql_in_cluster`.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core import processes
from harness.core.lifecycle import Managed
from harness.core.net import free_port
from harness.core.wait import network_error, wait_for
from harness.deploy import k8s

INSTALL_HINT = ("PostgreSQL server binaries (initdb) not found: "
                + ("brew install postgresql@17 (keg-only: found under $(brew --prefix)/opt/postgresql@17/bin)"
                   if sys.platform == "darwin" else "sudo apt-get install postgresql")
                + ", or set PG_BINDIR to the folder holding initdb")
# Where initdb is looked for after $PG_BINDIR: Debian's versioned folders (newest first), PATH, then
# Homebrew's keg-only formulae (not linked onto PATH) and Postgres.app (scripts/setup-system.sh
# searches the same places).
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
MAC_BINDIRS = ("/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin",
               "/Applications/Postgres.app/Contents/Versions/latest/bin")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; the message says how to install them."""


def _newest_first(pattern: str) -> list[str]:
    """The folders matching ``pattern``, the highest version (the digits in the path) first."""
    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path))
    return sorted(glob.glob(pattern), key=version, reverse=True)


def find_bindir() -> Path:
    """PG_BINDIR (and only it when set), else the first folder with initdb: Debian's newest, PATH's,
    Homebrew's newest keg, Postgres.app's."""
    if env := os.environ.get("PG_BINDIR"):
        if (Path(env) / "initdb").exists():
            return Path(env)
        raise PostgresUnavailable(f"PG_BINDIR={env} has no initdb: point it at the folder holding PostgreSQL's "
                                  "server binaries, or unset it")
    candidates = _newest_first(DEBIAN_BINDIRS)
    if which := shutil.which("initdb"):
        candidates.append(str(Path(which).parent))
    for pattern in MAC_BINDIRS:
        candidates += _newest_first(pattern)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(INSTALL_HINT)


@dataclass(frozen=True)
class Database:
    """Connection facts for one database on a server."""

    host: str
    port: int
    user: str
    password: str
    name: str

    @property
    def url(self) -> str:
        """The plain form that Neon and every provider hand out (no TLS on a throwaway server)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.name}?sslmode=disable"


def psql_argv(user: str, database: str, sql: str, *, host: str = "127.0.0.1", port: int | None = None,
              psql: str = "psql") -> list[str]:
    """One SQL statement through ``psql`` over TCP, stopping at the first error, unaligned output.
    The password goes in ``PGPASSWORD`` (never on the command line)."""
    return [psql, "-h", host, *(["-p", str(port)] if port else []), "-U", user, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-Atc", sql]


class LocalPostgres(Managed):
    """Context manager for a private PostgreSQL server.

    ``superuser`` is a :class:`Database` for the ``postgres`` role; ``create_database``
    adds a role and database of its own for each test that wants isolation.
    """

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.workdir = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.datadir = self.workdir / "data"
        self.logfile = self.workdir / "postgres.log"
        self._run_as = self._unprivileged_account()
        self.superuser = Database("127.0.0.1", self.port, "postgres", self.password, "postgres")

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> LocalPostgres:
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as is not None:
            os.chown(self.workdir, self._run_as.pw_uid, self._run_as.pw_gid)
            os.chown(pwfile, self._run_as.pw_uid, self._run_as.pw_gid)
        self._run(
            [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
             "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-instructions"]
        )
        pwfile.unlink()
        self.restart()
        # psql exits non-zero (CommandFailed) until the server accepts connections
        wait_for(self._accepts_connections, what=f"PostgreSQL on 127.0.0.1:{self.port}", timeout=60,
                 describe=lambda: self.logfile.read_text(errors="replace")[-2000:],
                 retry_on=(network_error, processes.CommandFailed))
        return self

    def stop(self) -> None:
        """Stop the server now (fast mode) and keep the data directory."""
        if (self.datadir / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
                      check=False)

    def restart(self) -> None:
        """Start the server (again after :meth:`stop`): same port, same data."""
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
             "-o", f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200",
             "start"]
        )

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- databases -----------------------------------------------------------------
    def create_database(self, name: str | None = None) -> Database:
        """A fresh role and database owned by it; returns its connection facts."""
        name = name or f"todo_{secrets.token_hex(4)}"
        password = secrets.token_hex(12)
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {name} OWNER {name}")
        return Database("127.0.0.1", self.port, name, password, name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement as the superuser and return psql's output."""
        argv = psql_argv("postgres", database, sql, port=self.port, psql=str(self.bindir / "psql"))
        return processes.run(argv, env={**os.environ, "PGPASSWORD": self.password}, timeout=60).stdout.strip()

    # -- internals -------------------------------------------------------------------
    def _accepts_connections(self) -> bool:
        return self.psql("SELECT 1") == "1"

    @staticmethod
    def _unprivileged_account() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable(
                "running as root but no 'postgres' account to run the server: apt-get install postgresql"
            ) from exc

    def _run(self, argv: list[str], check: bool = True) -> None:
        """A server tool (initdb, pg_ctl) as the unprivileged account when we are root."""
        if self._run_as is not None:
            argv = ["runuser", "-u", self._run_as.pw_name, "--", *argv]
        processes.run(argv, check=check, cwd=self.workdir, timeout=120)


# --- in a cluster namespace ---------------------------------------------------------------------


def deploy_in_cluster(apps: Any, core: Any, namespace: str, image: str, timeout: float = 180,
                      target: Any = None) -> Database:
    """A throwaway PostgreSQL (Deployment + Service ``postgres``) in ``namespace``; gone with it."""
    password = secrets.token_hex(12)
    labels = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "todo-chatbot-verification"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "postgres", "labels": labels},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "postgres", "image": image, "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "POSTGRES_USER", "value": "todo"}, {"name": "POSTGRES_PASSWORD", "value": password},
                        {"name": "POSTGRES_DB", "value": "todo"}, {"name": "PGDATA", "value": "/var/lib/postgresql/data/pg"}],
                "ports": [{"containerPort": 5432}],
                "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-U", "todo", "-d", "todo"]},
                                   "periodSeconds": 2},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
            }], "volumes": [{"name": "data", "emptyDir": {}}]}},
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "labels": labels},
               "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": 5432}]}}
    apps.create_namespaced_deployment(namespace, deployment)
    core.create_namespaced_service(namespace, service)
    k8s.wait_pods_ready(core, namespace, "app.kubernetes.io/name=postgres", timeout=timeout, expected=1)
    host = f"postgres.{namespace}.svc.cluster.local"
    if target is not None:
        # Ready is not yet reachable: the name must resolve and kube-proxy must route the Service.
        # Until then a backend started now logs "connection refused" or a DNS failure (US1-4), so
        # wait until a pod (PostgreSQL's own, through the Service, by name) reaches it.
        pod = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items[0]
        wait_for(lambda: k8s.exec_succeeds(target, namespace, pod.metadata.name,
                                           "pg_isready", "-h", host, "-p", "5432", "-t", "2"), what=f"PostgreSQL to answer through its Service as {host}", timeout=timeout, interval=1)
    return Database(host, 5432, "todo", password, "todo")


def scale_in_cluster(apps: Any, core: Any, namespace: str, replicas: int, timeout: float = 120) -> None:
    """Stop (0) or start (1) the throwaway PostgreSQL of :func:`deploy_in_cluster`, waiting until done."""
    selector = "app.kubernetes.io/name=postgres"
    apps.patch_namespaced_deployment_scale("postgres", namespace, {"spec": {"replicas": replicas}})
    if replicas:
        k8s.wait_pods_ready(core, namespace, selector, timeout=timeout, expected=replicas)
    else:
        wait_for(lambda: not core.list_namespaced_pod(namespace, label_selector=selector).items,
                 what=f"PostgreSQL in {namespace} to stop", timeout=timeout, interval=1)


def psql_in_cluster(target: Any, core: Any, namespace: str, db: Database, sql: str,
                    database: str | None = None) -> str:
    """Run one SQL statement in the throwaway PostgreSQL's pod (``kubectl exec``), as its superuser."""
    pod = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=postgres").items[0]
    return target.kubectl("-n", namespace, "exec", pod.metadata.name, "--", "env", f"PGPASSWORD={db.password}",
                          *psql_argv(db.user, database or db.name, sql)).strip()
