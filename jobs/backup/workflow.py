"""The workflow store (accounts, tokens, grants; jobs.store) in a backup set, and back.

The lake's tables are copied at a version; the store has no versions, so a set holds one
consistent copy of it taken while the set is made:

* SQLite: SQLite's online backup API (``sqlite3.Connection.backup``), a consistent copy of the
  database file even while the service writes (write-ahead log included);
* PostgreSQL: ``pg_dump --format=custom`` in the snapshot of a transaction that counts the
  rows, restored with ``pg_restore --clean``; the password goes to both through ``PGPASSWORD``,
  never on the command line (process listings show arguments). Where no ``pg_dump`` is
  installed (the docker image), each table is copied out in that snapshot with PostgreSQL's
  own ``COPY`` format (exact for every type), and restored into the schema migrated to the
  set's revision.

The copy goes to the content store like a table's file; the manifest's ``workflow_store`` names
it with the store's Alembic revision and the rows of each table, which a restore checks.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, func, inspect, select
from sqlalchemy.engine import URL, make_url

from jobs.backup import store
from jobs.backup.store import BackupError
from jobs.settings import Settings

#: Seconds pg_dump or pg_restore may take before the backup gives up.
TOOL_TIMEOUT = 3600


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _sqlite_file(url: str) -> Path:
    # a relative SQLite path is relative to the working folder, as SQLAlchemy opens it
    return Path(make_url(url).database or "")


def _tool(name: str) -> str | None:
    """``pg_dump``/``pg_restore`` on PATH, else Debian's newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries the password."""
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database
    )
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")


def counted(connection: Connection) -> tuple[str | None, dict[str, int]]:
    """The Alembic revision and the rows per table a connection sees (one snapshot when it is
    inside one transaction)."""
    from jobs.store.models import Base

    present = set(inspect(connection).get_table_names())
    revision = (
        connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if "alembic_version" in present
        else None
    )
    rows = {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
        if table.name in present
    }
    return revision, rows


def _counted_file(path: Path) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return counted(connection)
    finally:
        engine.dispose()


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while others write."""
    reader, writer = sqlite3.connect(source), sqlite3.connect(target)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()


def dump(settings: Settings, folder: Path) -> tuple[Path, dict[str, Any]] | str:
    """A consistent copy of the store in ``folder``: its file and manifest entry (backend,
    method, revision and rows per table, counted in the copy's own snapshot), or why there is
    none (no SQLite store yet)."""
    from jobs.store import db

    url = settings.database_url
    backend = _backend(url)
    if backend == "sqlite":
        source = _sqlite_file(url)
        if not source.is_file():
            return f"no workflow store yet at {source}"
        target = folder / "workflow_store.sqlite3"
        _sqlite_copy(source, target)
        revision, rows = _counted_file(target)
        return target, {
            "backend": backend,
            "method": "sqlite-backup",
            "revision": revision,
            "rows": rows,
        }
    pg_dump = _tool("pg_dump")
    engine = db.engine_for(settings).execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as connection, connection.begin():
        # One snapshot: the rows counted here are the rows copied, whatever the service writes
        # meanwhile (pg_dump reads the snapshot this transaction exports).
        revision, rows = counted(connection)
        if pg_dump is None:
            target, method = folder / "workflow_store.copy.zip", "copy"
            _copy_out(connection, list(rows), target)
        else:
            target, method = folder / "workflow_store.pgdump", "pg_dump"
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            libpq, env = _libpq(url)
            command = [pg_dump, "--format=custom", "--no-owner", "--no-privileges"]
            command += [f"--snapshot={snapshot}", "--file", str(target), libpq]
            _run(command, env, "pg_dump of the workflow store")
    return target, {"backend": backend, "method": method, "revision": revision, "rows": rows}


def _quoted(connection: Connection, table: str) -> str:
    return connection.dialect.identifier_preparer.quote(table)


def _copy_out(connection: Connection, tables: list[str], target: Path) -> None:
    """Without pg_dump: each table in PostgreSQL's own COPY format (exact for every type), one
    member per table of a zip file."""
    cursor = connection.connection.driver_connection.cursor()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            statement = f"COPY {_quoted(connection, table)} TO STDOUT"
            with archive.open(f"{table}.copy", "w") as member, cursor.copy(statement) as copy:
                for block in copy:
                    member.write(block)


def _serial_column(table: Table) -> str | None:
    """The table's id column that PostgreSQL numbers from a sequence (one integer key)."""
    keys = list(table.primary_key.columns)
    is_serial = len(keys) == 1 and keys[0].autoincrement in (True, "auto")
    return keys[0].name if is_serial and keys[0].type.python_type is int else None


def _copy_in(target: Settings, revision: str | None, archive_path: Path) -> None:
    """Restores a COPY archive: the store's tables dropped, the schema migrated to the set's
    revision, the rows copied in and each id sequence moved past the largest id."""
    from jobs.store import db
    from jobs.store.models import Base

    with db.engine_for(target).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_quoted(connection, table.name)}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    if revision:
        db.upgrade(target, revision)
    with db.engine_for(target).begin() as connection, zipfile.ZipFile(archive_path) as archive:
        cursor = connection.connection.driver_connection.cursor()
        for table in Base.metadata.sorted_tables:
            if f"{table.name}.copy" not in archive.namelist():
                continue
            with cursor.copy(f"COPY {_quoted(connection, table.name)} FROM STDIN") as copy:
                copy.write(archive.read(f"{table.name}.copy"))
            column = _serial_column(table)
            if column:
                name, quoted = _quoted(connection, table.name), _quoted(connection, column)
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                    f"COALESCE(MAX({quoted}), 1), MAX({quoted}) IS NOT NULL) FROM {name}"
                )


def counted_store(settings: Settings) -> tuple[str | None, dict[str, int]]:
    """The revision and rows per table of the store of ``settings``."""
    from jobs.store import db

    with db.engine_for(settings).connect() as connection:
        return counted(connection)


def back_up(settings: Settings, backup_root: str) -> dict[str, Any]:
    """Puts a copy of the store in the content store; returns its manifest entry, or
    ``{"left_out": why}`` when there is no store yet."""
    with tempfile.TemporaryDirectory(prefix="govlake-store-") as folder:
        dumped = dump(settings, Path(folder))
        if isinstance(dumped, str):
            return {"left_out": dumped}
        path, entry = dumped
        stat = path.stat()
        item, _ = store.store_file(
            backup_root, str(path), stat.st_size, int(stat.st_mtime_ns), None
        )
    return {**entry, "size": item["size"], "sha256": item["sha256"]}


def restore_target(
    settings: Settings, lake_root: str, entry: dict[str, Any], store_url: str | None
) -> Settings | None:
    """The settings whose store a set's store is restored into: ``store_url``; the live store
    when the lake root is the live one; a SQLite file next to another lake root; ``None`` (not
    restored) for a PostgreSQL store going to another lake root without ``store_url``."""
    if store_url:
        return replace(settings, db_url=store_url)
    if lake_root == settings.lake_root:
        return settings
    if entry["backend"] == "sqlite":
        return replace(settings, lake_root=lake_root, db_url="")
    return None


def drop_database(settings: Settings) -> None:
    """Drops the PostgreSQL database of ``settings`` (a drill's throw-away store)."""
    from jobs.store import db

    url = make_url(settings.database_url)
    db.dispose_engines()
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(url.database or "")
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        server.dispose()


def check_target(target: Settings, entry: dict[str, Any], *, overwrite: bool) -> None:
    """What a restore checks before it touches anything: the target store is of the set's
    kind, and holds no row (accounts, grants …) unless told to replace it (``overwrite``).

    Raises:
        BackupError: the backends differ, or the target holds rows and ``overwrite`` is off.
    """
    from jobs.store import db

    url = target.database_url
    if _backend(url) != entry["backend"]:
        raise BackupError(
            f"the set's workflow store is {entry['backend']}, the target {_safe(url)} is "
            f"{_backend(url)}: restore it into a store of its kind"
        )
    if overwrite:
        return
    if entry["backend"] == "postgresql":
        db.create_database(target)
    if any(counted_store(target)[1].values()):
        raise BackupError(
            f"the workflow store at {_safe(target.database_url)} holds accounts or grants; "
            "pass overwrite to replace it"
        )


def restore(set_dir: str, entry: dict[str, Any], target: Settings) -> dict[str, Any]:
    """Brings the store of a set back into the store of ``target`` (its ``database_url``),
    replacing what is there (:func:`check_target` first).

    Raises:
        BackupError: the copy differs from the manifest; pg_restore is missing or fails; the
            restored store is not at the set's revision and rows.
    """
    from jobs.lake.files import copy_file
    from jobs.store import db

    url = target.database_url
    if entry["backend"] == "postgresql":
        db.create_database(target)
    source = store.object_uri(store.backup_root_of(set_dir), entry["sha256"])
    with tempfile.TemporaryDirectory(prefix="govlake-store-") as folder:
        local = Path(folder) / "workflow_store"
        _, digest = copy_file(source, str(local))
        if digest != entry["sha256"]:
            raise BackupError("the workflow store's copy differs from the backup manifest")
        db.dispose_engines()  # no pooled connection may outlive the store it points at
        if entry["backend"] == "sqlite":
            database = _sqlite_file(url)
            database.parent.mkdir(parents=True, exist_ok=True)
            _sqlite_copy(local, database)
        elif entry["method"] == "copy":
            _copy_in(target, entry["revision"], local)
        else:
            pg_restore = _tool("pg_restore")
            if pg_restore is None:
                raise BackupError("pg_restore is not installed: install PostgreSQL's client")
            libpq, env = _libpq(url)
            command = [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges"]
            _run([*command, "--dbname", libpq, str(local)], env, "pg_restore of the store")
    revision, rows = counted_store(target)
    if (revision, rows) != (entry["revision"], entry["rows"]):
        raise BackupError(
            f"the restored workflow store is at revision {revision} with {rows} rows, not "
            f"{entry['revision']} with {entry['rows']}"
        )
    return {"revision": revision, "rows": rows}


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
