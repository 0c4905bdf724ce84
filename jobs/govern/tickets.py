"""Verification tickets (校核工单): every conflict and anomaly goes to a department to verify.

DESIGN §6 and 000 §13 / 003 §23: the department answers within the policy profile's working days
(``verification_workdays``, counted on the official calendar from the day after the ticket is
opened); it may ask for one extension of at most ``verification_extension_max_workdays``; while
the ticket is open the base record stays usable and its attribute is marked disputed (异议).

Tables (small; written through delta-rs, no Spark job):

* ``governance/verification_tickets``: one row per ticket; ``ticket_id`` is the issue id of
  :mod:`jobs.integrate.conflicts` (stable: key + element or rule), so a ticket follows its issue
  from build to build.
* ``governance/ticket_events``: append-only, one row per thing that happened to a ticket, with
  who (``by``) and why: opened, updated, extended, confirmed, resolved, auto_resolved, reopened,
  overdue, escalated.

States::

    open ──extend──▶ extended
     │  └───────┬───────┘
     │   deadline passes (check_deadlines) ──▶ overdue ──▶ escalated
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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from jobs.audit import record
from jobs.govern.ticket_policy import TicketPolicy, load_ticket_policy
from jobs.lake import ledger, tables
from jobs.lake.registry import TICKET_EVENTS, VERIFICATION_TICKETS
from jobs.settings import Settings
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


def _start_cycle(ticket: Ticket, policy: TicketPolicy, today: dt.date) -> None:
    deadline = policy.calendar.add_workdays(today, policy.verification_workdays)
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
            _start_cycle(ticket, policy, today)
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
            _start_cycle(ticket, policy, today)
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
    have been overdue ``escalate_after_overdue_workdays`` working days (0: at once)."""
    changed: list[Ticket] = []
    events: list[Event] = []
    for old in tickets:
        ticket = dict(old)
        if ticket["state"] in (OPEN, EXTENDED) and today > ticket["deadline"]:
            ticket.update(state=OVERDUE, updated_at=now)
            events.append(
                _event(
                    ticket,
                    "overdue",
                    old["state"],
                    by=SYSTEM,
                    why=f"deadline {ticket['deadline']} passed",
                    now=now,
                    on=today,
                )
            )
        if ticket["state"] == OVERDUE:
            late = policy.calendar.workdays_between(ticket["deadline"], today)
            if late >= policy.escalate_after_overdue_workdays:
                ticket.update(
                    state=ESCALATED,
                    escalated_to=policy.escalate_to,
                    escalated_on=today,
                    updated_at=now,
                )
                events.append(
                    _event(
                        ticket,
                        "escalated",
                        OVERDUE,
                        by=SYSTEM,
                        why=f"{late} working day(s) past the deadline {ticket['deadline']}",
                        now=now,
                        on=today,
                    )
                )
        if ticket["state"] != old["state"]:
            changed.append(ticket)
    return changed, events


# --- lake edges -----------------------------------------------------------------------------


def read_tickets(
    settings: Settings, filters: Sequence[tuple[str, str, object]] | None = None
) -> list[Ticket]:
    """The tickets (all, or those matching delta-rs ``filters``), as dicts."""
    return ledger.read_rows(VERIFICATION_TICKETS.uri(settings), filters)


def read_events(settings: Settings, ticket_id: str | None = None) -> list[Event]:
    """A ticket's events (or all), oldest first."""
    filters = [("ticket_id", "=", ticket_id)] if ticket_id else None
    rows = ledger.read_rows(TICKET_EVENTS.uri(settings), filters)
    return sorted(rows, key=lambda r: (r["at"], r["event_id"]))


def tickets_version(settings: Settings) -> int | None:
    """The tickets table's current version (None before the first ticket)."""
    uri = VERIFICATION_TICKETS.uri(settings)
    if not tables.table_exists(uri):
        return None
    return int(tables.history(uri, limit=1)[0]["version"])


def _normalised(ticket: Ticket) -> Ticket:
    return {name: ticket.get(name) for name in TICKET_SCHEMA.names}


def save(
    settings: Settings, changed: Sequence[Ticket], events: Sequence[Event], write_id: str
) -> None:
    """Appends the events, then upserts the changed tickets (delta-rs MERGE on ticket_id).

    Events go first: a retry with the same ``write_id`` appends nothing twice, and the merge
    that follows is idempotent by itself.
    """
    if events:
        ledger.append_arrow(
            TICKET_EVENTS.uri(settings),
            pa.Table.from_pylist(list(events), schema=EVENT_SCHEMA),
            write_id=f"ticket_events/{write_id}",
        )
    if not changed:
        return
    rows = pa.Table.from_pylist([_normalised(t) for t in changed], schema=TICKET_SCHEMA)
    uri = VERIFICATION_TICKETS.uri(settings)
    if not tables.table_exists(uri):
        ledger.append_arrow(uri, rows, write_id=f"tickets/{write_id}")
        return
    tables.merge(uri, rows, ["ticket_id"])


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
    the tickets now open (their base attributes are disputed)."""
    policy = policy or load_ticket_policy(settings)
    existing = {t["ticket_id"]: t for t in read_tickets(settings)}
    changed, events = plan_sync(existing, issues, policy, today=today, now=now, build_id=build_id)
    save(settings, changed, events, write_id=f"build/{build_id}")
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


def find_ticket(settings: Settings, ticket_id: str) -> Ticket:
    """The ticket with this id (or a unique prefix of it)."""
    rows = read_tickets(settings)
    matches = [t for t in rows if t["ticket_id"] == ticket_id] or [
        t for t in rows if t["ticket_id"].startswith(ticket_id)
    ]
    if not matches:
        raise TicketError(f"no ticket {ticket_id!r}")
    if len(matches) > 1:
        raise TicketError(f"{ticket_id!r} matches {len(matches)} tickets; give more characters")
    return matches[0]


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
        Forbidden: ``by`` is neither a data officer of an assigned department nor a quality
            reviewer (jobs.store.roles).
    """
    ticket = find_ticket(settings, ticket_id)
    require(by, "ticket.extend", ticket["assigned_departments"] or ())
    ticket, event = apply_extend(
        ticket,
        load_ticket_policy(settings),
        by=by.login,
        why=why,
        today=settings.today(),
        now=settings.now(),
        workdays=workdays,
    )
    save(settings, [ticket], [event], write_id=event["event_id"])
    _audit_steward_action(settings, event)
    return ticket


def _audit_steward_action(settings: Settings, event: Event) -> None:
    """A steward's decision is an audit entry of its own (who, why, which ticket), not only
    the ledger writes it causes: the log must answer "who confirmed this value" for years."""
    record(
        settings,
        f"ticket_{event['event']}",
        actor=event["by"] or "unknown",
        target=f"{VERIFICATION_TICKETS.path}/{event['ticket_id']}",
        detail={"why": event["why"], "event_id": event["event_id"]},
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
        Forbidden: as for :func:`extend_ticket`.
    """
    ticket = find_ticket(settings, ticket_id)
    require(by, "ticket.close", ticket["assigned_departments"] or ())
    ticket, event = apply_close(
        ticket,
        state,
        by=by.login,
        why=why,
        today=settings.today(),
        now=settings.now(),
    )
    save(settings, [ticket], [event], write_id=event["event_id"])
    _audit_steward_action(settings, event)
    return ticket


def check_deadlines(settings: Settings, *, today: dt.date | None = None) -> dict[str, Any]:
    """The daily deadline check (a governance DAG runs it): overdue and escalated tickets.

    Idempotent: a second run on the same day changes nothing.

    Args:
        today: the day to check for (default: today in the bureau's time zone).
    """
    day, now = today or settings.today(), settings.now()
    tickets = read_tickets(settings, [("state", "in", [OPEN, EXTENDED, OVERDUE])])
    changed, events = plan_deadlines(tickets, load_ticket_policy(settings), today=day, now=now)
    save(
        settings,
        changed,
        events,
        write_id=f"deadlines/{day.isoformat()}/{len(events)}/{now.timestamp()}",
    )
    return {
        "today": day.isoformat(),
        "checked": len(tickets),
        "overdue": sum(1 for e in events if e["event"] == "overdue"),
        "escalated": sum(1 for e in events if e["event"] == "escalated"),
    }
