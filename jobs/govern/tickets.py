"""Verification tickets (校核工单) in the workflow store: what builds, departments and the bureau do.

The store is the source of truth (:mod:`jobs.store.requests`, one request of type
``verification`` per ticket, one request event per transition, each checked against
:data:`~jobs.govern.ticket_rules.VERIFICATION`); every change is also an audit entry, and the
lake receives a snapshot (:mod:`jobs.govern.ticket_snapshot`): the tickets, their events, the 异议
marks as they are now and the corrections the next build reads.

The rules are :mod:`jobs.govern.ticket_rules` (states, a build's sync) and
:mod:`jobs.govern.ticket_answers` (the answers); this module
loads a ticket, checks that the account may act (:mod:`jobs.store.roles`), applies the rule and
writes the outcome in one store transaction, so that of two accounts deciding one ticket at once
only the first decision is recorded:

* a base build's issues: :func:`sync_tickets`; the daily deadline check of every request
  (:mod:`jobs.govern.deadlines`): :func:`check_deadlines`;
* the assigned department: :func:`close_ticket` (confirm), :func:`correct_ticket`,
  :func:`dispute_ticket`, :func:`ask_extension`; anyone involved: :func:`comment_ticket`;
* the bureau: :func:`decide_extension`, :func:`close_ticket` (confirm or resolve);
* a using department, or the bureau for a citizen or legal person: :func:`file_ticket`.

Ticket ids come from :mod:`jobs.integrate.conflicts` (stable: key + element or rule), so a
ticket follows its issue from build to build; a filed ticket's id is its own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from jobs.audit.log import record_many
from jobs.govern import procedure
from jobs.govern.ticket_answers import (
    apply_ask_extension,
    apply_correct,
    apply_decide_extension,
    apply_dispute,
    file_request,
)
from jobs.govern.ticket_policy import TicketPolicy, load_ticket_policy
from jobs.govern.ticket_records import (
    as_record,
    as_store_event,
    as_ticket,
    as_ticket_event,
    columns_of,
)
from jobs.govern.ticket_rules import (
    ANSWERABLE,
    ANSWERED,
    CLOSED_STATES,
    CONFIRMED,
    CORRECTED,
    DISPUTED,
    ESCALATED,
    EVENT_SCHEMA,
    EXTENDED,
    FILED,
    OPEN,
    OPEN_STATES,
    OVERDUE,
    RESOLVED,
    SYSTEM,
    TICKET_SCHEMA,
    VERIFICATION,
    Event,
    Ticket,
    TicketError,
    apply_close,
    apply_comment,
    plan_sync,
)
from jobs.govern.ticket_snapshot import (
    CORRECTIONS_SCHEMA,
    corrections_of,
    import_lake_tickets,
    open_marks,
    write_snapshot,
)
from jobs.lake.registry import VERIFICATION_TICKETS
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.roles import Actor, require

log = logging.getLogger(__name__)

__all__ = [
    "ANSWERABLE",
    "ANSWERED",
    "CLOSED_STATES",
    "CONFIRMED",
    "CORRECTED",
    "DISPUTED",
    "ESCALATED",
    "EVENT_SCHEMA",
    "EXTENDED",
    "FILED",
    "OPEN",
    "OPEN_STATES",
    "OVERDUE",
    "RESOLVED",
    "SYSTEM",
    "TICKET_SCHEMA",
    "VERIFICATION",
    "TicketError",
    "ask_extension",
    "check_deadlines",
    "close_ticket",
    "comment_ticket",
    "correct_ticket",
    "decide_extension",
    "dispute_ticket",
    "file_ticket",
    "find_ticket",
    "import_lake_tickets",
    "plan_deadlines",
    "publish_store_events",
    "read_corrections",
    "read_events",
    "read_tickets",
    "sync_tickets",
    "tickets_version",
    "write_snapshot",
]

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
        rows = [columns_of(as_ticket(r)) for r in requests.load(session, VERIFICATION.type)]
    return [t for t in rows if all(_FILTERS[op](t[col], value) for col, op, value in filters or ())]


def read_events(settings: Settings, ticket_id: str | None = None) -> list[Event]:
    """A ticket's events (or all), oldest first."""
    with reading(settings) as session:
        rows = requests.events(session, ticket_id, type_=VERIFICATION.type)
    return [as_ticket_event(r) for r in rows]


def read_corrections(settings: Settings) -> pa.Table:
    """Every correction departments made answering tickets, from the store
    (:data:`~jobs.govern.ticket_snapshot.CORRECTIONS_SCHEMA`): what a base build reads as their
    observations (:mod:`jobs.integrate.corrections`)."""
    with reading(settings) as session:
        rows = [as_ticket(r) for r in requests.load(session, VERIFICATION.type)]
    return pa.Table.from_pylist(corrections_of(rows), schema=CORRECTIONS_SCHEMA)


def tickets_version(settings: Settings) -> int | None:
    """A number that changes whenever a ticket does (the newest ticket event in the store);
    None before the first ticket. A base build with the same inputs and the same number is
    skipped."""
    with reading(settings) as session:
        return requests.last_event_id(session, VERIFICATION.type)


def find_ticket(settings: Settings, ticket_id: str) -> Ticket:
    """The ticket with this id (or a unique prefix of it), with its ``workflow``."""
    with reading(settings) as session:
        return as_ticket(_find(session, ticket_id))


def _find(session: Session, ticket_id: str) -> requests.Record:
    try:
        return requests.find(session, VERIFICATION.type, ticket_id)
    except requests.RequestError as exc:
        raise TicketError(_in_ticket_words(str(exc))) from None


def _publish(
    settings: Settings, events: Sequence[Event], ticket_ids: Collection[str] | None = None
) -> None:
    """After the store committed: one audit entry per transition (who, why, which ticket: the
    log must answer "who confirmed this value" for years), then the lake snapshot.

    A build's or the daily check's full snapshot (no ``ticket_ids``) raises when it fails: its
    task fails and runs again. An account's decision does not: the store holds it, so the
    account is told it succeeded (an error would read as "not decided"), and the next full
    snapshot writes what this one missed.
    """
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
    if ticket_ids is None:
        write_snapshot(settings)
        return
    try:
        write_snapshot(settings, ticket_ids)
    except Exception:
        log.exception(
            "lake snapshot of ticket(s) %s failed; the next full one writes it", ticket_ids
        )


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
        [as_record(t) for t in changed],
        [as_store_event(e) for e in events],
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
    """Brings the tickets in line with a build's issues and returns a summary: the ids of the
    tickets now open and their 异议 marks (``marks``: base, base key, element), which the build
    stamps on the base rows.

    One store transaction holding every ticket's row: a decision made meanwhile waits for it,
    then finds the ticket moved and is refused rather than overwritten.
    """
    policy = policy or load_ticket_policy(settings)
    with transaction(settings) as session:
        import_lake_tickets(settings, session)
        held = requests.lock(session, VERIFICATION.type)
        existing = {r["id"]: as_ticket(r) for r in held}
        changed, events = plan_sync(
            existing, issues, policy, today=today, now=now, build_id=build_id
        )
        _write_bulk(session, held, changed, events)
    if changed:  # events, or only the tickets' last_detected_build moved
        _publish(settings, events)
    after = {**existing, **{t["ticket_id"]: t for t in changed}}
    counts: dict[str, int] = {}
    for event in events:
        counts[event["event"]] = counts.get(event["event"], 0) + 1
    return {
        "events": counts,
        "open_ticket_ids": sorted(i for i, t in after.items() if t["state"] in OPEN_STATES),
        "states": {i: t["state"] for i, t in after.items()},
        "marks": open_marks(after.values()),
    }


def _decide(
    settings: Settings,
    ticket_id: str,
    action: str,
    by: Actor,
    decision: Callable[[Ticket], tuple[Ticket, Event]],
) -> Ticket:
    """One account's decision on one ticket, in one store transaction
    (:func:`jobs.govern.procedure.decided`): the actor must hold ``action`` for an assigned
    department (or for any, as the bureau), and of two decisions at once only the first is
    recorded."""
    answered: list[tuple[Ticket, Event]] = []

    def stored(before: requests.Record) -> tuple[requests.Record, requests.Event]:
        after, event = decision(as_ticket(before))
        answered.append((after, event))
        return as_record(after, before["version"]), as_store_event(event, by.department)

    with transaction(settings) as session:
        import_lake_tickets(settings, session)
        try:
            procedure.decided(
                session, VERIFICATION, ticket_id, by=by, permission=action, decision=stored
            )
        except procedure.ProcedureError as exc:
            raise TicketError(_in_ticket_words(str(exc))) from None
    ((after, event),) = answered
    _publish(settings, [event], [after["ticket_id"]])
    return after


def _in_ticket_words(message: str) -> str:
    """The store's message about a request, about the ticket: "no verification request 'x'",
    "request x was changed by someone else meanwhile"."""
    message = message.replace("verification request", "ticket")
    return "ticket" + message.removeprefix("request") if message.startswith("request ") else message


def ask_extension(
    settings: Settings,
    ticket_id: str,
    *,
    by: Actor,
    why: str,
    workdays: int | None = None,
) -> Ticket:
    """The assigned department asks for the extension (see
    :func:`~jobs.govern.ticket_rules.apply_ask_extension`); the bureau decides it.

    Raises:
        Forbidden: ``by`` is not a data officer of an assigned department (jobs.store.roles).
        TicketError: the state or the profile does not allow it, or someone decided meanwhile.
    """
    policy = load_ticket_policy(settings)
    return _decide(
        settings,
        ticket_id,
        "ticket.extend",
        by,
        lambda ticket: apply_ask_extension(
            ticket,
            policy,
            by=by.login,
            why=why,
            today=settings.today(),
            now=settings.now(),
            workdays=workdays,
        ),
    )


def decide_extension(
    settings: Settings, ticket_id: str, *, grant: bool, by: Actor, why: str
) -> Ticket:
    """The bureau's steward approves (``grant``) or refuses the extension asked.

    Raises:
        Forbidden: ``by`` is not the bureau's steward.
        TicketError: nothing is asked, or the profile does not allow it.
    """
    policy = load_ticket_policy(settings)
    return _decide(
        settings,
        ticket_id,
        "ticket.decide_extension",
        by,
        lambda ticket: apply_decide_extension(
            ticket,
            policy,
            grant=grant,
            by=by.login,
            why=why,
            today=settings.today(),
            now=settings.now(),
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
        Forbidden: ``by`` is neither a data officer of an assigned department, nor a quality
            reviewer or steward of the bureau (jobs.store.roles).
        TicketError: the ticket is closed already, or someone decided meanwhile.
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


def standard_value(settings: Settings, element: str | None, value: str) -> str:
    """A corrected value as observations hold it (normalised text, DESIGN §5): a date as
    YYYY-MM-DD, a code as its standard code (a code's name is turned into it); other values as
    typed, trimmed.

    Raises:
        TicketError: the value is not a date, or no code of the element's code table.
    """
    from jobs.catalog import load_catalog

    value = (value or "").strip()
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    if not value or not element or element not in catalog.elements:
        return value
    data_element = catalog.element(element)
    if data_element.type == "date":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise TicketError(f"{value!r} is not a date: give it as YYYY-MM-DD") from None
    if data_element.code_table:
        table = catalog.code_table(data_element.code_table)
        code = value if value in table.codes else table.name_to_code.get(value)
        if code is None:
            codes = ", ".join(f"{c} {n}" for c, n in table.codes.items())
            raise TicketError(f"{value!r} is no {data_element.name} code; one of: {codes}")
        return code
    return value


def correct_ticket(
    settings: Settings, ticket_id: str, *, by: Actor, value: str, why: str
) -> Ticket:
    """The assigned department corrects its value: ``value`` (:func:`standard_value`) becomes
    its observation in the next base build, which closes the ticket when the conflict is gone.

    Raises:
        Forbidden: ``by`` is not a data officer of an assigned department.
        TicketError: the ticket is closed, or names no element, or the value is not one of it.
    """
    return _decide(
        settings,
        ticket_id,
        "ticket.correct",
        by,
        lambda ticket: apply_correct(
            ticket,
            value=standard_value(settings, ticket["element"], value),
            by=by.login,
            department=by.department,
            why=why,
            today=settings.today(),
            now=settings.now(),
        ),
    )


def dispute_ticket(settings: Settings, ticket_id: str, *, by: Actor, why: str) -> Ticket:
    """The assigned department disputes the finding, with its reason; the bureau coordinates.

    Raises:
        Forbidden: ``by`` is not a data officer of an assigned department.
        TicketError: the ticket is answered or closed already.
    """
    policy = load_ticket_policy(settings)
    return _decide(
        settings,
        ticket_id,
        "ticket.dispute",
        by,
        lambda ticket: apply_dispute(
            ticket,
            policy,
            by=by.login,
            department=by.department,
            why=why,
            today=settings.today(),
            now=settings.now(),
        ),
    )


def comment_ticket(settings: Settings, ticket_id: str, *, by: Actor, why: str) -> Ticket:
    """Adds a comment (意见) to a ticket, in any state; recorded and audited like a decision.

    Raises:
        Forbidden: as for :func:`close_ticket`.
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


def file_ticket(
    settings: Settings,
    subject: Mapping[str, Any],
    *,
    resources: Collection[str],
    by: Actor,
    problem: str,
    on_behalf_of: str | None = None,
) -> Ticket:
    """Files a verification request (校核申请) about a record: a new ticket to the departments of
    the element's authoritative resources (``resources``, which the caller finds in the
    configuration: :meth:`jobs.integrate.config.IntegrationConfig.verification_subject`), due in
    the profile's working days.

    Args:
        subject: ``base``, ``key_kind``, ``key`` and ``element`` of the record.
        by: a data officer of the using department, or the bureau (on behalf of a citizen or
            legal person: ``on_behalf_of`` names them).

    Raises:
        Forbidden: ``by`` may not file verification requests.
        TicketError: no department is authoritative, or no problem is described.
    """
    require(by, "ticket.file", by.department)
    policy = load_ticket_policy(settings)
    ticket, event = file_request(
        subject,
        resources,
        policy,
        problem=problem,
        by=by.login,
        department=by.department,
        on_behalf_of=on_behalf_of,
        today=settings.today(),
        now=settings.now(),
    )
    with transaction(settings) as session:
        import_lake_tickets(settings, session)
        _write_bulk(session, [], [ticket], [event])
    _publish(settings, [event], [ticket["ticket_id"]])
    return ticket


def plan_deadlines(
    tickets: Iterable[Ticket], policy: TicketPolicy, *, today: dt.date, now: dt.datetime
) -> tuple[list[Ticket], list[Event]]:
    """Open tickets past their deadline become overdue, and overdue ones escalated once they
    have been overdue ``escalate_after_overdue_workdays`` working days (0: at once): the
    deadline check of every request (:func:`jobs.govern.deadlines.plan_deadlines`), on tickets.
    An answered ticket (corrected, disputed) has no deadline running: the machine moves it not."""
    from jobs.govern import deadlines

    changed, events = deadlines.plan_deadlines(
        [as_record(t) for t in tickets],
        policy,
        today=today,
        now=now,
        machines={VERIFICATION.type: VERIFICATION},
    )
    return [as_ticket(r) for r in changed], [as_ticket_event(e) for e in events]


def publish_store_events(settings: Settings, events: Sequence[requests.Event]) -> None:
    """Audits ticket events written to the store by another module (the deadline check) and
    writes the lake's full ticket snapshot."""
    _publish(settings, [as_ticket_event(e) for e in events])


def check_deadlines(settings: Settings, *, today: dt.date | None = None) -> dict[str, Any]:
    """The daily deadline check of every request, tickets among them
    (:func:`jobs.govern.deadlines.check_deadlines`)."""
    from jobs.govern import deadlines

    return deadlines.check_deadlines(settings, today=today)
