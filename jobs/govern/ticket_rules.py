"""The rules of a verification ticket (校核工单): states, transitions, deadlines, as plain functions.

DESIGN §6 and 000 §13 / 003 §23: the department answers within the policy profile's working days
(``verification_workdays``, counted on the official calendar from the day after the ticket is
opened); it may ask for one extension of at most ``verification_extension_max_workdays``, which
the bureau approves or refuses; while the ticket is open the base record stays usable and its
attribute is marked disputed (异议).

Every function here takes a ticket (a dict with the columns of :data:`TICKET_SCHEMA`, plus
``workflow``: what the procedure keeps besides, see :func:`workflow_of`) and returns the ticket
after the transition with its event; nothing here reads or writes. A build's issues move tickets
here (:func:`plan_sync`); how departments and the bureau answer is
:mod:`jobs.govern.ticket_answers`. The store edges
(:mod:`jobs.govern.tickets`) load, check who acts, and write; the lake receives a snapshot
(:mod:`jobs.govern.ticket_snapshot`).

Who acts: a data officer of an assigned department answers (confirm, correct, dispute, ask for an
extension); the bureau's steward approves or refuses an extension and settles a dispute; the bureau
(a quality reviewer or the steward) may confirm or resolve any ticket.

States::

    open ──ask for an extension (stays open)──▶ bureau approves ──▶ extended
     │  └───────┬──────────┘                    (or refuses: stays)
     │   deadline passes (jobs.govern.deadlines) ──▶ overdue ──▶ escalated
     ├──confirm──▶ confirmed   (the department verified its value: the difference stands)
     ├──resolve──▶ resolved    (settled by the bureau)
     ├──correct──▶ corrected   (the corrected value is the department's observation in the next
     │                          build; the build closes the ticket when the conflict is gone,
     │                          or opens it again when it is not)
     ├──dispute──▶ disputed    (the department contests the finding: the bureau coordinates,
     │                          协调核实 003 §26, and confirms or resolves)
     └──a later build no longer finds the issue──▶ resolved (by ``system``)

A ticket comes from a base build (one per conflict or anomaly: ``issue_type`` conflict | anomaly)
or is filed (``issue_type`` request): a using department, or the bureau for a citizen or legal
person, asks the authoritative department to verify a record
(:func:`jobs.govern.ticket_answers.file_request`). A build never
closes a filed ticket by not finding it; a corrected filed ticket closes at the first build after
the correction.

A closed ticket whose issue comes back with different values is reopened (a new cycle with a new
deadline); the same values stay closed: they were verified.

Extensions: the profile's ``verification_max_extensions`` (1 in 鹤壁 and 云阳; 0 where the
regulation is silent, then the request is refused and says why) counts the extensions asked in a
cycle, granted or not; each at most ``verification_extension_max_workdays``, or, where the profile
allows an extension without a length, ``schemas/bases/verification.yaml``'s
``extension_workdays_when_unset``. An extension is asked before the deadline passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from jobs.govern.ticket_policy import TicketPolicy
from jobs.policy.workdays import Deadline
from jobs.store.requests import COMMENTED, STAY, Machine

OPEN, EXTENDED, OVERDUE, ESCALATED = "open", "extended", "overdue", "escalated"
RESOLVED, CONFIRMED = "resolved", "confirmed"
CORRECTED, DISPUTED = "corrected", "disputed"
#: States in which the department owes an answer (the deadline runs).
ANSWERABLE: tuple[str, ...] = (OPEN, EXTENDED, OVERDUE, ESCALATED)
#: Answered, not closed: a correction waits for the next build, a dispute for the bureau.
ANSWERED: tuple[str, ...] = (CORRECTED, DISPUTED)
#: States in which the base attribute is marked disputed (异议).
OPEN_STATES: tuple[str, ...] = (*ANSWERABLE, *ANSWERED)
CLOSED_STATES: tuple[str, ...] = (RESOLVED, CONFIRMED)
SYSTEM = "system"
#: ``issue_type`` of a filed verification request (a build's tickets: conflict | anomaly).
FILED = "request"


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


def workflow_of(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """What the procedure keeps about a ticket besides its columns, JSON-ready (a copy):

    * ``extensions_asked``: extensions asked in this cycle, granted or not;
    * ``extension_request``: the one waiting for the bureau (workdays, why, by, on), or None;
    * ``answered_on``: the day the department corrected or disputed, in this cycle;
    * ``dispute``: the department's objection (why, by, department, on), or None;
    * ``corrections``: every correction ever made (department, value, by, at, ticket cycle): each
      is that department's observation in every later build;
    * ``filed``: who filed the request and why (by, department, problem, on_behalf_of), or None.
    """
    kept = dict(ticket.get("workflow") or {})
    return {
        "extensions_asked": int(kept.get("extensions_asked") or 0),
        "extension_request": kept.get("extension_request"),
        "answered_on": kept.get("answered_on"),
        "dispute": kept.get("dispute"),
        "corrections": list(kept.get("corrections") or []),
        "filed": kept.get("filed"),
    }


def last_correction_at(ticket: Mapping[str, Any]) -> dt.datetime | None:
    """When the ticket's latest correction was made (None: never corrected)."""
    corrections = workflow_of(ticket)["corrections"]
    return dt.datetime.fromisoformat(corrections[-1]["at"]) if corrections else None


# --- pure lifecycle -------------------------------------------------------------------------


def new_event(
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
    """The event of ``ticket``'s transition (``ticket`` as it is after it) from ``from_state``."""
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


def start_cycle(ticket: Ticket, deadline: Deadline, today: dt.date) -> None:
    """Opens a new cycle of ``ticket`` today, due on ``deadline``: a new answer is owed."""
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
    workflow = workflow_of(ticket)
    # A new cycle: a new answer is owed; the corrections made stay observations.
    workflow.update(extensions_asked=0, extension_request=None, answered_on=None, dispute=None)
    ticket["workflow"] = workflow


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

    A corrected ticket the build still finds is opened again, if the correction predates the
    build (``now``, its start): the correction did not clear the conflict. A filed ticket is
    never resolved by a build not finding it; once corrected, the first build after the
    correction closes it.

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
            start_cycle(ticket, deadline, today)
            changed.append(ticket)
            events.append(
                new_event(
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
            start_cycle(ticket, deadline, today)
            events.append(
                new_event(
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
        elif old["state"] == CORRECTED and _corrected_before(old, now):
            ticket["state"] = OPEN
            events.append(
                new_event(
                    ticket,
                    "rechecked",
                    CORRECTED,
                    by=SYSTEM,
                    why="still found after the correction: " + (issue.get("detail") or ""),
                    now=now,
                    on=today,
                    build_id=build_id,
                )
            )
        elif old["state"] in OPEN_STATES and values_changed:
            events.append(
                new_event(
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
        if old["issue_type"] != FILED:
            reason = f"no longer found by build {build_id}"
        elif old["state"] == CORRECTED and _corrected_before(old, now):
            reason = f"the correction is an observation of build {build_id}"
        else:
            continue
        ticket = dict(old)
        ticket.update(
            state=RESOLVED,
            closed_on=today,
            closed_by=SYSTEM,
            close_reason=reason,
            updated_at=now,
        )
        changed.append(ticket)
        events.append(
            new_event(
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


def _corrected_before(ticket: Ticket, now: dt.datetime) -> bool:
    corrected_at = last_correction_at(ticket)
    return corrected_at is not None and corrected_at < now


def require_who_and_why(by: str, why: str) -> None:
    """Raises :class:`TicketError` unless the action says who acts and why."""
    if not by or not by.strip():
        raise TicketError("say who acts (--by)")
    if not why or not why.strip():
        raise TicketError("say why (--why)")


def apply_comment(
    ticket: Ticket, *, by: str, why: str, today: dt.date, now: dt.datetime
) -> tuple[Ticket, Event]:
    """A comment (意见) on a ticket in any state: an event, no change to the ticket."""
    require_who_and_why(by, why)
    return ticket, new_event(ticket, COMMENTED, ticket["state"], by=by, why=why, now=now, on=today)


def apply_close(
    ticket: Ticket, state: str, *, by: str, why: str, today: dt.date, now: dt.datetime
) -> tuple[Ticket, Event]:
    """Confirm (确认) or resolve (办结) an open ticket."""
    require_who_and_why(by, why)
    if state not in CLOSED_STATES:
        raise TicketError(f"cannot close a ticket as {state!r}")
    if ticket["state"] not in OPEN_STATES:
        raise TicketError(f"ticket {ticket['ticket_id']} is already {ticket['state']}")
    out = dict(ticket)
    out.update(state=state, closed_on=today, closed_by=by, close_reason=why, updated_at=now)
    event = "confirmed" if state == CONFIRMED else "resolved"
    return out, new_event(out, event, ticket["state"], by=by, why=why, now=now, on=today)


# --- the state machine ------------------------------------------------------------------------

#: The verification ticket's transitions (jobs.store.requests checks every event against them):
#: event → (states it may start from, state it leads to); no start: it opens the ticket.
VERIFICATION = Machine(
    type="verification",
    transitions={
        "opened": ((), OPEN),
        "filed": ((), OPEN),
        "updated": (OPEN_STATES, STAY),
        "extension_asked": ((OPEN, EXTENDED), STAY),
        "extension_refused": (ANSWERABLE, STAY),
        "extended": (ANSWERABLE, EXTENDED),
        "corrected": (OPEN_STATES, CORRECTED),
        "rechecked": ((CORRECTED,), OPEN),
        "disputed": (ANSWERABLE, DISPUTED),
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
