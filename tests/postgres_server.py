"""A real PostgreSQL for the tests (plugin registered in tests/conftest.py).

Debian's `postgresql` package (`/usr/lib/postgresql/*/bin`, installed by .ci/run): `initdb` +
`pg_ctl` as an unprivileged user (the package's `postgres` user when the tests run as root) on
127.0.0.1 and a free port, in a temp dir; one server per test session (so one per xdist
worker), a fresh database per test (`CREATE DATABASE … TEMPLATE template0`). Skipped, with the
reason, where the binaries are absent.

Authentication as the store connects in production: the superuser `postgres` is trusted (it
only creates and drops the test databases), the role `envdeck` needs its password
(scram-sha-256), which the tests give through a PGPASSFILE, never in the URL.

Fixtures:
- `postgres_server` (session): the running `PostgresServer`;
- `pg_url`: a fresh database owned by `envdeck`, PGPASSFILE set; its URL;
- `any_store`: parametrised over "sqlite" and "postgres": a `StoreOpener` whose `open()` opens
  a store on the same SQLite state directory / PostgreSQL database each time.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_PASSWORD = "s3cret-pg-Pa55"  # the `envdeck` role's; tests assert it never shows
ROLES_SQL = Path(__file__).resolve().parents[1] / "docs" / "deploy" / "postgres-roles.sql"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl in a temp dir, run as `user` (None: this user, when not root)."""

    def __init__(self, bindir: Path, *, settings: dict[str, str] | None = None):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="envdeck-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self.user = "postgres" if os.geteuid() == 0 else None
        self.settings = settings or {}
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.dir.chmod(0o700)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(argv)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "-N", "-E", "UTF8", "--locale=C")
            (self.data / "pg_hba.conf").write_text(
                "local all postgres trust\n"
                "host all postgres 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n")
        for _ in range(5):
            self.port = _free_port()
            options = [f"-p {self.port}", f"-k {self.dir}", "-c listen_addresses=127.0.0.1", "-c fsync=off",
                       "-c synchronous_commit=off", "-c full_page_writes=off",
                       *(f"-c {k}={v}" for k, v in self.settings.items())]
            started = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                                "-w", "-t", "60", "-o", " ".join(options), "start", check=False)
            if started.returncode == 0:
                return
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{self.log()}")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text()
        except OSError:
            return ""

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": "", "PGPASSFILE": "/dev/null"})
        if done.returncode:
            raise RuntimeError(f"psql {sql!r}: {done.stderr}")
        return done.stdout.strip()

    def member_role(self, prefix: str, password: str) -> str:
        """A new login role `prefix`_<random> IN envdeck_member (the group role the team SQL file
        grants, made here NOLOGIN if no test made it yet); its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.psql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'envdeck_member') "
                  "THEN CREATE ROLE envdeck_member NOLOGIN; END IF; END $$")
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE envdeck_member")
        return name

    def grant_team(self, database: str, owner: str = "envdeck") -> None:
        """docs/deploy/postgres-roles.sql run by psql as the superuser on `database`, `owner` the
        store's owner role (the file's :owner variable); fails the test if psql does."""
        done = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-v", f"owner={owner}", "-X", "-q", "-f", str(ROLES_SQL)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": "", "PGPASSFILE": "/dev/null"})
        assert done.returncode == 0, done.stderr

    def url(self, database: str, user: str = "envdeck") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb: apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no unprivileged `postgres` user to run PostgreSQL as (apt-get install postgresql)")
    server = PostgresServer(bindir)
    try:
        server.start()
        server.psql(f"CREATE ROLE envdeck LOGIN PASSWORD '{PG_PASSWORD}'")
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database owned by `envdeck`; its name."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_server.psql(f"CREATE DATABASE {name} OWNER envdeck TEMPLATE template0")
    try:
        yield name
    finally:
        postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pgpass(postgres_server: PostgresServer, tmp_path_factory, monkeypatch) -> Path:
    """A PGPASSFILE with the `envdeck` role's password (0600, as libpq requires)."""
    path = tmp_path_factory.mktemp("pgpass") / "pgpass"
    path.write_text(f"127.0.0.1:{postgres_server.port}:*:envdeck:{PG_PASSWORD}\n")
    path.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(path))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    return path


@pytest.fixture
def pg_url(postgres_server: PostgresServer, pg_database: str, pgpass: Path) -> str:
    return postgres_server.url(pg_database)


@dataclass
class StoreOpener:
    kind: str             # "sqlite" | "postgres"
    state_dir: Path
    url: str | None

    async def open(self, *, recover: bool = True):
        from tui.core.store import Store, open_store

        if self.url is None:
            return await Store.open(self.state_dir, recover=recover)
        os.environ["ENVDECK_STATE_URL"] = self.url
        try:
            return await open_store(None, self.state_dir, recover=recover)
        finally:
            del os.environ["ENVDECK_STATE_URL"]


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path) -> StoreOpener:
    if request.param == "sqlite":
        return StoreOpener("sqlite", tmp_path, None)
    return StoreOpener("postgres", tmp_path, request.getfixturevalue("pg_url"))
