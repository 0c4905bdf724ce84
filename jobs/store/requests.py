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
* :func:`lock` and :func:`upsert` serve the bulk writers (a base build's ticket sync), and
  :func:`lock_open` and :func:`mark_deadlines` the daily deadline check over every type: they
  hold the rows they read until they commit (``SELECT … FOR UPDATE``), so a decision made
  meanwhile waits for them and then finds the version moved.

:func:`inbox` answers "what must my department act on", overdue first.

Every event written here (a decision, a comment, a bulk writer's change) also notifies the
accounts who must know, in the same transaction (:mod:`jobs.store.notifications`): the one seam
every procedure passes through, so none needs notification code of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from jobs.policy.workdays import WorkdayCalendar
from jobs.store import notifications
from jobs.store.models import Request, RequestDepartment, RequestEvent
from jobs.store.roles import BUREAU

#: Who opens requests by rule (a base build, the deadline check).
SYSTEM = "system"
#: An event that leaves the state as it was (an update of the subject, a comment).
STAY = "="
#: A comment (意见): allowed on a request of any type in any state, it changes nothing but the
#: record of what was said.
COMMENTED = "commented"
#: The daily deadline check's events (jobs.govern.deadlines), allowed on a request of any type
#: while it is open: a type whose machine names them moves by them (a verification ticket
#: becomes ``overdue``); any other keeps its state and is marked by the event and its
#: ``escalated_to``. ``due_recounted``: a provisional due date counted again once the official
#: calendar covers it (never named by a machine: it keeps the state).
OVERDUE, ESCALATED, RECOUNTED = "overdue", "escalated", "due_recounted"
DEADLINE_ACTIONS: tuple[str, ...] = (OVERDUE, ESCALATED, RECOUNTED)
#: Actions whose due date goes on from the count before them, not from the day they were taken:
#: an extension (延长) adds working days to the due date, a recount counts it again.
CONTINUING: tuple[str, ...] = ("extended", RECOUNTED)

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
        if action == COMMENTED and from_state == to_state:
            if to_state not in (*self.open_states, *self.closed_states):
                raise RequestError(f"a {self.type} request has no state {to_state!r}")
            return
        if action in DEADLINE_ACTIONS and action not in self.transitions:
            if from_state != to_state or from_state not in self.open_states:
                raise RequestError(
                    f"{action} keeps an open {self.type} request's state, not "
                    f"{from_state or '(new)'} → {to_state}"
                )
            return
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


_REQUESTS = Request.__table__
_DEPARTMENTS = RequestDepartment.__table__
_EVENTS = RequestEvent.__table__


def _select(session: Session, *where: Any, for_update: bool = False) -> list[Record]:
    """The requests matching ``where``, oldest first, each with its acting departments (plain
    rows, no ORM objects: a build reads thousands)."""
    query = select(_REQUESTS).where(*where).order_by(_REQUESTS.c.opened_on, _REQUESTS.c.id)
    if for_update:
        query = query.with_for_update()
    records = {row["id"]: {**row, "departments": []} for row in session.execute(query).mappings()}
    if records:
        acting = (
            select(_DEPARTMENTS.c.request_id, _DEPARTMENTS.c.department)
            .join(_REQUESTS, _REQUESTS.c.id == _DEPARTMENTS.c.request_id)
            .where(*where)
            .order_by(_DEPARTMENTS.c.request_id, _DEPARTMENTS.c.position)
        )
        for request_id, department in session.execute(acting):
            records[request_id]["departments"].append(department)
    return list(records.values())


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
    where = [_REQUESTS.c.type == type_]
    if ids is not None:
        where.append(_REQUESTS.c.id.in_(list(ids)))
    if states is not None:
        where.append(_REQUESTS.c.state.in_(list(states)))
    return _select(session, *where, for_update=for_update)


def lock(session: Session, type_: str, states: Collection[str] | None = None) -> list[Record]:
    """:func:`load` holding the rows: what a bulk writer reads before :func:`upsert`."""
    return load(session, type_, states=states, for_update=True)


def find(session: Session, type_: str, request_id: str) -> Record:
    """The request with this id, or the one whose id starts with it.

    Raises:
        RequestError: none, or more than one, matches.
    """
    found = load(session, type_, ids=[request_id])
    if not found:
        prefix = _REQUESTS.c.id.startswith(request_id, autoescape=True)
        ids = session.scalars(
            select(_REQUESTS.c.id).where(_REQUESTS.c.type == type_, prefix).limit(2)
        ).all()
        if len(ids) > 1:
            raise RequestError(
                f"{request_id!r} matches more than one request; give more characters"
            )
        found = load(session, type_, ids=ids)
    if not found:
        raise RequestError(f"no {type_} request {request_id!r}")
    return found[0]


def events(
    session: Session,
    request_id: str | None = None,
    type_: str | None = None,
    *,
    after_id: int = 0,
) -> list[Event]:
    """The events of a request, or of every request of a type, oldest first; only those
    recorded after event ``after_id`` (a snapshot's mark) when it is given."""
    query = select(_EVENTS).where(_EVENTS.c.id > after_id).order_by(_EVENTS.c.id)
    if request_id is not None:
        query = query.where(_EVENTS.c.request_id == request_id)
    if type_ is not None:
        query = query.join(_REQUESTS, _REQUESTS.c.id == _EVENTS.c.request_id).where(
            _REQUESTS.c.type == type_
        )
    return [dict(row) for row in session.execute(query).mappings()]


def events_since(
    session: Session, type_: str, action: str, *, source: str, since: dt.datetime
) -> list[Event]:
    """The ``action`` events of a type's requests caused by ``source`` after ``since``
    (what a public form throttles by: jobs.govern.open_requests)."""
    query = (
        select(_EVENTS)
        .join(_REQUESTS, _REQUESTS.c.id == _EVENTS.c.request_id)
        .where(
            _REQUESTS.c.type == type_,
            _EVENTS.c.action == action,
            _EVENTS.c.source == source,
            _EVENTS.c.at > since,
        )
    )
    return [dict(row) for row in session.execute(query).mappings()]


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


def _department_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    return [
        {"request_id": r["id"], "department": code, "position": i}
        for r in records
        for i, code in enumerate(dict.fromkeys(r["departments"]))
    ]


def _insert(
    session: Session,
    records: Sequence[Record],
    events_: Sequence[Event],
    *,
    notify: bool = True,
) -> None:
    """New requests (at version 1), their departments and events, a statement per table; the
    events notify whom they concern (``notify``: not when history is copied in)."""
    if records:
        session.execute(insert(Request), [{**_columns(r), "version": 1} for r in records])
        session.execute(insert(RequestDepartment), _department_rows(records))
    if events_:
        session.execute(insert(RequestEvent), [{k: e[k] for k in EVENT_COLUMNS} for e in events_])
        if notify:
            notifications.notify(session, events_)


def _columns(record: Record) -> dict[str, Any]:
    return {k: record[k] for k in COLUMNS if k != "version"}


def move(session: Session, machine: Machine, before: Record, after: Record, event: Event) -> None:
    """Writes one decision: ``after`` over ``before`` and its event, unless someone moved the
    request meanwhile. A decision that hands the request to other departments (a refusal sent
    to the bureau to coordinate) moves it to their inboxes.

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
    if after["departments"] != before["departments"]:
        session.execute(
            delete(RequestDepartment).where(RequestDepartment.request_id == after["id"])
        )
        session.execute(insert(RequestDepartment), _department_rows([after]))
    _insert(session, [], [event])


def comment(session: Session, machine: Machine, record: Record, event: Event) -> None:
    """Adds a comment (a :data:`COMMENTED` event) to a request. The request itself is left as it
    is: a comment made while someone decides does not get in the decision's way."""
    _check(machine, record, [event])
    _insert(session, [], [event])


def upsert(
    session: Session,
    machine: Machine,
    held: Mapping[str, Record],
    records: Sequence[Record],
    events_: Sequence[Event],
) -> None:
    """Writes a bulk writer's changes: new requests inserted, ``held`` ones (from :func:`lock`
    in this transaction) updated, and the events appended after them."""
    by_request = _by_request(events_)
    for record in records:
        _check(machine, record, by_request.get(record["id"], ()))
    _update_held(session, held, [r for r in records if r["id"] in held])
    _insert(session, [r for r in records if r["id"] not in held], events_)


def _by_request(events_: Iterable[Event]) -> dict[str, list[Event]]:
    by_request: dict[str, list[Event]] = {}
    for event in events_:
        by_request.setdefault(event["request_id"], []).append(event)
    return by_request


def _update_held(session: Session, held: Mapping[str, Record], known: Sequence[Record]) -> None:
    if not known:
        return
    session.execute(
        update(Request),
        [{**_columns(r), "version": held[r["id"]]["version"] + 1} for r in known],
    )
    moved = [r for r in known if r["departments"] != held[r["id"]]["departments"]]
    if moved:
        session.execute(
            delete(RequestDepartment).where(
                RequestDepartment.request_id.in_([r["id"] for r in moved])
            )
        )
        session.execute(insert(RequestDepartment), _department_rows(moved))


def mark_deadlines(
    session: Session,
    machines: Mapping[str, Machine],
    held: Mapping[str, Record],
    records: Sequence[Record],
    events_: Sequence[Event],
) -> None:
    """Writes the daily deadline check's changes to requests of any type, ``held`` by
    :func:`lock_open` in this transaction: a type in ``machines`` is checked against its
    machine; any other only allows the :data:`DEADLINE_ACTIONS`, keeping the request's state
    while it is open."""
    by_request = _by_request(events_)
    unchanged = set(by_request) - {r["id"] for r in records}
    if unchanged:
        raise RequestError(f"events of requests the check did not change: {sorted(unchanged)}")
    for record in records:
        if record["id"] not in held:
            raise RequestError(f"request {record['id']} was not held by the deadline check")
        machine = machines.get(record["type"])
        if machine is not None:
            _check(machine, record, by_request.get(record["id"], ()))
            continue
        for event in by_request.get(record["id"], ()):
            if (
                event["action"] not in DEADLINE_ACTIONS
                or event["from_state"] != event["to_state"]
                or record["closed_on"] is not None
            ):
                raise RequestError(
                    f"the deadline check only marks open {record['type']} requests "
                    f"{', '.join(DEADLINE_ACTIONS)}, not {event['action']} on {record['id']}"
                )
    _update_held(session, held, records)
    _insert(session, [], events_)


def lock_open(session: Session, *, due_before: dt.date) -> list[Record]:
    """Every open request (of any type) due before ``due_before`` or on a provisional date,
    held like :func:`lock`."""
    return _select(
        session,
        _REQUESTS.c.closed_on.is_(None),
        (_REQUESTS.c.due_on < due_before) | _REQUESTS.c.due_provisional.is_(True),
        for_update=True,
    )


def due_counted_from(session: Session, records: Iterable[Record]) -> dict[str, dt.date]:
    """For each of ``records``, the day its current due date was set: the day of the first of
    the events that carry that date since it last changed. An extension (:data:`CONTINUING`),
    counted on from the due date before it, reaches back to the day that date was set.
    """
    due = {r["id"]: r["due_on"] for r in records if r["due_on"] is not None}
    if not due:
        return {}
    query = (
        select(_EVENTS.c.request_id, _EVENTS.c.action, _EVENTS.c.on, _EVENTS.c.due_on)
        .where(_EVENTS.c.request_id.in_(list(due)))
        .order_by(_EVENTS.c.id)
    )
    counted: dict[str, dt.date] = {}
    last: dict[str, dt.date | None] = {}
    for request_id, action, on, due_on in session.execute(query):
        if request_id not in last or due_on != last[request_id]:
            continuing = action in CONTINUING and request_id in counted
            counted[request_id] = counted[request_id] if continuing else on
        last[request_id] = due_on
    return {rid: on for rid, on in counted.items() if last[rid] == due[rid]}


def marked_overdue(session: Session, records: Iterable[Record]) -> set[str]:
    """The requests among ``records`` with an :data:`OVERDUE` event for their current due date
    (the deadline check marks each due date once)."""
    due = {r["id"]: r["due_on"] for r in records}
    if not due:
        return set()
    query = select(_EVENTS.c.request_id, _EVENTS.c.due_on).where(
        _EVENTS.c.action == OVERDUE, _EVENTS.c.request_id.in_(list(due))
    )
    return {rid for rid, on in session.execute(query) if on == due[rid]}


def load_all(session: Session, *, opened_from: dt.date | None = None) -> list[Record]:
    """Every request of every type (opened on or after ``opened_from``), oldest first: what
    the yearly evaluation counts."""
    where = [] if opened_from is None else [_REQUESTS.c.opened_on >= opened_from]
    return _select(session, *where)


def open_requests(session: Session, departments: Collection[str] | None = None) -> list[Record]:
    """Every open request whose acting departments include one of ``departments`` (all open
    requests when None), oldest first: what the department dashboard shows."""
    where = [_REQUESTS.c.closed_on.is_(None)]
    if departments is not None:
        acting = (
            select(_DEPARTMENTS.c.request_id)
            .where(_DEPARTMENTS.c.department.in_(list(departments)))
            .correlate(None)
        )
        where.append(_REQUESTS.c.id.in_(acting))
    return _select(session, *where)


def reassign(session: Session, record: Record) -> None:
    """Makes ``record``'s ``departments`` the ones that must act on it (a demand the bureau
    forwards to the department that holds the data); the caller moves the request in the same
    transaction, after this, so that its event notifies the new departments."""
    session.execute(delete(RequestDepartment).where(RequestDepartment.request_id == record["id"]))
    session.execute(insert(RequestDepartment), _department_rows([record]))


def insert_as_found(session: Session, records: Sequence[Record], events_: Sequence[Event]) -> None:
    """Copies requests and their events kept elsewhere before the store (the lake's tickets) as
    they are: their history was checked when it was made (and notifies no one again)."""
    _insert(session, records, events_, notify=False)


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
    acting = (
        select(_DEPARTMENTS.c.request_id)
        .where(_DEPARTMENTS.c.department == department)
        .correlate(None)  # a list of its own, also inside _select's join of the departments
    )
    mine = _REQUESTS.c.id.in_(acting)
    if department == BUREAU and escalated_to:
        mine = mine | _REQUESTS.c.escalated_to.in_(list(escalated_to))
    items = _select(session, _REQUESTS.c.closed_on.is_(None), mine)
    for record in items:
        due = record["due_on"]
        record["workdays_left"] = None if due is None else calendar.workdays_between(today, due)
        record["is_overdue"] = due is not None and today > due
    far = dt.date.max
    return sorted(
        items, key=lambda r: (not r["is_overdue"], r["due_on"] or far, r["opened_on"], r["id"])
    )


def dashboard(
    session: Session, *, today: dt.date, departments: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Per department (those given, or all): open requests, how many are overdue, how many
    are due on a provisional date (a year without an official calendar yet), and the nearest
    due date; most overdue first."""
    query = (
        select(
            RequestDepartment.department,
            func.count(),
            func.sum(case((Request.due_on < today, 1), else_=0)),
            func.min(Request.due_on),
            func.sum(case((Request.due_provisional.is_(True), 1), else_=0)),
        )
        .join(Request, Request.id == RequestDepartment.request_id)
        .where(Request.closed_on.is_(None))
        .group_by(RequestDepartment.department)
    )
    if departments is not None:
        query = query.where(RequestDepartment.department.in_(list(departments)))
    rows = [
        {
            "department": d,
            "open": n,
            "overdue": int(late or 0),
            "next_due_on": due,
            "provisional": int(provisional or 0),
        }
        for d, n, late, due, provisional in session.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r["overdue"], -r["open"], r["department"]))
