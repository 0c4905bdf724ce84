"""Appends to a Delta table that one process at a time writes under a lock (the audit log):
each append costs the same however many files the table already holds.

delta-rs brings its whole list of the table's files up to date after every commit it makes
(about 0.1 ms of CPU per file on the service's machine, besides ~10 ms per commit): the audit
log gains a file with every group of reads the department service answers, so after a few
thousand reads each of its appends cost over 100 ms of CPU, and the service spent most of
its time there. An :class:`Appender` writes what an append is by the Delta protocol itself —
a Parquet file, then the next commit file naming it — and touches nothing else; every
``delta.checkpointInterval`` commits it has delta-rs write a checkpoint (and clean up expired
log files), as delta-rs's own writes do, so that readers never replay many commit files. The
checkpoint is written in a thread of its own, after the append has returned: it reads the whole
file list (a quarter of a second for a log of thousands of files), and the caller's lock, which
every other append waits on, need not be held for it.

Only plain tables (reader 1, writer ≤ 2, no partition columns, the table's own schema) in a
local folder are appended this way; the commit file is created put-if-absent (a hard link of
the complete file), so a writer that took the version first is never overwritten. Anything
else (an object store, where no such put is at hand here) is appended through delta-rs.

A table's :class:`Appender` is only valid while nobody else commits (:meth:`is_current`):
callers hold the table's append lock, and when it is not current either bring it up to the
other writers' plain appends (:meth:`Appender.catch_up`: several processes appending to one
table in turn, such as the service's workers, each read only the others' commit files) or open
a new one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.lake.crash import crash_point
from jobs.lake.files import DELTA_LOG, local_path
from jobs.lake.kept import signature_of

log = logging.getLogger(__name__)

#: delta-rs's default when the table sets no ``delta.checkpointInterval``.
CHECKPOINT_INTERVAL = 100
_MAX_WRITER_VERSION = 2


class VersionTaken(RuntimeError):
    """Another writer committed the version this append was to make: nothing was committed."""


class Appender:
    """A table (a ``deltalake.DeltaTable`` opened at ``uri``) at the version this process last
    saw it."""

    def __init__(self, uri: str, table: Any) -> None:
        self.uri = uri
        self.version: int = table.version()
        self.schema = pa.schema(table.schema().to_arrow())
        self._signature = signature_of(uri, self.version)
        self._folder = local_path(uri) if _appendable(table) else None
        configuration = table.metadata().configuration
        self._interval = int(configuration.get("delta.checkpointInterval") or CHECKPOINT_INTERVAL)
        #: The thread writing the newest checkpoint this appender asked for (None: none yet).
        self.checkpointing: threading.Thread | None = None

    def is_current(self) -> bool:
        """Nobody committed since: the last commit file seen is unchanged and has no successor
        (a table rebuilt at the same path rewrites its commit files)."""
        return (
            self._signature is not None
            and signature_of(self.uri, self.version) == self._signature
            and signature_of(self.uri, self.version + 1) is None
        )

    def catch_up(self) -> list[dict[str, Any]] | None:
        """Moves this appender past the commits other writers made since its version, when
        every one of them is a plain append (``commitInfo`` and ``add`` actions, nothing else);
        returns their ``commitInfo`` (oldest first; empty when there were none).

        Returns None, the appender left as it was, when the table is not in a local folder,
        was rebuilt at the same path, or a new commit does anything but add files (a schema or
        setting changed, files removed): the caller opens the table afresh.
        """
        if self._folder is None or signature_of(self.uri, self.version) != self._signature:
            return None
        infos: list[dict[str, Any]] = []
        version = self.version
        while True:
            path = os.path.join(self._folder, DELTA_LOG, f"{version + 1:020d}.json")
            try:
                with open(path, encoding="utf-8") as commit:
                    actions = [json.loads(line) for line in commit if line.strip()]
            except FileNotFoundError:
                break
            if any(set(action) - {"commitInfo", "add"} for action in actions):
                return None
            infos.append(next((a["commitInfo"] for a in actions if "commitInfo" in a), {}))
            version += 1
        signature = signature_of(self.uri, version)
        if signature is None:
            return None
        self.version, self._signature = version, signature
        return infos

    def append(self, rows: pa.Table, custom_metadata: Mapping[str, str]) -> int:
        """Commits ``rows`` as the next version, ``custom_metadata`` in its ``commitInfo``
        (where ``DeltaTable.history()`` shows it); returns the new version.

        Raises:
            VersionTaken: another writer made that version first (this appender is spent).
        """
        if self._folder is None or rows.schema != self.schema:
            self._append_with_delta_rs(rows, custom_metadata)
        else:
            self._commit(self.version + 1, self._add(rows), custom_metadata)
        self.version += 1
        self._signature = signature_of(self.uri, self.version)
        if (self.version + 1) % self._interval == 0:
            self.checkpointing = threading.Thread(
                target=_checkpoint, args=(self.uri, self.version), name="delta-checkpoint"
            )
            self.checkpointing.start()
        return self.version

    def _append_with_delta_rs(self, rows: pa.Table, custom_metadata: Mapping[str, str]) -> None:
        from deltalake import CommitProperties, DeltaTable, write_deltalake

        table = DeltaTable(self.uri)
        if table.version() != self.version:
            raise VersionTaken(f"{self.uri} moved to version {table.version()}")
        write_deltalake(
            table,
            rows,
            mode="append",
            commit_properties=CommitProperties(custom_metadata=dict(custom_metadata)),
        )
        if table.version() != self.version + 1:
            raise VersionTaken(f"{self.uri}: another commit came in with this one")

    def _add(self, rows: pa.Table) -> dict[str, Any]:
        """Writes the Parquet file; its ``add`` action."""
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        path = os.path.join(self._folder, name)
        pq.write_table(rows, path, compression="snappy")
        return {
            "path": name,
            "partitionValues": {},
            "size": os.path.getsize(path),
            "modificationTime": int(os.path.getmtime(path) * 1000),
            "dataChange": True,
            "stats": json.dumps(_stats(rows), separators=(",", ":")),
        }

    def _commit(
        self, version: int, add: dict[str, Any], custom_metadata: Mapping[str, str]
    ) -> None:
        info = {
            "timestamp": int(time.time() * 1000),
            "operation": "WRITE",
            "operationParameters": {"mode": "Append"},
            "engineInfo": "govlake",
            **custom_metadata,
        }
        text = "\n".join(json.dumps(action) for action in ({"commitInfo": info}, {"add": add}))
        staged = os.path.join(self._folder, f"_govlake_commit_{uuid.uuid4().hex}.tmp")
        with open(staged, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        crash_point("appends.commit")  # a kill here leaves it (jobs.lake.maintenance removes it)
        try:
            os.link(staged, os.path.join(self._folder, DELTA_LOG, f"{version:020d}.json"))
        except FileExistsError:
            raise VersionTaken(
                f"{self.uri}: version {version} was committed by another writer"
            ) from None
        finally:
            os.unlink(staged)


_checkpoint_lock = threading.Lock()


def _checkpoint(uri: str, version: int) -> None:
    """A checkpoint at ``version``, and expired log files removed (one at a time per process;
    a checkpoint still being written when the next is due makes that one wait). The commit is
    made already: a failure here only leaves readers more commit files to replay."""
    from deltalake import DeltaTable

    with _checkpoint_lock:
        try:
            table = DeltaTable(uri, version=version)
            table.create_checkpoint()
            table.cleanup_metadata()
        except Exception as exc:  # the type only: the message may name paths
            log.warning("checkpoint of %s failed (%s)", uri, type(exc).__name__)


def _appendable(table: Any) -> bool:
    protocol = table.protocol()
    return (
        protocol.min_reader_version == 1
        and protocol.min_writer_version <= _MAX_WRITER_VERSION
        and not table.metadata().partition_columns
    )


def _stats(rows: pa.Table) -> dict[str, Any]:
    """The file's row count, and exact minimum, maximum and null count of its integer columns
    (what file skipping uses for the audit log's ``seq``)."""
    integers = [f.name for f in rows.schema if pa.types.is_integer(f.type)]
    stats: dict[str, Any] = {"numRecords": rows.num_rows}
    if integers and rows.num_rows:
        ranges = {name: pc.min_max(rows.column(name)).as_py() for name in integers}
        stats["minValues"] = {name: r["min"] for name, r in ranges.items() if r["min"] is not None}
        stats["maxValues"] = {name: r["max"] for name, r in ranges.items() if r["max"] is not None}
        stats["nullCount"] = {name: rows.column(name).null_count for name in integers}
    return stats
