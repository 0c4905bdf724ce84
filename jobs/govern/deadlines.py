"""The daily deadline check (期限检查) over every request, whatever its procedure.

Every request of the one request model (:mod:`jobs.store.requests`) carries its due date,
counted by its procedure in working days from the day after receipt on the official calendar
(provisional over a year without an announced schedule). Once a day, for every open request
past its due date:

* it is marked **overdue** (one ``overdue`` event per due date);
* once it has been overdue ``escalate_after_overdue_workdays`` working days (0: at once) it is
  **escalated** to the data authority (the bureau): ``escalated_to`` is set, the bureau's inbox
  holds it, and its accounts are notified (an ``escalated`` event).

A due date counted over a year without an announced schedule is provisional (暂定): once the
official calendar covers it (an ``official: true`` file under ``schemas/calendar``, or a
chinese_calendar that knows the year), the check counts it again (:func:`plan_recounts`) before
anything else: as many working days after the day it was set as it had on the calendar it was
counted on, where the years then unknown were Monday to Friday (the fallback of
:mod:`jobs.policy.workdays`). It clears ``due_provisional`` and records a ``due_recounted``
event, even when the date stays, so the departments are told. A date that was not provisional
never moves. A request already overdue under the provisional date but not under the official
one keeps the marks made (the ``overdue`` event, an escalation to the bureau): they were made on
the date the departments were shown; the inbox and dashboard count from the official date, and
a type with marks per due date (:func:`~jobs.store.requests.marked_overdue`) is marked again if
the official date passes.

An open request's due date is what its acting departments owe by: a procedure whose request
waits on no one meanwhile (answered, awaiting the requester) clears ``due_on`` or closes it.
A type whose state machine names these actions moves by them (a verification ticket becomes
``overdue``, then ``escalated``: :func:`moving_machines`); every other type keeps its state, so its own
procedure goes on as before. Who the authority is and how long it waits come from
``schemas/bases/verification.yaml`` (the same authority for every procedure). Each event is an
audit entry; the notifications and their mail follow from the events (jobs.store.notifications).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol

from jobs.audit.log import record_many
from jobs.policy.workdays import LIBRARY_YEARS, WorkdayCalendar, YearSchedule
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.requests import ESCALATED, OVERDUE, RECOUNTED, SYSTEM, Machine


class EscalationPolicy(Protocol):
    """What the check needs to know (a :class:`~jobs.govern.ticket_policy.TicketPolicy`)."""

    calendar: WorkdayCalendar
    escalate_to: str
    escalate_after_overdue_workdays: int


def _event(
    record: requests.Record,
    action: str,
    from_state: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
) -> requests.Event:
    return {
        "event_id": uuid.uuid4().hex[:24],
        "request_id": record["id"],
        "action": action,
        "from_state": from_state,
        "to_state": record["state"],
        "by": SYSTEM,
        "by_department": None,
        "reason": why,
        "at": now,
        "on": today,
        "due_on": record["due_on"],
        "source": None,
    }


def _step(machine: Machine | None, action: str, state: str) -> str | None:
    """The state ``action`` leads to from ``state``: the machine's, or the same state for a type
    whose machine does not name it; None when the machine does not allow it from there."""
    if machine is None or action not in machine.transitions:
        return state
    sources, target = machine.transitions[action]
    return target if state in sources else None


def plan_deadlines(
    records: Iterable[requests.Record],
    policy: EscalationPolicy,
    *,
    today: dt.date,
    now: dt.datetime,
    machines: Mapping[str, Machine] | None = None,
    marked: Collection[str] = (),
) -> tuple[list[requests.Record], list[requests.Event]]:
    """Open requests past their due date become overdue, and escalated once overdue
    ``escalate_after_overdue_workdays`` working days (see the module doc).

    Args:
        records: requests as :mod:`jobs.store.requests` reads them.
        machines: the types that move by the deadline actions (:data:`MOVING`).
        marked: ids of requests of other types already marked overdue for their due date.

    Returns:
        the requests that changed and the events to append.
    """
    machines = machines or {}
    changed: list[requests.Record] = []
    events: list[requests.Event] = []
    for old in records:
        due = old["due_on"]
        if old["closed_on"] is not None or due is None or today <= due:
            continue
        record, planned = dict(old), len(events)
        machine = machines.get(record["type"])
        moves = machine is not None and OVERDUE in machine.transitions
        overdue_state = _step(machine, OVERDUE, record["state"])
        if overdue_state is not None and (moves or record["id"] not in marked):
            before, record["state"] = record["state"], overdue_state
            events.append(_event(record, OVERDUE, before, f"deadline {due} passed", today, now))
        late = policy.calendar.workdays_between(due, today)
        escalated_state = _step(machine, ESCALATED, record["state"])
        if (
            record["escalated_to"] is None
            and escalated_state is not None
            and late >= policy.escalate_after_overdue_workdays
        ):
            before, record["state"] = record["state"], escalated_state
            record.update(escalated_to=policy.escalate_to, escalated_on=today)
            why = f"{late} working day(s) past the deadline {due}"
            events.append(_event(record, ESCALATED, before, why, today, now))
        if len(events) > planned:  # an event, with or without a change of the request's columns
            record["updated_at"] = now
            changed.append(record)
    return changed, events


def _as_counted(calendar: WorkdayCalendar, start: dt.date, due: dt.date) -> WorkdayCalendar:
    """The calendar a provisional due date from ``start`` to ``due`` was counted on: today's,
    with the years crossed that chinese_calendar does not know (the last one crossed if it knows
    them all, being newer than when the date was counted) counted Monday to Friday."""
    crossed = range((start + dt.timedelta(days=1)).year, due.year + 1)
    unknown = [y for y in crossed if y not in LIBRARY_YEARS] or [due.year]
    weekdays = {
        y: YearSchedule(y, False, frozenset(), frozenset(), "Monday–Friday") for y in unknown
    }
    return WorkdayCalendar({**calendar.overrides, **weekdays})


def plan_recounts(
    records: Iterable[requests.Record],
    calendar: WorkdayCalendar,
    counted_from: Mapping[str, dt.date],
    *,
    today: dt.date,
    now: dt.datetime,
) -> tuple[list[requests.Record], list[requests.Event]]:
    """Open requests due on a provisional date that the official ``calendar`` now covers,
    counted again on it (see the module doc).

    Args:
        counted_from: request id → the day its due date was set
            (:func:`~jobs.store.requests.due_counted_from`).

    Returns:
        the requests that changed and their ``due_recounted`` events.
    """
    changed: list[requests.Record] = []
    events: list[requests.Event] = []
    for old in records:
        due, start = old["due_on"], counted_from.get(old["id"])
        if old["closed_on"] is not None or not old["due_provisional"] or due is None:
            continue
        if start is None or start >= due or calendar.provisional_years(start, due):
            continue
        workdays = _as_counted(calendar, start, due).workdays_between(start, due)
        official = calendar.add_workdays(start, workdays)
        if official.provisional:  # the official count runs into a year still unknown
            continue
        record = {**old, "due_on": official.date, "due_provisional": False, "updated_at": now}
        why = (
            f"provisional due date {due} counted on the official calendar: {workdays} working "
            f"day(s) after {start} is {official.date}"
        )
        if due < today <= official.date:
            why += "; overdue under the provisional date, not under the official one"
        changed.append(record)
        events.append(_event(record, RECOUNTED, record["state"], why, today, now))
    return changed, events


def moving_machines() -> dict[str, Machine]:
    """The types whose state machine moves by the deadline actions: verification tickets."""
    from jobs.govern.tickets import VERIFICATION

    return {VERIFICATION.type: VERIFICATION}


def _audit_entry(record: requests.Record, event: requests.Event) -> dict[str, Any]:
    return {
        "action": f"request_{event['action']}",
        "actor": SYSTEM,
        "target": f"requests/{record['type']}/{record['id']}",
        "detail": {
            "why": event["reason"],
            "from": event["from_state"],
            "to": event["to_state"],
            "due_on": str(event["due_on"]),
        },
    }


def check_deadlines(settings: Settings, *, today: dt.date | None = None) -> dict[str, Any]:
    """The daily deadline check (the governance DAG runs it; ``govlake requests
    check-deadlines``): counts provisional due dates again once the official calendar covers
    them, marks overdue and escalates every open request past its due date, in one store
    transaction holding their rows; then audits each event, brings the lake's
    ticket snapshot in line (a decision's snapshot that failed is written here; the share
    refresh does the same for the share requests', as governance does not import the share
    package), and retries the notification mail that failed before.

    Idempotent: a second run on the same day changes nothing.

    Args:
        today: the day to check for (default: today in the bureau's time zone).
    """
    from jobs.govern import tickets
    from jobs.govern.ticket_policy import load_ticket_policy
    from jobs.store import mail
    from jobs.store.db import transaction

    day, now = today or settings.today(), settings.now()
    policy = load_ticket_policy(settings)
    machines = moving_machines()
    with transaction(settings) as session:
        tickets.import_lake_tickets(settings, session)
        held = requests.lock_open(session, due_before=day)
        counted_from = requests.due_counted_from(session, [r for r in held if r["due_provisional"]])
        recounted, events = plan_recounts(held, policy.calendar, counted_from, today=day, now=now)
        current = {r["id"]: r for r in held} | {r["id"]: r for r in recounted}
        marked = requests.marked_overdue(session, current.values())
        late, late_events = plan_deadlines(
            current.values(), policy, today=day, now=now, machines=machines, marked=marked
        )
        changed = list(({r["id"]: r for r in recounted} | {r["id"]: r for r in late}).values())
        events += late_events
        requests.mark_deadlines(session, machines, {r["id"]: r for r in held}, changed, events)
    by_id = {r["id"]: r for r in changed}
    verification = [
        e for e in events if by_id[e["request_id"]]["type"] == tickets.VERIFICATION.type
    ]
    others = [e for e in events if by_id[e["request_id"]]["type"] != tickets.VERIFICATION.type]
    record_many(settings, [_audit_entry(by_id[e["request_id"]], e) for e in others])
    tickets.publish_store_events(settings, verification)
    by_type: dict[str, dict[str, int]] = {}
    for event in events:
        counts = by_type.setdefault(by_id[event["request_id"]]["type"], {})
        counts[event["action"]] = counts.get(event["action"], 0) + 1
    return {
        "today": day.isoformat(),
        "checked": sum(1 for r in current.values() if r["due_on"] < day),
        "overdue": sum(1 for e in events if e["action"] == OVERDUE),
        "escalated": sum(1 for e in events if e["action"] == ESCALATED),
        "recounted": sum(1 for e in events if e["action"] == RECOUNTED),
        "by_type": by_type,
        "mail": mail.deliver_pending(settings),
    }
