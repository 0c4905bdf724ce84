"""A throw-away PostgreSQL server for the tests that claim production behaviour.

The server is Debian's ``postgresql`` package (``scripts/ensure_test_packages.sh`` installs it):
``initdb`` into a temporary folder, ``pg_ctl start`` on 127.0.0.1 and a free port, stopped and
deleted when the test session ends. Nothing is shared with a server the machine may already run.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the server runs as
the ``postgres`` system user the package creates, in a folder handed to it.

Use the ``postgres_server`` fixture (session-wide: one server per run) and ask it for a fresh
database per test module or test::

    def test_something(postgres_server):
        url = postgres_server.create_database("store_test")   # postgresql+psycopg://…

Like the browser tests, a missing server is a skip on a developer's machine and a failure in CI
(``CI`` set): `make test` installs it first, so a skipped production test would hide a defect.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

SERVER_USER = "govlake"
# Waits for the server to accept connections; initdb + start take ~2 s on this machine.
START_TIMEOUT_SECONDS = 60


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them off PATH, under /usr/lib/postgresql/N/bin."""
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(found, "initdb").exists() and Path(found, "pg_ctl").exists():
            return Path(found)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


needs_postgres = pytest.mark.skipif(
    postgres_bin_dir() is None and not os.environ.get("CI"),
    reason="no PostgreSQL server binaries on this machine (scripts/ensure_test_packages.sh installs them)",
)


@dataclass
class PostgresServer:
    """A running server: ``url()`` for its default database, ``create_database()`` for more."""

    host: str
    port: int
    user: str
    bin_dir: Path

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq form, for psycopg.connect() without SQLAlchemy."""
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str) -> str:
        """Creates (or re-creates, empty) database ``name`` and returns its SQLAlchemy URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and _ only")
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL will not start as root: run it as the package's ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _hand_to_server_user(folder: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres", group="postgres")


def start_server(root: Path) -> tuple[PostgresServer, Path]:
    """initdb + pg_ctl start under ``root``; returns the server and its data folder."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed (scripts/ensure_test_packages.sh installs it)")
    root.mkdir(parents=True, exist_ok=True)
    _hand_to_server_user(root)
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    _hand_to_server_user(sockets)
    # trust on 127.0.0.1 only: a test server with no secret to leak, reachable from this host only.
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_USER, "-A", "trust"]
    subprocess.run(
        _as_server_user([*initdb, "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]),
        check=True,
        capture_output=True,
        text=True,
    )
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=200"
    start = [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w"]
    started = subprocess.run(
        _as_server_user([*start, "-t", str(START_TIMEOUT_SECONDS), "-o", options]),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        server_log = log.read_text(errors="replace") if log.exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{server_log[-2000:]}")
    return PostgresServer("127.0.0.1", port, SERVER_USER, bin_dir), data


def stop_server(server: PostgresServer, data: Path) -> None:
    subprocess.run(
        _as_server_user([str(server.bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast"]),
        capture_output=True,
        check=False,
    )


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole test session, on 127.0.0.1 and a free port."""
    # Not under pytest's tmp_path: the server user must be able to enter every parent folder.
    root = Path(tempfile.mkdtemp(prefix="govlake-pg-"))
    os.chmod(root, 0o755)
    server, data = start_server(root / "server")
    try:
        yield server
    finally:
        stop_server(server, data)
        shutil.rmtree(root, ignore_errors=True)
