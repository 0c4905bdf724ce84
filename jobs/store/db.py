"""Engines, sessions and migrations of the workflow store.

One engine per database URL and process (engines pool connections; they are meant to live
long). :func:`transaction` is the unit of work: one session, committed on success and rolled back
on an error. The schema is brought to the newest migration by :func:`upgrade` (``govlake db
upgrade``), and :func:`transaction` does it once per process before the first use, so a laptop
and the service start on an up-to-date store without a separate step.

SQLite takes the write lock when a transaction begins (``BEGIN IMMEDIATE``), so that two writers
queue instead of one failing half-way; PostgreSQL's row locks do the same for a conditional
``UPDATE … WHERE state = 'pending'`` (jobs.share.grants).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from jobs.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
#: Seconds a SQLite writer waits for another's transaction before giving up.
SQLITE_BUSY_TIMEOUT = 30

#: Execution option of :func:`reading`'s sessions (SQLite begins them without the write lock).
READS_ONLY = "govlake_reads_only"
#: ``Session.info`` key: what :func:`transaction` runs once the session has committed.
AFTER_COMMIT = "govlake_after_commit"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_current: set[str] = set()


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        # Write-ahead log: readers see the last commit while a writer works, and never wait.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        reads_only = connection.get_execution_options().get(READS_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")

    return engine


def engine_for(settings: Settings) -> Engine:
    """The engine of ``settings.database_url`` (created once per process)."""
    url = settings.database_url
    with _lock:
        if url not in _engines:
            is_sqlite = make_url(url).get_backend_name() == "sqlite"
            _engines[url] = (
                _sqlite_engine(url) if is_sqlite else create_engine(url, pool_pre_ping=True)
            )
        return _engines[url]


def dispose_engines() -> None:
    """Closes every engine's connections (tests, and a process about to fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _current.clear()
        for probe in _probes.values():
            probe.connection.close()
        _probes.clear()


def create_database(settings: Settings) -> bool:
    """Creates the PostgreSQL database the URL names when it does not exist yet (a deployment's
    first start; SQLite creates its file itself). Returns whether it created one."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": url.database}
            ).first()
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(url.database)
                connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
        return not exists
    finally:
        server.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest migration's revision."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(settings: Settings) -> str | None:
    """The revision the store is at (``None``: no schema yet)."""
    with engine_for(settings).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrates the store up to ``revision`` in one transaction."""
    with engine_for(settings).begin() as connection:
        command.upgrade(_alembic_config(connection), revision)
    _current.discard(settings.database_url)


def downgrade(settings: Settings, revision: str) -> None:
    """Migrates the store down to ``revision`` (``base``: no tables) in one transaction."""
    with engine_for(settings).begin() as connection:
        command.downgrade(_alembic_config(connection), revision)
    _current.discard(settings.database_url)


def ensure_current(settings: Settings) -> None:
    """Upgrades the store to the newest migration unless this process already saw it there."""
    url = settings.database_url
    if url in _current:
        return
    if current_revision(settings) != head_revision():
        upgrade(settings)
    _current.add(url)


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back on an error;
    then what :func:`after_commit` asked for runs, with ``settings``."""
    ensure_current(settings)
    with sessionmaker(engine_for(settings), expire_on_commit=False).begin() as session:
        yield session
    for action in session.info.pop(AFTER_COMMIT, ()):
        action(settings)


def after_commit(session: Session, action: Callable[[Settings], object]) -> None:
    """Has ``action(settings)`` run once ``session``'s transaction has committed (never on a
    rollback), once however often it is asked: work that must not undo the commit, such as
    mail. ``action`` handles its own failures."""
    actions = session.info.setdefault(AFTER_COMMIT, [])
    if action not in actions:
        actions.append(action)


@contextmanager
def reading(settings: Settings) -> Iterator[Session]:
    """A session that only reads: one consistent view of the last commit, which on SQLite
    neither waits for a writer nor holds one up (the service's reads, listings)."""
    ensure_current(settings)
    engine = engine_for(settings).execution_options(**{READS_ONLY: True})
    with sessionmaker(engine, expire_on_commit=False).begin() as session:
        yield session


# --- what changed: the key of caches of store reads -------------------------------------------


def change_stamp(settings: Settings) -> Hashable | None:
    """A value that differs from the one an earlier call returned as soon as any transaction
    has committed to the store since (this process's or another's); None when the store cannot
    say, and nothing read from it may be kept.

    SQLite: ``PRAGMA data_version`` of a connection of this process that never writes (it
    changes with every commit of any other connection), with the database file's identity, in
    case the file was replaced. PostgreSQL: the current snapshot (``xmin:xmax:in-progress``):
    equal snapshots see the same committed transactions, so the same rows. Either costs a
    fraction of a millisecond, against several for the reads it lets a caller skip. A read
    made after taking the stamp is at least as new as the stamp, never older.
    """
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return _sqlite_stamp(url.database)
    if backend == "postgresql":
        with engine_for(settings).connect() as connection:
            return connection.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar()
    return None


class _Probe:
    """A read-only SQLite connection kept to ask ``data_version``, and the file it opened."""

    def __init__(self, database: str) -> None:
        self.connection = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self.identity = _file_identity(database)
        self.lock = threading.Lock()


_probes: dict[str, _Probe] = {}


def _file_identity(database: str) -> tuple[int, int] | None:
    try:
        info = os.stat(database)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _sqlite_stamp(database: str) -> Hashable | None:
    identity = _file_identity(database)
    if identity is None:
        return None
    with _lock:
        probe = _probes.get(database)
        if probe is None or probe.identity != identity:
            if probe is not None:
                probe.connection.close()
            probe = _probes[database] = _Probe(database)
    with probe.lock:
        (version,) = probe.connection.execute("PRAGMA data_version").fetchone()
    return database, identity, version


T = TypeVar("T")


class StoreCache:
    """Results of store reads, kept while the store is unchanged (:func:`change_stamp`): a
    read the store answered before is answered from memory, and any commit — a token revoked,
    an account disabled, a grant decided — makes the next call read the store again.

    At most ``size`` results and each for at most ``ttl`` seconds. Callers cache only what
    holds until the store changes; whatever depends on the clock (a token's expiry, a grant's
    last day) they check again on every use.
    """

    def __init__(self, size: int = 1024, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._stamp: Hashable | None = None
        self._results: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, settings: Settings, key: Hashable, read: Callable[[], T]) -> T:
        """The result of ``read()`` for ``key``: kept, or read now (after taking the stamp)."""
        stamp = change_stamp(settings)
        if stamp is None:
            return read()
        now = time.monotonic()
        with self._lock:
            if stamp != self._stamp:
                self._stamp, self._results = stamp, OrderedDict()
            kept = self._results.get(key)
            if kept is not None and now - kept[0] < self.ttl:
                self._results.move_to_end(key)
                return kept[1]
        value = read()
        with self._lock:
            if stamp == self._stamp:
                self._results[key] = (now, value)
                while len(self._results) > self.size:
                    self._results.popitem(last=False)
        return value
