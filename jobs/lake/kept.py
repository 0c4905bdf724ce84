"""Delta tables kept open by a long-running process (the department service; the ledger's reads
and appends, :mod:`jobs.lake.ledger`), brought up to their newest version at each use instead
of opened afresh.

Opening a table replays its log from the last checkpoint: tens of milliseconds for the audit
log, which gains a commit with every read the service answers. Bringing a kept table up to date
reads only the commits made since (when there are none, one look for the next commit file). A
table removed and rebuilt under the same path (a share refresh rewrites its folder; a restore
puts an older log back) is noticed — the commit file the kept table last read is gone or was
written again — and opened afresh, so a kept table never mixes two tables' logs.

A :class:`KeptTable` is not safe for concurrent use: its callers serialise (the audit log's
append lock; the lock :func:`kept` hands out with it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from jobs.lake.files import filesystem


def _commit_file(uri: str, version: int) -> tuple[Any, str]:
    fs, root = filesystem(uri)
    return fs, f"{root.rstrip('/')}/_delta_log/{version:020d}.json"


def signature_of(uri: str, version: int) -> tuple[int, Any] | None:
    """Size and modification time of a version's commit file; None when it is not there."""
    import pyarrow.fs as pafs

    fs, path = _commit_file(uri, version)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        return None
    return info.size, info.mtime_ns if info.mtime_ns is not None else info.mtime


class KeptTable:
    """One table kept open: :meth:`refreshed` gives it at its newest version."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        #: What the user derived from the table's current version (the audit log's head): kept
        #: while the table stays at that version, cleared when it moves or is opened afresh.
        self.memo: Any = None
        self._table: Any = None
        self._seen: tuple[int, tuple[int, Any] | None] | None = None

    def refreshed(self) -> Any:
        """The table (a ``deltalake.DeltaTable``) at its newest version, or None when there is
        no table at the path."""
        from deltalake import DeltaTable

        if self._table is not None and self._still_the_same():
            # Commits are numbered without gaps: no next commit file, nothing to read.
            if signature_of(self.uri, self._table.version() + 1) is not None:
                try:
                    self._table.update_incremental()
                except Exception:  # the log changed under it in a way it cannot follow
                    self._table = None
        else:
            self._table = None
        if self._table is None:
            self._seen = None
            if not DeltaTable.is_deltatable(self.uri):
                return None
            self._table = DeltaTable(self.uri)
        self._note()
        return self._table

    def remember(self, memo: Any = None) -> None:
        """After a commit made through the table: notes its new version, and ``memo``."""
        self._note()
        self.memo = memo

    def forget(self) -> None:
        """Opens the table afresh next time (after a failed write through it)."""
        self._table = None
        self._seen = None
        self.memo = None

    def _note(self) -> None:
        version = self._table.version()
        if self._seen is None or self._seen[0] != version:
            self.memo = None
        self._seen = (version, signature_of(self.uri, version))

    def _still_the_same(self) -> bool:
        if self._seen is None:
            return False
        version, signature = self._seen
        return signature is not None and signature_of(self.uri, version) == signature


@dataclass
class _Entry:
    kept: KeptTable
    lock: threading.Lock


_kept: dict[str, _Entry] = {}
_kept_lock = threading.Lock()


def kept(uri: str) -> tuple[KeptTable, threading.Lock]:
    """The process's kept table for ``uri`` and the lock its users hold while using it."""
    with _kept_lock:
        entry = _kept.get(uri)
        if entry is None:
            entry = _kept[uri] = _Entry(KeptTable(uri), threading.Lock())
        return entry.kept, entry.lock
