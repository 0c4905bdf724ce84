"""Verification tickets (校核工单): every conflict and anomaly goes to a department to verify.

DESIGN §6 and 000 §13 / 003 §23: the department answers within the policy profile's working days
(``verification_workdays``, counted on the official calendar from the day after the ticket is
opened); it may ask for one extension of at most ``verification_extension_max_workdays``; while
the ticket is open the base record stays usable and its attribute is marked disputed (异议).

Where they live: the workflow store is the source of truth (:mod:`jobs.store.requests`, one
request of type ``verification`` per ticket, one request event per transition, each checked
against :data:`VERIFICATION`); every change is also an audit entry, and the lake receives a
snapshot with the columns it has always had (:func:`write_snapshot`), for the reports, the yearly
evaluation and retention:

* ``governance/verification_tickets``: one row per ticket; ``ticket_id`` is the issue id of
  :mod:`jobs.integrate.conflicts` (stable: key + element or rule), so a ticket follows its issue
  from build to build.
* ``governance/ticket_events``: append-only, one row per thing that happened to a ticket, with
  who (``by``) and why: opened, updated, extended, confirmed, resolved, auto_resolved, reopened,
  overdue, escalated, and commented (a comment, in any state, changing nothing).

Who acts: a data officer of an assigned department, or the bureau (a quality reviewer or the
steward); of two accounts deciding one ticket at once, only the first decision is recorded.

States::

    open ──extend──▶ extended
     │  └───────┬───────┘
     │   deadline passes (jobs.govern.deadlines) ──▶ overdue ──▶ escalated
     ├──confirm──▶ confirmed   (the department verified its value: the difference stands)
     ├──resolve──▶ resolved    (corrected, or settled by the steward)
     └──a later build no longer finds the issue──▶ resolved (by ``system``)

A closed ticket whose issue comes back with different values is reopened (a new cycle with a new
deadline); the same values stay closed: they were verified.

Extensions: the profile's ``verification_max_extensions`` (1 in 鹤壁 and 云阳; 0 where the
regulation is silent, then ``extend`` refuses and says why); each extension at most
``verification_extension_max_workdays``, or, where the profile allows an extension without a
length, ``schemas/bases/verification.yaml``'s ``extension_workdays_when_unset``. An extension is
asked before the deadline passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from jobs.audit.log import record_many
from jobs.govern.ticket_policy import TicketPolicy, load_ticket_policy
from jobs.lake import ledger, tables
from jobs.lake.registry import TICKET_EVENTS, VERIFICATION_TICKETS
from jobs.policy.workdays import Deadline
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.requests import COMMENTED, STAY, Machine
from jobs.store.roles import Actor, require

OPEN, EXTENDED, OVERDUE, ESCALATED = "open", "extended", "overdue", "escalated"
RESOLVED, CONFIRMED = "resolved", "confirmed"
#: States in which the base attribute is marked disputed (异议).
OPEN_STATES: tuple[str, ...] = (OPEN, EXTENDED, OVERDUE, ESCALATED)
CLOSED_STATES: tuple[str, ...] = (RESOLVED, CONFIRMED)
SYSTEM = "system"


_TS = pa.timestamp("us", tz="UTC")

TICKET_SCHEMA = pa.schema(
    [
        ("ticket_id", pa.string()),
        ("issue_type", pa.string()),
        ("rule", pa.string()),
        ("element", pa.string()),
        ("key_kind", pa.string()),
        ("key", pa.string()),
        ("base", pa.string()),
        ("base_keys", pa.list_(pa.string())),
        ("assigned_departments", pa.list_(pa.string())),
        ("resources", pa.list_(pa.string())),
        ("surviving_value", pa.string()),
        ("detail", pa.string()),
        ("values_hash", pa.string()),
        ("state", pa.string()),
        ("cycle", pa.int32()),
        ("opened_on", pa.date32()),
        ("deadline", pa.date32()),
        ("deadline_provisional", pa.bool_()),
        ("extensions", pa.int32()),
        ("first_detected_build", pa.string()),
        ("last_detected_build", pa.string()),
        ("last_detected_on", pa.date32()),
        ("closed_on", pa.date32()),
        ("closed_by", pa.string()),
        ("close_reason", pa.string()),
        ("escalated_to", pa.string()),
        ("escalated_on", pa.date32()),
        ("updated_at", _TS),
    ]
)

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ticket_id", pa.string()),
        ("event", pa.string()),
        ("from_state", pa.string()),
        ("to_state", pa.string()),
        ("by", pa.string()),
        ("why", pa.string()),
        ("at", _TS),
        ("on", pa.date32()),
        ("deadline", pa.date32()),
        ("build_id", pa.string()),
    ]
)

Ticket = dict[str, Any]
Event = dict[str, Any]


class TicketError(ValueError):
    """An action a ticket's state or the policy profile does not allow; the message says why."""


# --- pure lifecycle -------------------------------------------------------------------------


def _event(
    ticket: Ticket,
    event: str,
    from_state: str | None,
    *,
    by: str,
    why: str,
    now: dt.datetime,
    on: dt.date,
    build_id: str | None = None,
) -> Event:
    seed = f"{ticket['ticket_id']}|{event}|{ticket['cycle']}|{now.isoformat()}|{uuid.uuid4().hex}"
    return {
        "event_id": hashlib.sha256(seed.encode()).hexdigest()[:24],
        "ticket_id": ticket["ticket_id"],
        "event": event,
        "from_state": from_state,
        "to_state": ticket["state"],
        "by": by,
        "why": why,
        "at": now,
        "on": on,
        "deadline": ticket["deadline"],
        "build_id": build_id,
    }


def _issue_fields(issue: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "issue_type": issue["issue_type"],
        "rule": issue.get("rule"),
        "element": issue.get("element"),
        "key_kind": issue["key_kind"],
        "key": issue["key"],
        "base": issue["base"],
        "base_keys": list(issue.get("base_keys") or []),
        "assigned_departments": list(issue.get("departments") or []),
        "resources": list(issue.get("resources") or []),
        "surviving_value": issue.get("surviving_value"),
        "detail": issue.get("detail"),
        "values_hash": issue["values_hash"],
    }


def _start_cycle(ticket: Ticket, deadline: Deadline, today: dt.date) -> None:
    ticket.update(
        state=OPEN,
        opened_on=today,
        deadline=deadline.date,
        deadline_provisional=deadline.provisional,
        extensions=0,
        closed_on=None,
        closed_by=None,
        close_reason=None,
        escalated_to=None,
        escalated_on=None,
    )


def plan_sync(
    existing: Mapping[str, Ticket],
    issues: Iterable[Mapping[str, Any]],
    policy: TicketPolicy,
    *,
    today: dt.date,
    now: dt.datetime,
    build_id: str,
) -> tuple[list[Ticket], list[Event]]:
    """What a build's issues do to the tickets: open, update, reopen and auto-resolve.

    Returns:
        the tickets that changed (full rows) and the events to append.
    """
    changed: list[Ticket] = []
    events: list[Event] = []
    seen: set[str] = set()
    # every ticket (re)opened today is due the same day: counted once
    deadline = policy.calendar.add_workdays(today, policy.verification_workdays)
    for issue in issues:
        ticket_id = issue["issue_id"]
        seen.add(ticket_id)
        old = existing.get(ticket_id)
        if old is None:
            ticket: Ticket = {
                "ticket_id": ticket_id,
                **_issue_fields(issue),
                "cycle": 1,
                "first_detected_build": build_id,
                "last_detected_build": build_id,
                "last_detected_on": today,
                "updated_at": now,
            }
            _start_cycle(ticket, deadline, today)
            changed.append(ticket)
            events.append(
                _event(
                    ticket,
                    "opened",
                    None,
                    by=SYSTEM,
                    why=issue.get("detail") or "",
                    now=now,
                    on=today,
                    build_id=build_id,
                )
            )
            continue
        ticket = dict(old)
        values_changed = old["values_hash"] != issue["values_hash"]
        ticket.update(_issue_fields(issue))
        ticket.update(last_detected_build=build_id, last_detected_on=today, updated_at=now)
        if old["state"] in CLOSED_STATES and values_changed:
            ticket["cycle"] = int(old["cycle"] or 1) + 1
            _start_cycle(ticket, deadline, today)
            events.append(
                _event(
                    ticket,
                    "reopened",
                    old["state"],
                    by=SYSTEM,
                    why="found again with other values: " + (issue.get("detail") or ""),
                    now=now,
                    on=today,
                    build_id=build_id,
                )
            )
        elif old["state"] in OPEN_STATES and values_changed:
            events.append(
                _event(
                    ticket,
                    "updated",
                    old["state"],
                    by=SYSTEM,
                    why=issue.get("detail") or "",
                    now=now,
                    on=today,
                    build_id=build_id,
                )
            )
        changed.append(ticket)
    for ticket_id, old in existing.items():
        if ticket_id in seen or old["state"] not in OPEN_STATES:
            continue
        ticket = dict(old)
        ticket.update(
            state=RESOLVED,
            closed_on=today,
            closed_by=SYSTEM,
            close_reason=f"no longer found by build {build_id}",
            updated_at=now,
        )
        changed.append(ticket)
        events.append(
            _event(
                ticket,
                "auto_resolved",
                old["state"],
                by=SYSTEM,
                why=ticket["close_reason"],
                now=now,
                on=today,
                build_id=build_id,
            )
        )
    return changed, events


def _require(by: str, why: str) -> None:
    if not by or not by.strip():
        raise TicketError("say who acts (--by)")
    if not why or not why.strip():
        raise TicketError("say why (--why)")


def apply_extend(
    ticket: Ticket,
    policy: TicketPolicy,
    *,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
    workdays: int | None = None,
) -> tuple[Ticket, Event]:
    """One extension (延期), asked before the deadline, of at most the profile's working days."""
    _require(by, why)
    if ticket["state"] not in (OPEN, EXTENDED):
        raise TicketError(
            f"ticket {ticket['ticket_id']} is {ticket['state']}: only an open ticket can be extended"
        )
    if int(ticket["extensions"] or 0) >= policy.max_extensions:
        allowed = policy.max_extensions
        note = f" ({policy.extension_note})" if policy.extension_note else ""
        raise TicketError(
            f"ticket {ticket['ticket_id']} has had {ticket['extensions']} extension(s); "
            f"profile {policy.profile!r} allows {allowed}{note}"
        )
    if today > ticket["deadline"]:
        raise TicketError(
            f"the deadline {ticket['deadline']} has passed: an extension is asked before it"
        )
    days = policy.extension_max_workdays if workdays is None else int(workdays)
    if not 1 <= days <= policy.extension_max_workdays:
        raise TicketError(
            f"an extension is 1 to {policy.extension_max_workdays} working days, not {days}"
        )
    deadline = policy.calendar.add_workdays(ticket["deadline"], days)
    out = dict(ticket)
    out.update(
        state=EXTENDED,
        deadline=deadline.date,
        deadline_provisional=bool(ticket["deadline_provisional"]) or deadline.provisional,
        extensions=int(ticket["extensions"] or 0) + 1,
        updated_at=now,
    )
    return out, _event(
        out, "extended", ticket["state"], by=by, why=f"{why} (+{days} wd)", now=now, on=today
    )


def apply_comment(
    ticket: Ticket, *, by: str, why: str, today: dt.date, now: dt.datetime
) -> tuple[Ticket, Event]:
    """A comment (意见) on a ticket in any state: an event, no change to the ticket."""
    _require(by, why)
    return ticket, _event(ticket, COMMENTED, ticket["state"], by=by, why=why, now=now, on=today)


def apply_close(
    ticket: Ticket, state: str, *, by: str, why: str, today: dt.date, now: dt.datetime
) -> tuple[Ticket, Event]:
    """Confirm (确认) or resolve (办结) an open ticket."""
    _require(by, why)
    if state not in CLOSED_STATES:
        raise TicketError(f"cannot close a ticket as {state!r}")
    if ticket["state"] not in OPEN_STATES:
        raise TicketError(f"ticket {ticket['ticket_id']} is already {ticket['state']}")
    out = dict(ticket)
    out.update(state=state, closed_on=today, closed_by=by, close_reason=why, updated_at=now)
    event = "confirmed" if state == CONFIRMED else "resolved"
    return out, _event(out, event, ticket["state"], by=by, why=why, now=now, on=today)


def plan_deadlines(
    tickets: Iterable[Ticket], policy: TicketPolicy, *, today: dt.date, now: dt.datetime
) -> tuple[list[Ticket], list[Event]]:
    """Open tickets past their deadline become overdue, and overdue ones escalated once they
    have been overdue ``escalate_after_overdue_workdays`` working days (0: at once): the
    deadline check of every request (:func:`jobs.govern.deadlines.plan_deadlines`), on tickets."""
    from jobs.govern import deadlines

    changed, events = deadlines.plan_deadlines(
        [_as_record(t) for t in tickets],
        policy,
        today=today,
        now=now,
        machines={VERIFICATION.type: VERIFICATION},
    )
    return [_as_ticket(r) for r in changed], [_as_ticket_event(e) for e in events]


# --- the state machine ------------------------------------------------------------------------

#: The verification ticket's transitions (jobs.store.requests checks every event against them):
#: event → (states it may start from, state it leads to); no start: it opens the ticket.
VERIFICATION = Machine(
    type="verification",
    transitions={
        "opened": ((), OPEN),
        "updated": (OPEN_STATES, STAY),
        "extended": ((OPEN, EXTENDED), EXTENDED),
        "confirmed": (OPEN_STATES, CONFIRMED),
        "resolved": (OPEN_STATES, RESOLVED),
        "auto_resolved": (OPEN_STATES, RESOLVED),
        "reopened": (CLOSED_STATES, OPEN),
        "overdue": ((OPEN, EXTENDED), OVERDUE),
        "escalated": ((OVERDUE,), ESCALATED),
    },
    open_states=OPEN_STATES,
    closed_states=CLOSED_STATES,
)


# --- store edges ------------------------------------------------------------------------------
# The workflow store is the source of truth (jobs.store.requests, type ``verification``); the
# lake's governance/verification_tickets and ticket_events are its snapshot, written after every
# change (write_snapshot) with the columns the reports, the yearly evaluation and the base
# build's 异议 marks have always read.

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
#: The Delta transaction id under which the events snapshot records the newest store event it
#: holds: the next snapshot appends the events after it, each once.
EVENTS_MARK = "govlake.snapshot.request_events.verification"


def _as_record(ticket: Ticket, version: int | None = None) -> requests.Record:
    facts = {name: ticket.get(name) for name in FACT_FIELDS}
    if isinstance(facts["last_detected_on"], dt.date):
        facts["last_detected_on"] = facts["last_detected_on"].isoformat()
    return {
        "id": ticket["ticket_id"],
        "type": VERIFICATION.type,
        "state": ticket["state"],
        "version": version,
        "requested_by": SYSTEM,
        "requester_department": None,
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


def _as_ticket(record: requests.Record) -> Ticket:
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
    return {name: ticket.get(name) for name in TICKET_SCHEMA.names}


def _as_store_event(event: Event, by_department: str | None = None) -> requests.Event:
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


def _as_ticket_event(row: requests.Event) -> Event:
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


_FILTERS = {"=": lambda value, wanted: value == wanted, "in": lambda value, wanted: value in wanted}


def read_tickets(
    settings: Settings, filters: Sequence[tuple[str, str, object]] | None = None
) -> list[Ticket]:
    """The tickets (all, or those matching every ``(column, "=" | "in", value)`` filter), as
    dicts with the columns of :data:`TICKET_SCHEMA`, oldest first."""
    for column, op, _ in filters or ():
        if op not in _FILTERS or column not in TICKET_SCHEMA.names:
            raise TicketError(f"cannot filter tickets by {column} {op}")
    with reading(settings) as session:
        rows = [_as_ticket(r) for r in requests.load(session, VERIFICATION.type)]
    return [t for t in rows if all(_FILTERS[op](t[col], value) for col, op, value in filters or ())]


def read_events(settings: Settings, ticket_id: str | None = None) -> list[Event]:
    """A ticket's events (or all), oldest first."""
    with reading(settings) as session:
        rows = requests.events(session, ticket_id, type_=VERIFICATION.type)
    return [_as_ticket_event(r) for r in rows]


def tickets_version(settings: Settings) -> int | None:
    """A number that changes whenever a ticket does (the newest ticket event in the store);
    None before the first ticket. A base build with the same inputs and the same number is
    skipped."""
    with reading(settings) as session:
        return requests.last_event_id(session, VERIFICATION.type)


def find_ticket(settings: Settings, ticket_id: str) -> Ticket:
    """The ticket with this id (or a unique prefix of it)."""
    with reading(settings) as session:
        return _as_ticket(_find(session, ticket_id))


def _find(session: Session, ticket_id: str) -> requests.Record:
    try:
        return requests.find(session, VERIFICATION.type, ticket_id)
    except requests.RequestError as exc:
        raise TicketError(str(exc).replace("verification request", "ticket")) from None


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
        [_as_record(t) for t in lake_tickets],
        [_as_store_event(e) for e in lake_events],
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
        snapshot = pa.Table.from_pylist([_as_ticket_event(r) for r in rows], schema=EVENT_SCHEMA)
        ledger.append_arrow(uri, snapshot, write_id=(EVENTS_MARK, rows[-1]["id"]))


def write_snapshot(settings: Settings, ticket_ids: Collection[str] | None = None) -> int:
    """Brings the lake's ``governance/verification_tickets`` and ``ticket_events`` in line with
    the store; returns the tickets written.

    Every ticket (or those of ``ticket_ids``: one account's decision) by a MERGE on
    ``ticket_id``, and every event after the newest the lake holds, so no event lands twice. A
    snapshot that missed a change (the lake was unreachable, the process was killed) is whole
    again after the next full one: every base build and daily deadline check writes one.
    """
    uri = VERIFICATION_TICKETS.uri(settings)
    events_uri = TICKET_EVENTS.uri(settings)
    mark = _events_mark(events_uri) if tables.table_exists(events_uri) else None
    with reading(settings) as session:
        rows = [_as_ticket(r) for r in requests.load(session, VERIFICATION.type, ids=ticket_ids)]
        new_events = requests.events(session, type_=VERIFICATION.type, after_id=mark or 0)
    _append_events(settings, new_events)
    if not rows:
        return 0
    snapshot = pa.Table.from_pylist(rows, schema=TICKET_SCHEMA)
    if tables.table_exists(uri):
        tables.merge(uri, snapshot, ["ticket_id"])
    else:
        ledger.append_arrow(uri, snapshot, write_id=f"tickets/{rows[-1]['ticket_id']}")
    return len(rows)


def _publish(
    settings: Settings, events: Sequence[Event], ticket_ids: Collection[str] | None = None
) -> None:
    """After the store committed: one audit entry per transition (who, why, which ticket: the
    log must answer "who confirmed this value" for years), then the lake snapshot (which the
    next change completes if this one fails)."""
    record_many(
        settings,
        [
            {
                "action": f"ticket_{e['event']}",
                "actor": e["by"] or "unknown",
                "target": f"{VERIFICATION_TICKETS.path}/{e['ticket_id']}",
                "detail": {
                    "why": e["why"],
                    "from": e["from_state"],
                    "to": e["to_state"],
                    # A person's decision names its event; govlake's own (a build's, the deadline
                    # check's) say the same in every run of the same inputs, without the random id.
                    **({"event_id": e["event_id"]} if e["by"] != SYSTEM else {}),
                    **({"build_id": e["build_id"]} if e.get("build_id") else {}),
                },
            }
            for e in events
        ],
    )
    write_snapshot(settings, ticket_ids)


def _write_bulk(
    session: Session,
    held: Sequence[requests.Record],
    changed: Sequence[Ticket],
    events: Sequence[Event],
) -> None:
    requests.upsert(
        session,
        VERIFICATION,
        {r["id"]: r for r in held},
        [_as_record(t) for t in changed],
        [_as_store_event(e) for e in events],
    )


def sync_tickets(
    issues: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    build_id: str,
    today: dt.date,
    now: dt.datetime,
    policy: TicketPolicy | None = None,
) -> dict[str, Any]:
    """Brings the tickets in line with a build's issues and returns a summary with the ids of
    the tickets now open (their base attributes are disputed).

    One store transaction holding every ticket's row: a decision made meanwhile waits for it,
    then finds the ticket moved and is refused rather than overwritten.
    """
    policy = policy or load_ticket_policy(settings)
    with transaction(settings) as session:
        import_lake_tickets(settings, session)
        held = requests.lock(session, VERIFICATION.type)
        existing = {r["id"]: _as_ticket(r) for r in held}
        changed, events = plan_sync(
            existing, issues, policy, today=today, now=now, build_id=build_id
        )
        _write_bulk(session, held, changed, events)
    if changed:  # events, or only the tickets' last_detected_build moved
        _publish(settings, events)
    states = {t["ticket_id"]: t["state"] for t in existing.values()}
    states.update({t["ticket_id"]: t["state"] for t in changed})
    counts: dict[str, int] = {}
    for event in events:
        counts[event["event"]] = counts.get(event["event"], 0) + 1
    return {
        "events": counts,
        "open_ticket_ids": sorted(i for i, s in states.items() if s in OPEN_STATES),
        "states": states,
    }


def _decide(
    settings: Settings,
    ticket_id: str,
    action: str,
    by: Actor,
    decision: Callable[[Ticket], tuple[Ticket, Event]],
) -> Ticket:
    """One account's decision on one ticket, in one store transaction: the actor must act for
    an assigned department (or for any, as the bureau), and of two decisions at once only the
    first is recorded."""
    with transaction(settings) as session:
        import_lake_tickets(settings, session)
        before = _find(session, ticket_id)
        ticket = _as_ticket(before)
        require(by, action, ticket["assigned_departments"] or ())
        after, event = decision(ticket)
        stored = _as_store_event(event, by.department)
        try:
            if event["event"] == COMMENTED:
                requests.comment(session, VERIFICATION, before, stored)
            else:
                requests.move(
                    session, VERIFICATION, before, _as_record(after, before["version"]), stored
                )
        except requests.RequestConflict as exc:
            raise TicketError(str(exc).replace("request", "ticket", 1)) from None
    _publish(settings, [event], [after["ticket_id"]])
    return after


def extend_ticket(
    settings: Settings,
    ticket_id: str,
    *,
    by: Actor,
    why: str,
    workdays: int | None = None,
) -> Ticket:
    """Extends a ticket once (see :func:`apply_extend`) on the bureau's today; records who and
    why.

    Raises:
        Forbidden: ``by`` is neither a data officer of an assigned department, nor a quality
            reviewer or steward of the bureau (jobs.store.roles).
        TicketError: the state or the profile does not allow it, or someone decided meanwhile.
    """
    policy = load_ticket_policy(settings)
    return _decide(
        settings,
        ticket_id,
        "ticket.extend",
        by,
        lambda ticket: apply_extend(
            ticket,
            policy,
            by=by.login,
            why=why,
            today=settings.today(),
            now=settings.now(),
            workdays=workdays,
        ),
    )


def close_ticket(
    settings: Settings,
    ticket_id: str,
    state: str,
    *,
    by: Actor,
    why: str,
) -> Ticket:
    """Confirms or resolves a ticket on the bureau's today and records who and why.

    Raises:
        Forbidden, TicketError: as for :func:`extend_ticket`.
    """
    return _decide(
        settings,
        ticket_id,
        "ticket.close",
        by,
        lambda ticket: apply_close(
            ticket, state, by=by.login, why=why, today=settings.today(), now=settings.now()
        ),
    )


def comment_ticket(settings: Settings, ticket_id: str, *, by: Actor, why: str) -> Ticket:
    """Adds a comment (意见) to a ticket, in any state; recorded and audited like a decision.

    Raises:
        Forbidden: as for :func:`extend_ticket`.
    """
    return _decide(
        settings,
        ticket_id,
        "ticket.comment",
        by,
        lambda ticket: apply_comment(
            ticket, by=by.login, why=why, today=settings.today(), now=settings.now()
        ),
    )


def publish_store_events(settings: Settings, events: Sequence[requests.Event]) -> None:
    """Audits ticket events written to the store by another module (the deadline check) and
    writes the lake's full ticket snapshot."""
    _publish(settings, [_as_ticket_event(e) for e in events])


def check_deadlines(settings: Settings, *, today: dt.date | None = None) -> dict[str, Any]:
    """The daily deadline check of every request, tickets among them
    (:func:`jobs.govern.deadlines.check_deadlines`)."""
    from jobs.govern import deadlines

    return deadlines.check_deadlines(settings, today=today)
