"""The service's default parts: accounts from the workflow store, data from the lake.

Adapters from :mod:`jobs.store` and :mod:`jobs.service.reads` to the protocols the app uses
(:mod:`jobs.service.ports`).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from jobs.service.ports import DataAccess, Identity, Shares
from jobs.settings import Settings


class LakeAudit:
    """The lake's audit log (:mod:`jobs.audit.log`), newest first, for the auditor's view."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def newest(self, limit: int, action: str | None = None) -> list[dict[str, Any]]:
        from jobs.audit.log import read_entries
        from jobs.lake.registry import AUDIT_LOG
        from jobs.lake.tables import table_exists

        if not table_exists(AUDIT_LOG.uri(self.settings)):
            return []
        entries = [
            e for e in reversed(read_entries(self.settings)) if not action or e["action"] == action
        ]
        return [_shown_entry(e) for e in entries[:limit]]


def _shown_entry(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail") or ""
    with contextlib.suppress(ValueError):  # older entries hold plain text
        detail = json.loads(detail)
    return {
        "seq": entry["seq"],
        "at": entry["at"].isoformat() if entry.get("at") else None,
        "action": entry["action"],
        "actor": entry["actor"],
        "target": entry["target"],
        "detail": detail,
    }


def store_identity(settings: Settings) -> Identity:
    raise NotImplementedError("the workflow store (jobs.store) is not wired yet")


def lake_data(settings: Settings) -> DataAccess:
    raise NotImplementedError("the governed reads (jobs.service.reads) are not wired yet")


def lake_shares(settings: Settings) -> Shares:
    raise NotImplementedError(
        "share requests (jobs.share.grants with the store's accounts) are not wired yet"
    )
