"""The reports' reads: small governance tables as Python rows, through delta-rs (no Spark).

The only module of :mod:`jobs.reports` that touches the lake. Each governance table is read
whole (they hold a few rows per batch, file or ticket) with :func:`jobs.lake.ledger.read_rows`,
which returns ``[]`` for a table that does not exist yet, so a report of a young lake shows
empty states instead of failing.

Share data belongs to the share area (issue 7) which may not have written anything yet;
:func:`find_share_tables` looks for it by name and :func:`read_share_rows` reads what is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.fs as pafs

from jobs.lake import ledger
from jobs.lake.bridge import _filesystem
from jobs.lake.paths import join_uri, table_uri
from jobs.lake.tables import table_exists
from jobs.settings import Settings

#: governance/<name> tables the reports read, by the name the report code uses.
GOVERNANCE_TABLES: dict[str, str] = {
    "scorecards": "quality_scorecards",  # jobs.quality.scorecards
    "rectification_tasks": "rectification_tasks",  # jobs.quality.rectification
    "tickets": "verification_tickets",  # jobs.govern.tickets
    "conflicts": "conflicts",  # jobs.integrate.build (ISSUE_COLUMNS + ticket_state)
    "ingest_files": "ingest_files",  # jobs.ingest.pipeline file log
    "pool_batches": "pool_batches",  # jobs.ingest.pipeline promotion outcomes
}

#: Name prefix of the share area's governance tables (grants, requests, deliveries, …).
SHARE_TABLE_PREFIX = "share"


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


def find_share_tables(settings: Settings) -> dict[str, str]:
    """``governance/share*`` Delta tables that exist (name → URI), e.g. ``share_grants``.

    The share area owns their layout; the reports only look for them, so that a lake without
    any sharing yet says so instead of showing zeros that look like a measurement.
    """
    governance = join_uri(settings.lake_root, "governance")
    fs, root = _filesystem(governance)
    try:
        entries = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {}
    for entry in entries:
        if entry.type == pafs.FileType.Directory and entry.base_name.startswith(SHARE_TABLE_PREFIX):
            uri = table_uri(settings, "governance", entry.base_name)
            if table_exists(uri):
                found[entry.base_name] = uri
    return dict(sorted(found.items()))


def read_share_rows(settings: Settings) -> dict[str, list[dict]]:
    """Rows of every share table :func:`find_share_tables` finds."""
    return {name: ledger.read_rows(uri) for name, uri in find_share_tables(settings).items()}


def read_inputs(settings: Settings) -> ReportInputs:
    """Reads every table the reports need; missing tables give empty lists."""
    rows = {
        attr: ledger.read_rows(table_uri(settings, "governance", name))
        for attr, name in GOVERNANCE_TABLES.items()
    }
    return ReportInputs(**rows, share_tables=read_share_rows(settings))
