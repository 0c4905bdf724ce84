"""What the procedures a person starts have in common (DESIGN §10): a request filed by an
account, decided by another, each step an event of the request model and an entry of the audit
log.

The procedure modules (:mod:`jobs.share.feedback`, :mod:`jobs.share.demands`) hold the rules:
their state machine, who may act, which profile number sets the due date. This module only does
the store's and the audit log's side of it, the same way for each:

* :func:`new_record` and :func:`event` build the plain dicts of :mod:`jobs.store.requests`;
* :func:`file` writes a new request and its first event, :func:`decide` one decision on a held
  request (of two accounts deciding at once only the first is recorded); both then write one
  audit entry per event (``<type>_<action>``: who, why, from, to). :func:`decided` is the
  decision's store step alone, for the verification tickets (:mod:`jobs.govern.tickets`), which
  import the lake's tickets in the same transaction and audit their own way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from jobs.audit.log import record_many
from jobs.policy.workdays import WorkdayCalendar
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.requests import COMMENTED, Machine
from jobs.store.roles import Actor, require


class ProcedureError(ValueError):
    """A step the procedure's state or rules do not allow; the message says why."""


def new_id() -> str:
    """A request id: 16 hex digits, random (a person's request has no natural key)."""
    return uuid.uuid4().hex[:16]


def due(
    calendar: WorkdayCalendar, received_on: dt.date, workdays: int | None
) -> tuple[dt.date | None, bool]:
    """The due date ``workdays`` working days after ``received_on`` (that day does not count)
    and whether it is provisional; no date where the profile sets no number."""
    if workdays is None:
        return None, False
    deadline = calendar.add_workdays(received_on, workdays)
    return deadline.date, deadline.provisional


def require_reason(why: str | None, what: str = "the reason") -> str:
    if not why or not why.strip():
        raise ProcedureError(f"say {what}")
    return why.strip()


def new_record(
    machine: Machine,
    *,
    by: Actor,
    departments: Sequence[str],
    subject: dict[str, Any],
    facts: dict[str, Any],
    state: str,
    today: dt.date,
    now: dt.datetime,
    due_on: tuple[dt.date | None, bool],
) -> requests.Record:
    """A request as :mod:`jobs.store.requests` stores it, filed today by ``by``."""
    return {
        "id": new_id(),
        "type": machine.type,
        "state": state,
        "version": None,
        "requested_by": by.login,
        "requester_department": by.department,
        "subject": subject,
        "facts": facts,
        "cycle": 1,
        "opened_on": today,
        "due_on": due_on[0],
        "due_provisional": due_on[1],
        "extensions": 0,
        "closed_on": None,
        "closed_by": None,
        "close_reason": None,
        "escalated_to": None,
        "escalated_on": None,
        "updated_at": now,
        "departments": list(departments),
    }


def event(
    record: requests.Record,
    action: str,
    from_state: str | None,
    *,
    by: Actor,
    why: str,
    now: dt.datetime,
    on: dt.date,
) -> requests.Event:
    """One step of ``record`` (already in its new state), signed by ``by``."""
    seed = f"{record['id']}|{action}|{now.isoformat()}|{uuid.uuid4().hex}"
    return {
        "event_id": hashlib.sha256(seed.encode()).hexdigest()[:24],
        "request_id": record["id"],
        "action": action,
        "from_state": from_state,
        "to_state": record["state"],
        "by": by.login,
        "by_department": by.department,
        "reason": why,
        "at": now,
        "on": on,
        "due_on": record["due_on"],
        "source": None,
    }


def _audit(settings: Settings, machine: Machine, events: Sequence[requests.Event]) -> None:
    record_many(
        settings,
        [
            {
                "action": f"{machine.type}_{e['action']}",
                "actor": e["by"],
                "target": f"requests/{machine.type}/{e['request_id']}",
                "detail": {
                    "why": e["reason"],
                    "from": e["from_state"],
                    "to": e["to_state"],
                    "due_on": e["due_on"].isoformat() if e["due_on"] else None,
                    "event_id": e["event_id"],
                },
            }
            for e in events
        ],
    )


def file(
    settings: Settings, machine: Machine, record: requests.Record, first: requests.Event
) -> requests.Record:
    """Writes a new request with its first event, then the audit entry."""
    with transaction(settings) as session:
        requests.upsert(session, machine, {}, [record], [first])
    _audit(settings, machine, [first])
    return {**record, "version": 1}


Decision = Callable[[requests.Record], tuple[requests.Record, requests.Event]]


def decide(
    settings: Settings,
    machine: Machine,
    request_id: str,
    *,
    by: Actor,
    permission: str,
    decision: Decision,
    acting: Callable[[requests.Record], Sequence[str]] | None = None,
) -> requests.Record:
    """One account's decision on one request, in one store transaction (:func:`decided`), then
    its audit entry.

    Raises:
        Forbidden: ``by`` may not take this step (jobs.store.roles).
        ProcedureError: no such request, the step is not allowed in its state, or someone
            decided it meanwhile.
    """
    with transaction(settings) as session:
        after, step = decided(
            session,
            machine,
            request_id,
            by=by,
            permission=permission,
            decision=decision,
            acting=acting,
        )
    _audit(settings, machine, [step])
    return after


def decided(
    session: Session,
    machine: Machine,
    request_id: str,
    *,
    by: Actor,
    permission: str,
    decision: Decision,
    acting: Callable[[requests.Record], Sequence[str]] | None = None,
) -> tuple[requests.Record, requests.Event]:
    """One account's decision on one request, in the caller's transaction: the request after
    it (at its new version) and the event that says so; of two accounts deciding at once only
    the first is recorded. Nothing is audited yet (:func:`decide` does it; the verification
    tickets audit and publish their own way).

    ``by`` needs ``permission`` over the departments ``acting`` names for the request (by
    default its acting departments); ``decision`` turns the request as stored into the
    request after it (possibly with other acting departments) and the event that says so.

    Raises:
        Forbidden: ``by`` may not take this step (jobs.store.roles).
        ProcedureError: no such request, the step is not allowed in its state, or someone
            decided it meanwhile.
    """
    before = find(session, machine, request_id)
    require(by, permission, acting(before) if acting else before["departments"])
    after, step = decision(before)
    if after["departments"] != before["departments"]:
        requests.reassign(session, after)
    try:
        if step["action"] == COMMENTED:
            requests.comment(session, machine, before, step)
        else:
            requests.move(session, machine, before, after, step)
    except requests.RequestError as exc:
        raise ProcedureError(str(exc)) from None
    return {**after, "version": before["version"] + (step["action"] != COMMENTED)}, step


def find(session: Session, machine: Machine, request_id: str) -> requests.Record:
    try:
        return requests.find(session, machine.type, request_id)
    except requests.RequestError as exc:
        raise ProcedureError(str(exc)) from None


def load(settings: Settings, machine: Machine) -> list[requests.Record]:
    """Every request of the procedure, oldest first."""
    with reading(settings) as session:
        return requests.load(session, machine.type)


def history(settings: Settings, machine: Machine, request_id: str) -> list[requests.Event]:
    """A request's events, oldest first."""
    with reading(settings) as session:
        return requests.events(session, request_id, type_=machine.type)


def closed(
    record: requests.Record, state: str, *, by: Actor, why: str, now: dt.datetime, on: dt.date
) -> requests.Record:
    """``record`` closed in ``state`` today by ``by``, for ``why``."""
    return {
        **record,
        "state": state,
        "closed_on": on,
        "closed_by": by.login,
        "close_reason": why,
        "updated_at": now,
    }


def yearly_tally(
    records: Iterable[Mapping[str, Any]],
    year: int,
    as_of: dt.date,
    keys: Iterable[str],
    tally: Callable[[Mapping[str, Any]], Iterable[str]],
) -> dict[str, dict[str, int]]:
    """Per acting department, the requests opened in ``year`` up to ``as_of``: ``received``
    counts each, and every key ``tally`` names for a request counts it once more (what the
    yearly evaluation shows: fixed, delivered on time …)."""
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        if r["opened_on"].year != year or r["opened_on"] > as_of:
            continue
        for department in r["departments"]:
            c = counts.setdefault(department, dict.fromkeys(keys, 0))
            for key in ("received", *tally(r)):
                c[key] += 1
    return dict(sorted(counts.items()))


def answered_on_time(record: Mapping[str, Any]) -> bool:
    """Closed by its due date (or with none to keep)."""
    return record["closed_on"] is not None and (
        record["due_on"] is None or record["closed_on"] <= record["due_on"]
    )
