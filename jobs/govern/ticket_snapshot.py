"""The lake's copy of the verification tickets (校核), written from the workflow store.

The store is the source of truth (:mod:`jobs.govern.tickets`); after every change the lake
receives what the reports, the yearly evaluation, retention and the base build read, by delta-rs
(no Spark: a department's decision writes a few rows):

* ``governance/verification_tickets``: one row per ticket (:data:`TICKET_SCHEMA`), by a MERGE;
* ``governance/ticket_events``: append-only, one row per ticket event, each once;
* ``governance/disputed_marks``: one row per (open ticket, base key): the 异议 marks as they are
  now. The base build stamps ``disputed_elements`` on every base row from the same marks, but
  only when it runs; this table follows each ticket when it is opened, answered or closed, and
  a reader that must know the mark now (the service's record view) joins it
  (:func:`disputed_elements`);
* ``governance/verification_corrections``: one row per correction a department made, for the
  reports and retention (the base build reads the store's own, :func:`jobs.govern.tickets.
  read_corrections`, so a snapshot that failed does not lose a correction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from jobs.govern.ticket_records import as_record, as_store_event, as_ticket, as_ticket_event
from jobs.govern.ticket_rules import (
    EVENT_SCHEMA,
    OPEN_STATES,
    TICKET_SCHEMA,
    VERIFICATION,
    Ticket,
    workflow_of,
)
from jobs.lake import ledger, tables
from jobs.lake.registry import (
    DISPUTED_MARKS,
    TICKET_EVENTS,
    VERIFICATION_CORRECTIONS,
    VERIFICATION_TICKETS,
)
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading

#: The Delta transaction id under which the events snapshot records the newest store event it
#: holds: the next snapshot appends the events after it, each once.
EVENTS_MARK = "govlake.snapshot.request_events.verification"

#: ``governance/disputed_marks``: one row per (open ticket, base key).
MARKS_SCHEMA = pa.schema(
    [
        ("base", pa.string()),
        ("base_key", pa.string()),
        ("element", pa.string()),
        ("ticket_id", pa.string()),
        ("state", pa.string()),
        ("opened_on", pa.date32()),
    ]
)
#: ``governance/verification_corrections``: one row per correction.
CORRECTIONS_SCHEMA = pa.schema(
    [
        ("ticket_id", pa.string()),
        ("key_kind", pa.string()),
        ("key", pa.string()),
        ("element", pa.string()),
        ("value", pa.string()),
        ("department", pa.string()),
        # the resource the observation is filed under when the department states the element
        # in no record of the key yet: its authoritative resource, or the ticket's first of its own
        ("resource", pa.string()),
        ("corrected_at", pa.timestamp("us", tz="UTC")),
        ("corrected_by", pa.string()),
    ]
)


def import_lake_tickets(settings: Settings, session: Session) -> int:
    """Copies the lake's tickets and their events into an empty store: a lake whose tickets
    predate the store. Returns how many tickets were copied (0 when the store holds some)."""
    uri = VERIFICATION_TICKETS.uri(settings)
    if requests.count(session, VERIFICATION.type) or not tables.table_exists(uri):
        return 0
    lake_tickets = ledger.read_rows(uri)
    lake_events = sorted(
        ledger.read_rows(TICKET_EVENTS.uri(settings)) if lake_tickets else [],
        key=lambda r: (r["at"], r["event_id"]),
    )
    requests.insert_as_found(
        session,
        [as_record(t) for t in lake_tickets],
        [as_store_event(e) for e in lake_events],
    )
    return len(lake_tickets)


def _events_mark(uri: str) -> int | None:
    from deltalake import DeltaTable

    return DeltaTable(uri).transaction_version(EVENTS_MARK)


def _append_events(settings: Settings, rows: Sequence[requests.Event]) -> None:
    """Appends the store's events the lake's ``ticket_events`` does not hold yet."""
    uri = TICKET_EVENTS.uri(settings)
    exists = tables.table_exists(uri)
    if exists and _events_mark(uri) is None:
        # written before the store (or copied into it): skip the events it already has
        held = {r["event_id"] for r in ledger.read_rows(uri)}
        rows = [r for r in rows if r["event_id"] not in held]
    if rows:
        snapshot = pa.Table.from_pylist([as_ticket_event(r) for r in rows], schema=EVENT_SCHEMA)
        ledger.append_arrow(uri, snapshot, write_id=(EVENTS_MARK, rows[-1]["id"]))


def open_marks(tickets: Iterable[Ticket]) -> list[dict[str, Any]]:
    """The 异议 marks of the open tickets among ``tickets``: one per (ticket, base key) of a
    ticket that names a data element (a rule about a whole record marks none)."""
    return [
        {
            "base": t["base"],
            "base_key": key,
            "element": t["element"],
            "ticket_id": t["ticket_id"],
            "state": t["state"],
            "opened_on": t["opened_on"],
        }
        for t in tickets
        if t["state"] in OPEN_STATES and t.get("element") and t.get("base")
        for key in t.get("base_keys") or ()
    ]


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def write_marks(settings: Settings, rows: Sequence[Ticket], whole: bool) -> None:
    """``governance/disputed_marks`` from ``rows``: every open ticket's marks (``whole``), or
    those of these tickets only (one decision), in one delta-rs commit."""
    uri = DISPUTED_MARKS.uri(settings)
    marks = pa.Table.from_pylist(open_marks(rows), schema=MARKS_SCHEMA)
    if whole or not tables.table_exists(uri):
        if tables.table_exists(uri):
            tables.merge(uri, marks, ["ticket_id", "base_key"], delete_unmatched=True)
        else:
            ledger.append_arrow(uri, marks, write_id="disputed_marks/created")
        return
    ledger.overwrite_where(uri, marks, f"ticket_id IN ({_quoted(t['ticket_id'] for t in rows)})")


def corrections_of(tickets: Iterable[Ticket]) -> list[dict[str, Any]]:
    """One row per correction of ``tickets`` (:data:`CORRECTIONS_SCHEMA`)."""
    out = []
    for ticket in tickets:
        for made in workflow_of(ticket)["corrections"]:
            department = made["department"]
            own = [r for r in ticket.get("resources") or () if r.split(".", 1)[0] == department]
            out.append(
                {
                    "ticket_id": ticket["ticket_id"],
                    "key_kind": ticket["key_kind"],
                    "key": ticket["key"],
                    "element": ticket["element"],
                    "value": made["value"],
                    "department": department,
                    "resource": own[0] if own else f"{department}.verification",
                    "corrected_at": dt.datetime.fromisoformat(made["at"]),
                    "corrected_by": made["by"],
                }
            )
    return out


def write_corrections(settings: Settings, rows: Sequence[Ticket]) -> None:
    """Adds the corrections of ``rows`` that ``governance/verification_corrections`` does not
    hold yet (a MERGE on ticket, department and time: each correction once)."""
    corrections = corrections_of(rows)
    if not corrections:
        return
    uri = VERIFICATION_CORRECTIONS.uri(settings)
    table = pa.Table.from_pylist(corrections, schema=CORRECTIONS_SCHEMA)
    if tables.table_exists(uri):
        tables.merge(uri, table, ["ticket_id", "department", "corrected_at"])
    else:
        ledger.append_arrow(uri, table, write_id="verification_corrections/created")


def lake_corrections(settings: Settings) -> pa.Table:
    """The lake's ``governance/verification_corrections`` (:data:`CORRECTIONS_SCHEMA`; no rows
    before the first): the store's corrections as of the last snapshot."""
    table = ledger.read_arrow(VERIFICATION_CORRECTIONS.uri(settings))
    return CORRECTIONS_SCHEMA.empty_table() if table is None else table


def disputed_elements(settings: Settings, base: str, keys: Collection[str]) -> dict[str, list[str]]:
    """Base key → the elements marked disputed (异议) now, for the keys of ``base`` that have
    any: the live marks, which the base table's ``disputed_elements`` matches after a build."""
    table = ledger.read_arrow(
        DISPUTED_MARKS.uri(settings),
        [("base", "=", base), ("base_key", "in", sorted(set(keys)))],
        ["base_key", "element"],
    )
    out: dict[str, set[str]] = {}
    for row in table.to_pylist() if table is not None else ():
        out.setdefault(row["base_key"], set()).add(row["element"])
    return {key: sorted(elements) for key, elements in sorted(out.items())}


def write_snapshot(settings: Settings, ticket_ids: Collection[str] | None = None) -> int:
    """Brings the lake's ``governance/verification_tickets``, ``ticket_events``,
    ``disputed_marks`` and ``verification_corrections`` in line with the store; returns the
    tickets written.

    Every ticket (or those of ``ticket_ids``: one account's decision) by a MERGE on
    ``ticket_id``, and every event after the newest the lake holds, so no event lands twice. A
    snapshot that missed a change (the lake was unreachable, the process was killed) is whole
    again after the next full one: every base build and daily deadline check writes one. Two
    snapshots at once (two decisions at the same instant) take turns, and one that loses a
    commit race to another process reads the store and the lake again
    (:func:`jobs.lake.ledger.write_snapshot_of`).
    """
    return ledger.write_snapshot_of(
        VERIFICATION_TICKETS.uri(settings), lambda: _write_snapshot(settings, ticket_ids)
    )


def _write_snapshot(settings: Settings, ticket_ids: Collection[str] | None) -> int:
    uri = VERIFICATION_TICKETS.uri(settings)
    events_uri = TICKET_EVENTS.uri(settings)
    mark = _events_mark(events_uri) if tables.table_exists(events_uri) else None
    with reading(settings) as session:
        rows = [as_ticket(r) for r in requests.load(session, VERIFICATION.type, ids=ticket_ids)]
        new_events = requests.events(session, type_=VERIFICATION.type, after_id=mark or 0)
    _append_events(settings, new_events)
    if not rows:
        return 0
    write_marks(settings, rows, whole=ticket_ids is None)
    write_corrections(settings, rows)
    snapshot = pa.Table.from_pylist(rows, schema=TICKET_SCHEMA)
    if tables.table_exists(uri):
        tables.merge(uri, snapshot, ["ticket_id"])
    else:
        ledger.append_arrow(uri, snapshot, write_id=f"tickets/{rows[-1]['ticket_id']}")
    return len(rows)
