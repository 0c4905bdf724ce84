"""A verification ticket (校核工单) as the workflow store keeps it, and back.

The store (:mod:`jobs.store.requests`) keeps one request of type ``verification`` per ticket:
the ticket's subject (what it is about) in ``subject``, the rest of its columns in ``facts``
with the procedure's own record (``workflow``, :func:`jobs.govern.ticket_rules.workflow_of`),
and one request event per ticket event. Pure conversions, no I/O: the store edges
(:mod:`jobs.govern.tickets`) and the lake snapshot (:mod:`jobs.govern.ticket_snapshot`) both
use them.
"""

from __future__ import annotations

import datetime as dt

from jobs.govern.ticket_rules import (
    SYSTEM,
    TICKET_SCHEMA,
    VERIFICATION,
    Event,
    Ticket,
    workflow_of,
)
from jobs.store import requests

#: Ticket columns kept in the request's ``subject`` (what it is about) and ``facts`` (the rest).
SUBJECT_FIELDS = (
    "issue_type",
    "rule",
    "element",
    "key_kind",
    "key",
    "base",
    "base_keys",
    "resources",
)
FACT_FIELDS = (
    "surviving_value",
    "detail",
    "values_hash",
    "first_detected_build",
    "last_detected_build",
    "last_detected_on",
)


def as_record(ticket: Ticket, version: int | None = None) -> requests.Record:
    """The store's request for a ticket (``version``: the one it was read at)."""
    facts = {name: ticket.get(name) for name in FACT_FIELDS}
    if isinstance(facts["last_detected_on"], dt.date):
        facts["last_detected_on"] = facts["last_detected_on"].isoformat()
    facts["workflow"] = workflow_of(ticket)
    filed = facts["workflow"]["filed"]
    return {
        "id": ticket["ticket_id"],
        "type": VERIFICATION.type,
        "state": ticket["state"],
        "version": version,
        "requested_by": filed["by"] if filed else SYSTEM,
        "requester_department": filed["department"] if filed else None,
        "subject": {name: ticket.get(name) for name in SUBJECT_FIELDS},
        "facts": facts,
        "cycle": ticket["cycle"],
        "opened_on": ticket["opened_on"],
        "due_on": ticket["deadline"],
        "due_provisional": bool(ticket["deadline_provisional"]),
        "extensions": int(ticket["extensions"] or 0),
        "closed_on": ticket.get("closed_on"),
        "closed_by": ticket.get("closed_by"),
        "close_reason": ticket.get("close_reason"),
        "escalated_to": ticket.get("escalated_to"),
        "escalated_on": ticket.get("escalated_on"),
        "updated_at": ticket["updated_at"],
        "departments": list(ticket.get("assigned_departments") or []),
    }


def as_ticket(record: requests.Record) -> Ticket:
    """A stored request as a ticket: the columns of :data:`TICKET_SCHEMA` and ``workflow``."""
    facts = dict(record["facts"])
    if facts.get("last_detected_on"):
        facts["last_detected_on"] = dt.date.fromisoformat(facts["last_detected_on"])
    ticket = {
        "ticket_id": record["id"],
        **{name: record["subject"].get(name) for name in SUBJECT_FIELDS},
        "assigned_departments": list(record["departments"]),
        **{name: facts.get(name) for name in FACT_FIELDS},
        "state": record["state"],
        "cycle": record["cycle"],
        "opened_on": record["opened_on"],
        "deadline": record["due_on"],
        "deadline_provisional": record["due_provisional"],
        "extensions": record["extensions"],
        "closed_on": record["closed_on"],
        "closed_by": record["closed_by"],
        "close_reason": record["close_reason"],
        "escalated_to": record["escalated_to"],
        "escalated_on": record["escalated_on"],
        "updated_at": record["updated_at"],
    }
    return {
        **{name: ticket.get(name) for name in TICKET_SCHEMA.names},
        "workflow": workflow_of(facts),
    }


def columns_of(ticket: Ticket) -> Ticket:
    """The ticket's columns only (:data:`TICKET_SCHEMA`): its row in the lake's snapshot."""
    return {name: ticket.get(name) for name in TICKET_SCHEMA.names}


def as_store_event(event: Event, by_department: str | None = None) -> requests.Event:
    """A ticket event as the store's request event."""
    return {
        "event_id": event["event_id"],
        "request_id": event["ticket_id"],
        "action": event["event"],
        "from_state": event["from_state"],
        "to_state": event["to_state"],
        "by": event["by"],
        "by_department": by_department,
        "reason": event["why"] or "",
        "at": event["at"],
        "on": event["on"],
        "due_on": event["deadline"],
        "source": event.get("build_id"),
    }


def as_ticket_event(row: requests.Event) -> Event:
    """A stored request event as a ticket event (the lake's ``ticket_events`` columns)."""
    return {
        "event_id": row["event_id"],
        "ticket_id": row["request_id"],
        "event": row["action"],
        "from_state": row["from_state"],
        "to_state": row["to_state"],
        "by": row["by"],
        "why": row["reason"],
        "at": row["at"],
        "on": row["on"],
        "deadline": row["due_on"],
        "build_id": row["source"],
    }
