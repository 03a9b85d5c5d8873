"""PostgreSQL for the tests, in one module (as testcontainers keeps one module per service): one
:class:`Database` (connection facts), one ``psql`` command line, the image, and one way to get a
database for each place a test needs one.

* host process — :class:`LocalPostgres`: a server from Debian's binaries on a free loopback port, for
  the applications' tests and the end-to-end tests (no Docker). PostgreSQL refuses to run as root,
  so under root (CI) it runs as the unprivileged `postgres` account Debian's package creates.
* Docker container — :class:`DockerPostgres`: testcontainers' PostgreSQL on the Docker network of the
  chart's pods (``harness.stack``: ``make up``, the runtime and load tiers), queried with
  :func:`psql_argv` through ``docker exec``.
* in-cluster — ``harness.deploy.postgres``: a Deployment in the release's namespace. It needs the
  cluster's clients and waits, so it lives in the deploy layer, which imports this module (never
  the other way round).

The image, two ways on purpose: :func:`image_in_engine` takes one already in the Docker engine and
never downloads (``make up``, the runtime tier); :func:`pull_or_build_image` pulls the official one or
builds the local stand-in (the image tier, and the clusters, which are given it).
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core import docker as docker_engine
from harness.core import processes
from harness.core.lifecycle import Managed
from harness.core.net import free_port
from harness.core.wait import network_error, wait_for

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


# --- the image ------------------------------------------------------------------------------------
# Its names live with the other base images in harness.images.build (images/base/ builds the local
# stand-in); imported inside the functions so the applications' tests, which only start a host
# process, do not load the image builder.


def image_in_engine(client: Any) -> str:
    """``$TODO_POSTGRES_IMAGE``, else the official image, else the local stand-in: the first present in
    the Docker engine. Never pulled nor built: ``make up`` and the runtime tier start no download."""
    from harness.images import build as images_lib

    candidates = ((os.environ["TODO_POSTGRES_IMAGE"],) if os.environ.get("TODO_POSTGRES_IMAGE")
                  else (images_lib.OFFICIAL_POSTGRES, images_lib.LOCAL_POSTGRES))
    for image in candidates:
        if docker_engine.image_exists(image, api=client):
            return image
    raise PostgresUnavailable(
        f"no PostgreSQL image in the local Docker engine (looked for {', '.join(candidates)}): "
        f"run 'make base-images' (builds {images_lib.LOCAL_POSTGRES} from Debian's packages) "
        f"or 'docker pull {images_lib.OFFICIAL_POSTGRES}' where a registry is reachable"
    )


def pull_or_build_image() -> str:
    """The official image where it can be pulled, else the local stand-in built from images/base/:
    the same choice as the application images' bases (``BASE_IMAGES``), made once a process."""
    from harness.images import build as images_lib

    return images_lib.choose_bases(postgres=True).postgres


# --- in a Docker container --------------------------------------------------------------------------


class PsqlFailed(RuntimeError):
    """psql in the database container exited non-zero (its output is the message)."""


class DockerPostgres:
    """PostgreSQL (role and database ``todo``) in a container on the Docker network ``network``,
    reachable there as ``alias`` and published on loopback only.

    testcontainers' ``PostgresContainer`` starts it. Whoever owns the network removes the container
    with it (``harness.stack``: by the run's label, after failures too), so there is no ``close``
    here. The password is made before :meth:`start`: the chart is rendered with it first.
    """

    USER = NAME = "todo"

    def __init__(self, *, network: str, alias: str, name: str, labels: Mapping[str, str],
                 mem_limit: int = 256 * 2**20) -> None:
        self.network, self.alias, self.name = network, alias, name
        self.labels, self.mem_limit = dict(labels), mem_limit
        self.password = secrets.token_hex(16)
        self._container: Any = None

    def database(self, name: str = NAME, user: str = USER, password: str | None = None) -> Database:
        """Connection facts as the containers on the network see them (by alias)."""
        return Database(self.alias, 5432, user, password or self.password, name)

    def start(self, image: str) -> DockerPostgres:
        # testcontainers reads these when it is first imported: no Ryuk (its image cannot be pulled
        # here), and the published port on loopback.
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
        from testcontainers.community.postgres import PostgresContainer

        class _Net:  # testcontainers wants an object with the network's name
            name = self.network

        pg = PostgresContainer(image, username=self.USER, password=self.password, dbname=self.NAME, driver=None)
        pg.ports = {"5432/tcp": ("127.0.0.1", None)}  # loopback only
        pg.with_network(_Net()).with_network_aliases(self.alias)
        pg.with_name(self.name)
        pg.with_kwargs(labels=self.labels, mem_limit=self.mem_limit)
        self._container = pg
        pg.start()
        return self

    @property
    def container(self) -> Any:
        """The Docker SDK's container (stop, start, logs, stats)."""
        return self._container.get_wrapped_container()

    @property
    def host_port(self) -> int:
        """The loopback port 5432 is published on, for a client on this machine."""
        return int(self._container.get_exposed_port(5432))

    def psql(self, sql: str, user: str = USER, password: str | None = None, database: str = NAME) -> str:
        """Run SQL in the container (over TCP, with a password); raises :class:`PsqlFailed` on error."""
        result = self.container.exec_run(psql_argv(user, database, sql),
                                         environment={"PGPASSWORD": password or self.password})
        output = result.output.decode(errors="replace").strip()
        if result.exit_code != 0:
            raise PsqlFailed(f"psql failed ({result.exit_code}): {output}")
        return output

    def wait_ready(self, timeout: float = 60) -> None:
        # psql fails until the server accepts connections: that one error means "not yet"
        wait_for(lambda: self.psql("SELECT 1") == "1", what="PostgreSQL to accept connections", timeout=timeout,
                 retry_on=(PsqlFailed,))
