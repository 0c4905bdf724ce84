"""Requests between departments (DESIGN §10): one model for every procedure, in the store.

A request has a ``type`` (``verification`` for a 校核 ticket; the procedures of DESIGN §10 as
they come), a requester (an account, or ``system`` when a base build opened it), the
departments that must act, a subject (dataset, record key, element … as JSON), a due date in
working days, and a state that moves only as its type's :class:`Machine` allows. Every
transition is one row of ``request_events`` (append-only: what, from, to, by whom, why, when).

The rules of a procedure (which transition, who may take it, how the due date is counted) live
in its own module as plain functions over plain values (:mod:`jobs.govern.tickets`); this module
only stores what they decided, checks it against the machine, and keeps two deciders apart:

* :func:`move` writes one decision as a conditional ``UPDATE … WHERE version = …``: of two
  accounts deciding the same request at once, the second finds no row and is refused
  (:class:`RequestConflict`); on SQLite the write lock (``BEGIN IMMEDIATE``) already queues it
  behind the first, which it then sees;
* :func:`lock` and :func:`upsert` serve the bulk writers (a base build's ticket sync, the daily
  deadline check): they hold the rows they read until they commit (``SELECT … FOR UPDATE``), so
  a decision made meanwhile waits for them and then finds the version moved.

:func:`inbox` answers "what must my department act on", overdue first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from jobs.policy.workdays import WorkdayCalendar
from jobs.store.models import Request, RequestDepartment, RequestEvent
from jobs.store.roles import BUREAU

#: Who opens requests by rule (a base build, the deadline check).
SYSTEM = "system"
#: An event that leaves the state as it was (an update of the subject, a comment).
STAY = "="

#: The request's columns, as the dicts of this module carry them (plus ``departments``).
COLUMNS: tuple[str, ...] = tuple(c.name for c in Request.__table__.columns)
EVENT_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in RequestEvent.__table__.columns if c.name != "id"
)

Record = dict[str, Any]
Event = dict[str, Any]


class RequestError(ValueError):
    """A transition the request's type or state does not allow; the message says why."""


class RequestConflict(RequestError):
    """Someone else moved the request between reading it and deciding it."""


@dataclass(frozen=True)
class Machine:
    """A request type's states and transitions, as data: ``transitions[action]`` is the states
    the action may start from (empty: it opens the request) and the state it leads to
    (:data:`STAY`: the same)."""

    type: str
    transitions: Mapping[str, tuple[tuple[str, ...], str]]
    #: States in which the request waits for its departments (it is in their inbox).
    open_states: tuple[str, ...]
    closed_states: tuple[str, ...]

    def check(self, action: str, from_state: str | None, to_state: str) -> None:
        """Raises :class:`RequestError` unless the machine allows this transition."""
        if action not in self.transitions:
            raise RequestError(f"a {self.type} request knows no action {action!r}")
        sources, target = self.transitions[action]
        allowed_from = from_state in sources if sources else from_state is None
        allowed_to = to_state == (from_state if target == STAY else target)
        if not (allowed_from and allowed_to):
            raise RequestError(
                f"a {self.type} request cannot go {from_state or '(new)'} → {to_state} by "
                f"{action}; {action} goes {', '.join(sources) or '(new)'} → {target}"
            )


def _record(row: Request) -> Record:
    out = {name: getattr(row, name) for name in COLUMNS}
    out["departments"] = [d.department for d in row.departments]
    return out


def _event_dict(row: RequestEvent) -> Event:
    return {"id": row.id, **{name: getattr(row, name) for name in EVENT_COLUMNS}}


def load(
    session: Session,
    type_: str,
    *,
    ids: Collection[str] | None = None,
    states: Collection[str] | None = None,
    for_update: bool = False,
) -> list[Record]:
    """The requests of a type (those with ``ids``, or in ``states``), oldest first.

    ``for_update`` holds their rows until the transaction ends (PostgreSQL; SQLite's write lock
    already holds the whole database).
    """
    query = select(Request).where(Request.type == type_).order_by(Request.opened_on, Request.id)
    if ids is not None:
        query = query.where(Request.id.in_(list(ids)))
    if states is not None:
        query = query.where(Request.state.in_(list(states)))
    if for_update:
        query = query.with_for_update()
    return [_record(row) for row in session.scalars(query)]


def lock(session: Session, type_: str, states: Collection[str] | None = None) -> list[Record]:
    """:func:`load` holding the rows: what a bulk writer reads before :func:`upsert`."""
    return load(session, type_, states=states, for_update=True)


def find(session: Session, type_: str, request_id: str) -> Record:
    """The request with this id, or the one whose id starts with it.

    Raises:
        RequestError: none, or more than one, matches.
    """
    row = session.get(Request, request_id)
    if row is not None and row.type == type_:
        return _record(row)
    prefix = Request.id.startswith(request_id, autoescape=True)
    rows = session.scalars(
        select(Request).where(Request.type == type_, prefix).order_by(Request.id).limit(2)
    ).all()
    if not rows:
        raise RequestError(f"no {type_} request {request_id!r}")
    if len(rows) > 1:
        raise RequestError(f"{request_id!r} matches more than one request; give more characters")
    return _record(rows[0])


def events(
    session: Session, request_id: str | None = None, type_: str | None = None
) -> list[Event]:
    """The events of a request (or of every request of a type), oldest first."""
    query = select(RequestEvent).order_by(RequestEvent.id)
    if request_id is not None:
        query = query.where(RequestEvent.request_id == request_id)
    if type_ is not None:
        query = query.join(Request, Request.id == RequestEvent.request_id).where(
            Request.type == type_
        )
    return [_event_dict(row) for row in session.scalars(query)]


def events_after(session: Session, type_: str, after_id: int) -> list[Event]:
    """The events of a type's requests recorded after event ``after_id`` (a snapshot's mark)."""
    query = (
        select(RequestEvent)
        .join(Request, Request.id == RequestEvent.request_id)
        .where(Request.type == type_, RequestEvent.id > after_id)
        .order_by(RequestEvent.id)
    )
    return [_event_dict(row) for row in session.scalars(query)]


def last_event_id(session: Session, type_: str) -> int | None:
    """The newest event of a type's requests (None before the first): grows with every
    transition, so it tells whether anything happened since it was read."""
    query = (
        select(func.max(RequestEvent.id))
        .join(Request, Request.id == RequestEvent.request_id)
        .where(Request.type == type_)
    )
    return session.scalar(query)


def _check(machine: Machine, record: Record, events_: Iterable[Event]) -> None:
    if record["type"] != machine.type:
        raise RequestError(f"request {record['id']} is a {record['type']}, not a {machine.type}")
    if record["state"] not in (*machine.open_states, *machine.closed_states):
        raise RequestError(f"a {machine.type} request has no state {record['state']!r}")
    for event in events_:
        machine.check(event["action"], event["from_state"], event["to_state"])


def _departments(record: Record) -> list[RequestDepartment]:
    return [
        RequestDepartment(department=code, position=i)
        for i, code in enumerate(dict.fromkeys(record["departments"]))
    ]


def _reassign(row: Request, departments: Sequence[str]) -> None:
    """The acting departments become ``departments``: rows kept where the department stays
    (a delete and an insert of the same key in one flush would collide)."""
    wanted = {code: i for i, code in enumerate(dict.fromkeys(departments))}
    row.departments = [d for d in row.departments if d.department in wanted]
    held = {d.department: d for d in row.departments}
    for code, position in wanted.items():
        if code in held:
            held[code].position = position
        else:
            row.departments.append(RequestDepartment(department=code, position=position))


def _add_events(session: Session, events_: Iterable[Event]) -> None:
    session.add_all(RequestEvent(**{k: e[k] for k in EVENT_COLUMNS}) for e in events_)


def move(session: Session, machine: Machine, before: Record, after: Record, event: Event) -> None:
    """Writes one decision: ``after`` over ``before`` and its event, unless someone moved the
    request meanwhile.

    Raises:
        RequestError: the machine does not allow the transition.
        RequestConflict: the request's version is no longer ``before``'s.
    """
    _check(machine, after, [event])
    changed = {
        k: v for k, v in after.items() if k in COLUMNS and k != "version" and before.get(k) != v
    }
    moved = session.execute(
        update(Request)
        .where(Request.id == before["id"], Request.version == before["version"])
        .values(**changed, version=before["version"] + 1)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise RequestConflict(
            f"request {before['id']} was changed by someone else meanwhile; look at it again"
        )
    _add_events(session, [event])


def upsert(
    session: Session,
    machine: Machine,
    held: Mapping[str, Record],
    records: Sequence[Record],
    events_: Sequence[Event],
) -> None:
    """Writes a bulk writer's changes: new requests inserted, ``held`` ones (from :func:`lock`
    in this transaction) updated, and the events appended after them."""
    by_request: dict[str, list[Event]] = {}
    for event in events_:
        by_request.setdefault(event["request_id"], []).append(event)
    for record in records:
        _check(machine, record, by_request.get(record["id"], ()))
        old = held.get(record["id"])
        if old is None:
            row = Request(**{k: record[k] for k in COLUMNS if k != "version"}, version=1)
            row.departments = _departments(record)
            session.add(row)
            continue
        row = session.get(Request, record["id"])
        for name in COLUMNS:
            if name != "version" and getattr(row, name) != record[name]:
                setattr(row, name, record[name])
        if old["departments"] != record["departments"]:
            _reassign(row, record["departments"])
        row.version = old["version"] + 1
    session.flush()  # the requests' rows before the rows of their events
    _add_events(session, events_)


def insert_as_found(session: Session, records: Sequence[Record], events_: Sequence[Event]) -> None:
    """Copies requests and their events kept elsewhere before the store (the lake's tickets) as
    they are: their history was checked when it was made."""
    for record in records:
        row = Request(**{k: record[k] for k in COLUMNS if k != "version"}, version=1)
        row.departments = _departments(record)
        session.add(row)
    session.flush()
    _add_events(session, events_)


def count(session: Session, type_: str) -> int:
    """How many requests of a type the store holds."""
    return session.scalar(select(func.count()).where(Request.type == type_)) or 0


# --- what a department must act on ------------------------------------------------------------


def inbox(
    session: Session,
    department: str,
    *,
    today: dt.date,
    calendar: WorkdayCalendar,
    escalated_to: Collection[str] = (),
) -> list[Record]:
    """The open requests ``department`` must act on, overdue first, then by due date.

    Open means not closed (``closed_on`` is empty). The bureau's inbox also holds every request
    escalated to one of ``escalated_to`` (deadlines that passed go to the bureau).

    Each record gains ``workdays_left`` (working days from ``today`` to the due date; negative
    once past) and ``is_overdue``.
    """
    acting = select(RequestDepartment.request_id).where(RequestDepartment.department == department)
    mine = Request.id.in_(acting)
    if department == BUREAU and escalated_to:
        mine = mine | Request.escalated_to.in_(list(escalated_to))
    rows = session.scalars(select(Request).where(Request.closed_on.is_(None), mine))
    items = []
    for row in rows:
        record = _record(row)
        due = record["due_on"]
        record["workdays_left"] = None if due is None else calendar.workdays_between(today, due)
        record["is_overdue"] = due is not None and today > due
        items.append(record)
    far = dt.date.max
    return sorted(
        items, key=lambda r: (not r["is_overdue"], r["due_on"] or far, r["opened_on"], r["id"])
    )


def dashboard(
    session: Session, *, today: dt.date, departments: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Per department (those given, or all): open requests, how many are overdue, and the
    nearest due date; most overdue first."""
    query = (
        select(
            RequestDepartment.department,
            func.count(),
            func.sum(case((Request.due_on < today, 1), else_=0)),
            func.min(Request.due_on),
        )
        .join(Request, Request.id == RequestDepartment.request_id)
        .where(Request.closed_on.is_(None))
        .group_by(RequestDepartment.department)
    )
    if departments is not None:
        query = query.where(RequestDepartment.department.in_(list(departments)))
    rows = [
        {"department": d, "open": n, "overdue": int(late or 0), "next_due_on": due}
        for d, n, late, due in session.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r["overdue"], -r["open"], r["department"]))
