"""The reports' reads: small governance tables as Python rows, through delta-rs (no Spark).

The only module of :mod:`jobs.reports` that touches the lake. Each governance table is read
whole (they hold a few rows per batch, file or ticket) with :func:`jobs.lake.ledger.read_rows`,
which returns ``[]`` for a table that does not exist yet, so a report of a young lake shows
empty states instead of failing.

Share data belongs to the share area, which may not have written anything yet;
:func:`find_share_tables` says which of its tables exist and :func:`read_share_rows` reads them.

The procedures between departments that have no lake snapshot (error feedback, data demands)
are read from the workflow store, their one source of truth (:func:`read_requests`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.lake import ledger
from jobs.lake.registry import (
    CONFLICTS,
    INGEST_FILES,
    POOL_BATCHES,
    QUALITY_SCORECARDS,
    RECTIFICATION_TASKS,
    SHARE_GRANTS,
    VERIFICATION_TICKETS,
    LakeTable,
)
from jobs.lake.tables import table_exists
from jobs.settings import Settings, SettingsError

#: The governance tables the reports read, by the name the report code uses.
GOVERNANCE_TABLES: dict[str, LakeTable] = {
    "scorecards": QUALITY_SCORECARDS,
    "rectification_tasks": RECTIFICATION_TASKS,
    "tickets": VERIFICATION_TICKETS,
    "conflicts": CONFLICTS,
    "ingest_files": INGEST_FILES,
    "pool_batches": POOL_BATCHES,
}

#: The share area's governance tables (grants, …); the reports count shares served from them.
SHARE_TABLES: tuple[LakeTable, ...] = (SHARE_GRANTS,)


@dataclass
class ReportInputs:
    """Every row the reports are built from; each list may be empty."""

    scorecards: list[dict] = field(default_factory=list)
    rectification_tasks: list[dict] = field(default_factory=list)
    tickets: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    ingest_files: list[dict] = field(default_factory=list)
    pool_batches: list[dict] = field(default_factory=list)
    #: governance share table name → its rows; empty when the share area has written nothing.
    share_tables: dict[str, list[dict]] = field(default_factory=dict)
    #: Requests of the workflow store: error feedback (数据纠错) and data demands (需求清单).
    feedback: list[dict] = field(default_factory=list)
    demands: list[dict] = field(default_factory=list)
    #: Every request of the workflow store, of every type, and their events.
    requests: list[dict] = field(default_factory=list)
    request_events: list[dict] = field(default_factory=list)


def find_share_tables(settings: Settings) -> dict[str, str]:
    """The share area's governance tables that exist (name → URI), e.g. ``share_grants``.

    A lake without any sharing yet says so instead of showing zeros that look like a
    measurement.
    """
    uris = {table.name: table.uri(settings) for table in SHARE_TABLES}
    return {name: uri for name, uri in sorted(uris.items()) if table_exists(uri)}


def read_share_rows(settings: Settings) -> dict[str, list[dict]]:
    """Rows of every share table :func:`find_share_tables` finds."""
    return {name: ledger.read_rows(uri) for name, uri in find_share_tables(settings).items()}


def read_requests(settings: Settings) -> dict[str, list[dict]]:
    """The error feedback and data demands of the workflow store (``feedback``, ``demands``),
    and every request of every procedure with its events (``requests``, ``request_events``);
    none where no store is configured (a remote lake without ``GOVLAKE_DB_URL``)."""
    from jobs.govern.procedure import load
    from jobs.share.demands import DEMAND
    from jobs.share.feedback import FEEDBACK

    try:
        _ = settings.database_url
    except SettingsError:
        return {}
    from jobs.store import requests
    from jobs.store.db import reading

    with reading(settings) as session:
        every_request = requests.load_all(session)
        every_event = requests.events(session)
    return {
        "feedback": load(settings, FEEDBACK),
        "demands": load(settings, DEMAND),
        "requests": every_request,
        "request_events": every_event,
    }


def read_inputs(settings: Settings) -> ReportInputs:
    """Reads every table the reports need; missing tables give empty lists."""
    rows = {
        attr: ledger.read_rows(table.uri(settings)) for attr, table in GOVERNANCE_TABLES.items()
    }
    return ReportInputs(**rows, share_tables=read_share_rows(settings), **read_requests(settings))
