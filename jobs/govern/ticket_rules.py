"""The rules of a verification ticket (校核工单): states, transitions, deadlines, as plain functions.

DESIGN §6 and 000 §13 / 003 §23: the department answers within the policy profile's working days
(``verification_workdays``, counted on the official calendar from the day after the ticket is
opened); it may ask for one extension of at most ``verification_extension_max_workdays``, which
the bureau approves or refuses; while the ticket is open the base record stays usable and its
attribute is marked disputed (异议).

Every function here takes a ticket (a dict with the columns of :data:`TICKET_SCHEMA`, plus
``workflow``: what the procedure keeps besides, see :func:`workflow_of`) and returns the ticket
after the transition with its event; nothing here reads or writes. The store edges
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
person, asks the authoritative department to verify a record (:func:`file_request`). A build never
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
        elif old["state"] == CORRECTED and _corrected_before(old, now):
            ticket["state"] = OPEN
            events.append(
                _event(
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


def _corrected_before(ticket: Ticket, now: dt.datetime) -> bool:
    corrected_at = last_correction_at(ticket)
    return corrected_at is not None and corrected_at < now


def _require(by: str, why: str) -> None:
    if not by or not by.strip():
        raise TicketError("say who acts (--by)")
    if not why or not why.strip():
        raise TicketError("say why (--why)")


def apply_ask_extension(
    ticket: Ticket,
    policy: TicketPolicy,
    *,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
    workdays: int | None = None,
) -> tuple[Ticket, Event]:
    """The department asks for an extension (延期申请): before the deadline, at most the profile's
    working days, and no more often than the profile allows in a cycle (asked counts, granted
    or not). The ticket keeps its state and deadline until the bureau decides
    (:func:`apply_decide_extension`); it is referred to the data authority (报备, 000 §13:
    ``escalated_to``), so that it is in the bureau's inbox meanwhile.
    """
    _require(by, why)
    workflow = workflow_of(ticket)
    if ticket["state"] not in (OPEN, EXTENDED):
        raise TicketError(
            f"ticket {ticket['ticket_id']} is {ticket['state']}: only an open ticket can be extended"
        )
    if workflow["extension_request"]:
        asked = workflow["extension_request"]
        raise TicketError(
            f"ticket {ticket['ticket_id']} has an extension asked by {asked['by']} on "
            f"{asked['on']} waiting for the bureau"
        )
    if workflow["extensions_asked"] >= policy.max_extensions:
        note = f" ({policy.extension_note})" if policy.extension_note else ""
        raise TicketError(
            f"ticket {ticket['ticket_id']} has had {workflow['extensions_asked']} extension(s) "
            f"asked; profile {policy.profile!r} allows {policy.max_extensions}{note}"
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
    workflow["extensions_asked"] += 1
    workflow["extension_request"] = {
        "workdays": days,
        "why": why,
        "by": by,
        "on": today.isoformat(),
    }
    out = {
        **ticket,
        "escalated_to": policy.escalate_to,
        "escalated_on": ticket["escalated_on"] or today,
        "workflow": workflow,
        "updated_at": now,
    }
    return out, _event(
        out,
        "extension_asked",
        ticket["state"],
        by=by,
        why=f"{why} (+{days} wd asked)",
        now=now,
        on=today,
    )


def apply_decide_extension(
    ticket: Ticket,
    policy: TicketPolicy,
    *,
    grant: bool,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
) -> tuple[Ticket, Event]:
    """The bureau approves (the deadline moves on by the working days asked, counted from the
    deadline) or refuses the extension asked. Approved after the deadline passed meanwhile
    (overdue, escalated), the ticket is extended all the same: it was asked in time."""
    _require(by, why)
    workflow = workflow_of(ticket)
    asked = workflow["extension_request"]
    if not asked:
        raise TicketError(f"no extension of ticket {ticket['ticket_id']} is waiting for a decision")
    if ticket["state"] not in ANSWERABLE:
        raise TicketError(f"ticket {ticket['ticket_id']} is {ticket['state']}: nothing to extend")
    workflow["extension_request"] = None
    out = {**ticket, "workflow": workflow, "updated_at": now}
    if ticket["state"] != ESCALATED:  # referred for the decision only: decided, it is back
        out.update(escalated_to=None, escalated_on=None)
    if not grant:
        return out, _event(
            out,
            "extension_refused",
            ticket["state"],
            by=by,
            why=f"{why} (asked by {asked['by']}: {asked['why']})",
            now=now,
            on=today,
        )
    if int(ticket["extensions"] or 0) >= policy.max_extensions:
        raise TicketError(
            f"ticket {ticket['ticket_id']} has had {ticket['extensions']} extension(s); "
            f"profile {policy.profile!r} allows {policy.max_extensions}"
        )
    days = int(asked["workdays"])
    if days > policy.extension_max_workdays:
        raise TicketError(
            f"{days} working days asked; profile {policy.profile!r} allows at most "
            f"{policy.extension_max_workdays}"
        )
    deadline = policy.calendar.add_workdays(ticket["deadline"], days)
    out.update(
        state=EXTENDED,
        deadline=deadline.date,
        deadline_provisional=bool(ticket["deadline_provisional"]) or deadline.provisional,
        extensions=int(ticket["extensions"] or 0) + 1,
        escalated_to=None,
        escalated_on=None,
    )
    return out, _event(
        out,
        "extended",
        ticket["state"],
        by=by,
        why=f"{why} (+{days} wd asked by {asked['by']}: {asked['why']})",
        now=now,
        on=today,
    )


def apply_correct(
    ticket: Ticket,
    *,
    value: str,
    by: str,
    department: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
) -> tuple[Ticket, Event]:
    """The department corrects its value (更正): from the next build on, ``value`` is its
    observation of the ticket's key and element, dated ``now``; the build then closes the ticket
    (the conflict is gone) or opens it again (it is not)."""
    _require(by, why)
    if ticket["state"] not in OPEN_STATES:
        raise TicketError(f"ticket {ticket['ticket_id']} is already {ticket['state']}")
    if not ticket.get("element"):
        raise TicketError(
            f"ticket {ticket['ticket_id']} ({ticket['rule']}) names no data element: correct the "
            "source records and answer with resolve"
        )
    if department not in (ticket.get("assigned_departments") or ()):
        raise TicketError(f"{department} is not assigned ticket {ticket['ticket_id']}")
    if not value or not value.strip():
        raise TicketError("say the corrected value (--value)")
    workflow = workflow_of(ticket)
    workflow["corrections"].append(
        {
            "department": department,
            "value": value.strip(),
            "by": by,
            "at": now.isoformat(),
            "cycle": ticket["cycle"],
        }
    )
    workflow["answered_on"] = today.isoformat()
    out = {**ticket, "state": CORRECTED, "workflow": workflow, "updated_at": now}
    return out, _event(
        out,
        "corrected",
        ticket["state"],
        by=by,
        why=f"{why} ({ticket['element']} → {value.strip()})",
        now=now,
        on=today,
    )


def apply_dispute(
    ticket: Ticket,
    policy: TicketPolicy,
    *,
    by: str,
    department: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
) -> tuple[Ticket, Event]:
    """The department disputes the finding (异议, with its reason): the ticket goes to the data
    authority to coordinate (协调核实, 003 §26), which confirms or resolves it; the record stays
    marked disputed meanwhile."""
    _require(by, why)
    if ticket["state"] not in ANSWERABLE:
        raise TicketError(
            f"ticket {ticket['ticket_id']} is {ticket['state']}: only an unanswered ticket can be "
            "disputed"
        )
    workflow = workflow_of(ticket)
    workflow["dispute"] = {
        "why": why,
        "by": by,
        "department": department,
        "on": today.isoformat(),
    }
    workflow["answered_on"] = today.isoformat()
    out = {
        **ticket,
        "state": DISPUTED,
        "escalated_to": policy.escalate_to,
        "escalated_on": today,
        "workflow": workflow,
        "updated_at": now,
    }
    return out, _event(out, "disputed", ticket["state"], by=by, why=why, now=now, on=today)


def file_request(
    subject: Mapping[str, Any],
    resources: Iterable[str],
    policy: TicketPolicy,
    *,
    problem: str,
    by: str,
    department: str,
    on_behalf_of: str | None,
    today: dt.date,
    now: dt.datetime,
) -> tuple[Ticket, Event]:
    """A verification request (校核申请) filed about a record: a ticket to the authoritative
    departments, due in the profile's working days from the day after it is filed.

    Args:
        subject: ``base``, ``key_kind``, ``key`` and ``element`` of the record in question.
        resources: the element's authoritative resources (一数一源, ``gaj.hukou``): their
            departments must answer.
        on_behalf_of: the citizen or legal person the bureau files for (000 §13, 003 §23).
    """
    _require(by, problem)
    resources = sorted(set(resources))
    departments = sorted({r.split(".", 1)[0] for r in resources})
    if not departments:
        raise TicketError(f"no department is authoritative for {subject['element']}")
    seed = f"{FILED}|{subject['base']}|{subject['key']}|{subject['element']}|{now.isoformat()}"
    deadline = policy.calendar.add_workdays(today, policy.verification_workdays)
    ticket: Ticket = {
        "ticket_id": hashlib.sha256(f"{seed}|{uuid.uuid4().hex}".encode()).hexdigest()[:24],
        "issue_type": FILED,
        "rule": None,
        "element": subject["element"],
        "key_kind": subject["key_kind"],
        "key": subject["key"],
        "base": subject["base"],
        "base_keys": [subject["key"]],
        "assigned_departments": departments,
        "resources": resources,
        "surviving_value": None,
        "detail": problem,
        "values_hash": "",
        "cycle": 1,
        "first_detected_build": None,
        "last_detected_build": None,
        "last_detected_on": None,
        "updated_at": now,
    }
    _start_cycle(ticket, deadline, today)
    ticket["workflow"]["filed"] = {
        "by": by,
        "department": department,
        "problem": problem,
        "on_behalf_of": on_behalf_of,
    }
    return ticket, _event(ticket, "filed", None, by=by, why=problem, now=now, on=today)


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
