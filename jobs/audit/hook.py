"""Every lake write into the audit log, through the one hook in :mod:`jobs.lake.tables`.

:func:`install_write_audit` registers an observer of committed writes (``write_table``,
``merge``, the ledger's appends and overwrites). Only writes under this settings' lake root or
re-identification root are recorded, and never the audit log's own appends (it writes through
delta-rs directly, and the observer skips its folder anyway). One observer per process: a new
install replaces the previous one, so tests with their own lake roots do not leak into each
other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jobs.audit import log
from jobs.lake import tables
from jobs.lake.registry import AUDIT_LOG
from jobs.settings import Settings

_installed: list[tables.WriteObserver] = []


def relative_target(settings: Settings, uri: str) -> str | None:
    """``uri`` relative to the lake root (``pool/gaj/hukou``), ``reid:<path>`` under the
    re-identification root, or None when it lies outside both."""
    for root, prefix in ((settings.lake_root, ""), (settings.reid_root, "reid:")):
        base = root.rstrip("/\\")
        if uri == base or uri.startswith(base + "/") or uri.startswith(base + os.sep):
            return prefix + uri[len(base) :].lstrip("/\\").replace(os.sep, "/")
    return None


def write_observer(settings: Settings, actor: str) -> tables.WriteObserver:
    """An observer that records each committed write as an audit entry (action ``write``)."""
    audit_target = AUDIT_LOG.path

    def observe(uri: str, operation: str, details: Mapping[str, Any]) -> None:
        target = relative_target(settings, uri)
        if target is None or target == audit_target:
            return
        log.record(
            settings,
            "write",
            actor=actor,
            target=target,
            detail={"operation": operation, **dict(details)},
        )

    return observe


def install_write_audit(settings: Settings, actor: str = "system") -> tables.WriteObserver:
    """Records every later write of this process in ``governance/audit_log``."""
    uninstall_write_audit()
    observer = write_observer(settings, actor)
    tables.add_write_observer(observer)
    _installed.append(observer)
    return observer


def uninstall_write_audit() -> None:
    while _installed:
        tables.remove_write_observer(_installed.pop())


@contextmanager
def write_audit(settings: Settings, actor: str = "system") -> Iterator[None]:
    """Audits every write inside the block (tasks and commands wrap their work in it)."""
    install_write_audit(settings, actor)
    try:
        yield
    finally:
        uninstall_write_audit()
