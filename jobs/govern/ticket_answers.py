"""How a verification ticket (校核工单) is answered: the department's and the bureau's answers.

Plain functions over a ticket (:mod:`jobs.govern.ticket_rules` describes its states and
columns), each returning the ticket after the answer and its event; nothing here reads or writes
(:mod:`jobs.govern.tickets` loads, checks who acts, and writes):

* the assigned department asks for the one extension (:func:`apply_ask_extension`), corrects its
  value (:func:`apply_correct`) or disputes the finding (:func:`apply_dispute`);
* the bureau approves or refuses the extension (:func:`apply_decide_extension`);
* a using department, or the bureau for a citizen or legal person, files a verification request
  about a record (:func:`file_request`, 000 §13, 003 §23).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from jobs.govern.ticket_policy import TicketPolicy
from jobs.govern.ticket_rules import (
    ANSWERABLE,
    CORRECTED,
    DISPUTED,
    ESCALATED,
    EXTENDED,
    FILED,
    OPEN,
    OPEN_STATES,
    Event,
    Ticket,
    TicketError,
    new_event,
    require_who_and_why,
    start_cycle,
    workflow_of,
)


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
    require_who_and_why(by, why)
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
    return out, new_event(
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
    require_who_and_why(by, why)
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
        return out, new_event(
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
    return out, new_event(
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
    require_who_and_why(by, why)
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
    return out, new_event(
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
    require_who_and_why(by, why)
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
    return out, new_event(out, "disputed", ticket["state"], by=by, why=why, now=now, on=today)


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
    require_who_and_why(by, problem)
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
    start_cycle(ticket, deadline, today)
    ticket["workflow"]["filed"] = {
        "by": by,
        "department": department,
        "problem": problem,
        "on_behalf_of": on_behalf_of,
    }
    return ticket, new_event(ticket, "filed", None, by=by, why=problem, now=now, on=today)
