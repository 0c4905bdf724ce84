"""One writer per resource at a time, whatever starts it (Airflow, the CLI, a second scheduler).

Two ingestions of one resource that overlap read the same file log, find the same batches new
and both write them. :func:`resource_lock` serialises them: the second run waits for the first
(which leaves nothing for it to do) and fails clearly, naming the holder, if it waits too long.

Where the lock lives:

* **local lake root** (the embedded default, one machine or a shared POSIX/NFS volume): a file
  ``_locks/<dept>.<resource>.lock`` under the lake root, held with ``flock``. The kernel drops
  the lock when its holder exits, however it exits (``kill -9`` included), so a lock is never
  stale; the file keeps the holder's host, pid and start time for the message, and is never
  deleted (deleting a file others may be waiting on would let two writers lock two files).
* **object-store lake root** (``s3://…``): an object store has no lock a crashed holder gives
  back, so the lock file lives in a host-local folder and only serialises writers on one
  machine. Across machines the Delta commit protocol is what holds: every lake write of an
  ingestion carries an app-transaction id derived from its content, checked against the very
  snapshot the commit is made on, so the second of two identical commits fails the conflict
  check and is counted as already applied (:func:`jobs.lake.ledger.append_arrow`,
  :func:`jobs.lake.bridge.commit_write`), and the row accounting reads the tables themselves.

The lock is re-entrant within a process: :func:`jobs.ingest.pipeline.ingest_resource` holds it
across its three steps, and each step (an Airflow task on its own) takes it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator

from jobs.lake.files import local_path
from jobs.lake.paths import join_uri
from jobs.settings import Settings

#: How long a run waits for the resource before it fails (an Airflow retry tries again later).
WAIT_SECONDS = 600.0
_POLL_SECONDS = 0.2

#: Lock file path → (open descriptor, depth) of the locks this process holds.
_held: dict[str, list] = {}


class ResourceBusyError(RuntimeError):
    """Another run holds the resource's lock and did not release it within the wait."""


def lock_path(settings: Settings, resource_id: str) -> str:
    """The lock file of one resource (see the module docstring for local vs object store)."""
    name = resource_id.replace("/", "_") + ".lock"
    root = local_path(settings.lake_root)
    if root is None:
        digest = hashlib.sha256(settings.lake_root.encode()).hexdigest()[:16]
        return os.path.join(tempfile.gettempdir(), "govlake-locks", digest, name)
    return join_uri(root, "_locks", name)


@contextlib.contextmanager
def resource_lock(
    settings: Settings, resource_id: str, *, wait_seconds: float = WAIT_SECONDS
) -> Iterator[dict]:
    """Holds the resource's writer lock for the ``with`` block.

    Yields:
        the holder record written into the lock file (host, pid, started_at).

    Raises:
        ResourceBusyError: another process held the lock for all of ``wait_seconds``; the
            message names that holder.
    """
    path = lock_path(settings, resource_id)
    if path in _held:
        _held[path][1] += 1
        try:
            yield _held[path][2]
        finally:
            _held[path][1] -= 1
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ResourceBusyError(
                        f"{resource_id} is being ingested by another run "
                        f"({_holder_text(path)}); waited {wait_seconds:g} s, nothing written"
                    ) from None
                time.sleep(_POLL_SECONDS)
        holder = {
            "resource": resource_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": settings.now().isoformat(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        _held[path] = [fd, 1, holder]
        try:
            yield holder
        finally:
            del _held[path]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
        return f"pid {holder['pid']} on {holder['host']} since {holder['started_at']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
