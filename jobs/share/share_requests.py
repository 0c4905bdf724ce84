"""Share requests (共享申请) as requests between departments (DESIGN §10): who must answer, by
when, and what may follow a refusal.

A share request is a request of type ``share`` in the one request model (:mod:`jobs.store.requests`)
whose id is its grant's ``request_id``. The grant (what a consumer may read, which fields, until
when) stays in ``share_grants`` (:mod:`jobs.share.grants`): the governed reads check it, and
nothing else. The request carries the procedure: the department that must act now, the due date
in working days, and one event per step with who, why and the due date it left. So a share
request sits in the acting department's inbox with its working days left, like a verification
ticket, and the deadline check over every request type covers it.

The procedure (000 §15–16, 001 §15, 002 §21):

* the consumer asks: dataset, fields, purpose, legal basis (履职依据), expiry;
* unconditional data (无条件共享) is granted on request by ``system`` unless the profile's
  ``unconditional_share_reviewed_by`` names a reviewer (镇海: an application to the district data
  centre, the bureau, 002 §21): then it waits for that reviewer like a conditional request;
* conditional data (有条件/受限共享) waits for an approver of the providing department, who answers
  within the profile's ``conditional_share_answer_workdays``, counted from the day after receipt
  on the official calendar (no due date where the profile sets none); a refusal carries its
  reason;
* not-shared data (不予/非共享) is refused by ``system`` on the catalog's legal basis: changing that
  is a catalog change (目录更新), not a coordination;
* the consumer of a request its provider refused may ask the bureau to coordinate (协调), saying
  why; the bureau's steward grants it or upholds the refusal, with a reason, and that stands. No
  profile sets a deadline for coordination, so it has none.

States (``pending`` and ``coordinating`` wait in an inbox; the others are closed)::

    pending ──granted──▶ granted ──revoked──▶ revoked
       │                    ▲
       │          coordination_granted
       │                    │
       └──denied──▶ denied ──coordination_asked──▶ coordinating ──upheld──▶ upheld
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from jobs.govern import procedure
from jobs.govern.procedure import ProcedureError
from jobs.policy import WorkdayCalendar, load_profile
from jobs.policy.workdays import Deadline, default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.requests import Machine, Record
from jobs.store.roles import BUREAU, Actor

PENDING, GRANTED, DENIED, REVOKED = "pending", "granted", "denied", "revoked"
COORDINATING, UPHELD = "coordinating", "upheld"
SYSTEM = "system"
#: The catalog's share types (jobs.share.policy) this procedure tells apart.
UNCONDITIONAL, CONDITIONAL = "unconditional", "conditional"

#: event → (states it may start from, state it leads to); no start: it opens the request.
SHARE = Machine(
    type="share",
    transitions={
        "requested": ((), PENDING),
        "granted": ((PENDING,), GRANTED),
        "denied": ((PENDING,), DENIED),
        "coordination_asked": ((DENIED,), COORDINATING),
        "coordination_granted": ((COORDINATING,), GRANTED),
        "upheld": ((COORDINATING,), UPHELD),
        "revoked": ((GRANTED,), REVOKED),
    },
    open_states=(PENDING, COORDINATING),
    closed_states=(GRANTED, DENIED, UPHELD, REVOKED),
)


class ShareRequestError(ProcedureError):
    """A step the request's state or the procedure does not allow; the message says why."""


@dataclass(frozen=True)
class SharePolicy:
    """The numbers and rules a share request lives by, from the policy profile."""

    profile: str
    #: ``conditional_share_answer_workdays``; None: the profile sets no deadline.
    answer_workdays: int | None
    #: ``unconditional_share_reviewed_by``: None (granted on request), bureau or provider.
    unconditional_reviewed_by: str | None
    calendar: WorkdayCalendar

    def is_reviewed(self, share_type: str) -> bool:
        """Whether a request of this share type waits for a person's answer."""
        return share_type == CONDITIONAL or (
            share_type == UNCONDITIONAL and self.unconditional_reviewed_by is not None
        )

    def reviewer(self, share_type: str, provider: str) -> str:
        """The department whose approver answers: the provider, or the bureau where the profile
        sends applications for unconditional data there (镇海, 002 §21)."""
        if share_type == UNCONDITIONAL and self.unconditional_reviewed_by == "bureau":
            return BUREAU
        return provider

    def answer_due(self, received_on: dt.date) -> Deadline | None:
        """The day the answer is due: the profile's working days after the day of receipt."""
        if self.answer_workdays is None:
            return None
        return self.calendar.add_workdays(received_on, self.answer_workdays)


def load_share_policy(settings: Settings) -> SharePolicy:
    """The share policy of ``settings.policy_profile`` on the configured calendar."""
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    return SharePolicy(
        profile=profile.name,
        answer_workdays=profile.conditional_share_answer_workdays,
        unconditional_reviewed_by=profile.unconditional_share_reviewed_by,
        calendar=get_calendar(default_override_paths(settings)),
    )


# --- pure steps -------------------------------------------------------------------------------


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _pending(grant: Mapping[str, Any], *, provider: str, reviewer: str, legal_basis: str) -> Record:
    """The request of a grant as it was asked (same id): pending, waiting for ``reviewer``. Its
    requester is the account that asked, for the consumer (the bureau's steward may ask on a
    department's behalf)."""
    record = procedure.new_record(
        SHARE,
        by=Actor(grant["requested_by"], grant["consumer"], frozenset()),
        departments=[reviewer],
        subject={
            "dataset": grant["dataset"],
            "consumer": grant["consumer"],
            "provider": provider,
            "reviewer": reviewer,
            "share_type": grant["share_type"],
            "fields": list(grant["fields"]),
            "purpose": grant["purpose"],
            "legal_basis": legal_basis,
            "expires_on": _iso(grant["expires_on"]),
            "kind": grant.get("kind"),
        },
        facts={},
        state=PENDING,
        today=grant["requested_on"],
        now=grant["updated_at"],
        due_on=(grant["deadline"], bool(grant["deadline_provisional"])),
    )
    return {**record, "id": grant["request_id"]}


def opened(
    grant: Mapping[str, Any],
    *,
    provider: str,
    reviewer: str,
    legal_basis: str,
    by: Actor,
    system: Actor,
    now: dt.datetime,
) -> tuple[Record, list[requests.Event]]:
    """The request of a new grant (as :func:`jobs.share.grants.new_request` decided it) and its
    events: ``requested``, then ``granted`` or ``denied`` by ``system`` when the share type
    decided at once."""
    record = _pending(grant, provider=provider, reviewer=reviewer, legal_basis=legal_basis)
    why = grant["purpose"] + (f" (依据 {legal_basis})" if legal_basis else "")
    events = [
        procedure.event(
            record, "requested", None, by=by, why=why, on=grant["requested_on"], now=now
        )
    ]
    if grant["state"] != PENDING:
        action = "granted" if grant["state"] == GRANTED else "denied"
        record, event = _step(
            record,
            action,
            by=system,
            why=grant["decision_reason"],
            today=grant["decided_on"],
            now=now,
        )
        events.append(event)
    return record, events


def _step(
    record: Record,
    action: str,
    *,
    by: Actor,
    why: str,
    today: dt.date,
    now: dt.datetime,
    departments: Sequence[str] | None = None,
    due: Deadline | None = None,
) -> tuple[Record, requests.Event]:
    """``record`` moved by ``action`` (checked against :data:`SHARE`), and its event."""
    why = procedure.require_reason(why, "why (--why): every step of a share request has a reason")
    sources, target = SHARE.transitions[action]
    if record["state"] not in sources:
        raise ShareRequestError(
            f"share request {record['id']} is {record['state']}: {action} needs "
            f"{' or '.join(sources)}"
        )
    out = dict(record)
    out.update(state=target, updated_at=now, due_on=None, due_provisional=False)
    if due is not None:
        out.update(due_on=due.date, due_provisional=due.provisional)
    if departments is not None:
        out["departments"] = list(departments)
    if target in SHARE.closed_states:
        out.update(closed_on=today, closed_by=by.login, close_reason=why)
    else:
        out.update(closed_on=None, closed_by=None, close_reason=None)
    return out, procedure.event(out, action, record["state"], by=by, why=why, on=today, now=now)


def answered(
    record: Record, approve: bool, *, by: Actor, why: str, today: dt.date, now: dt.datetime
) -> tuple[Record, requests.Event]:
    """The reviewer's answer to a pending request: granted, or denied with its reason."""
    return _step(record, "granted" if approve else "denied", by=by, why=why, today=today, now=now)


def coordination_asked(
    record: Record, *, by: Actor, why: str, today: dt.date, now: dt.datetime
) -> tuple[Record, requests.Event]:
    """The consumer asks the bureau to coordinate (协调) a refusal: the request goes to the
    bureau's inbox. A refusal by rule (not-shared data) is the catalog's, not a department's."""
    if record["state"] == DENIED and record["closed_by"] == SYSTEM:
        raise ShareRequestError(
            f"share request {record['id']} was refused by the catalog's share type "
            f"({record['close_reason']}); a change of share type is a catalog change (目录更新)"
        )
    return _step(
        record,
        "coordination_asked",
        by=by,
        why=why,
        today=today,
        now=now,
        departments=[BUREAU],
    )


def coordinated(
    record: Record, grant: bool, *, by: Actor, why: str, today: dt.date, now: dt.datetime
) -> tuple[Record, requests.Event]:
    """The bureau's decision on a coordination: the share is granted, or the refusal upheld."""
    action = "coordination_granted" if grant else "upheld"
    return _step(record, action, by=by, why=why, today=today, now=now)


def revoked(
    record: Record, *, by: Actor, why: str, today: dt.date, now: dt.datetime
) -> tuple[Record, requests.Event]:
    """A granted share withdrawn."""
    return _step(record, "revoked", by=by, why=why, today=today, now=now)


# --- store edges ------------------------------------------------------------------------------


def insert(session: Session, record: Record, events: Sequence[requests.Event]) -> None:
    """Writes a new request and its first events (checked against :data:`SHARE`)."""
    requests.upsert(session, SHARE, {}, [record], events)


def move(session: Session, before: Record, after: Record, event: requests.Event) -> None:
    """Writes one step, unless someone else moved the request meanwhile.

    Raises:
        ShareRequestError: the request was moved meanwhile.
    """
    try:
        requests.move(session, SHARE, before, after, event)
    except requests.RequestConflict as exc:
        raise ShareRequestError(str(exc)) from None


def held(session: Session, request_id: str) -> Record | None:
    """The share request with this (whole) id, None for a grant made before share requests were
    requests."""
    found = requests.load(session, SHARE.type, ids=[request_id])
    return found[0] if found else None


def adopt(
    session: Session,
    grant: Mapping[str, Any],
    steps: Sequence[tuple[str, str, str, dt.date]],
    *,
    provider: str,
) -> Record:
    """The request of a grant made before share requests were requests, written as its steps
    (state reached, by, why, on) record it, and returned. A grant that was already settled keeps
    its history as it was."""
    record = _pending(grant, provider=provider, reviewer=provider, legal_basis="")
    record.update(state=grant["state"], version=1)
    if grant["state"] != PENDING:
        _, by, why, on = steps[-1]
        record.update(closed_on=on, closed_by=by, close_reason=why)
    events = []
    previous = None
    for state, by, why, on in steps:
        events.append(
            {
                "event_id": _adopted_event_id(record["id"], state),
                "request_id": record["id"],
                "action": "requested" if state == PENDING else state,
                "from_state": previous,
                "to_state": state,
                "by": by,
                "by_department": None,
                "reason": why or "",
                "at": grant["updated_at"],
                "on": on,
                "due_on": grant["deadline"] if state == PENDING else None,
                "source": "share_grants",
            }
        )
        previous = state
    requests.insert_as_found(session, [record], events)
    return record


def _adopted_event_id(request_id: str, state: str) -> str:
    return hashlib.sha256(f"{request_id}|{state}|adopted".encode()).hexdigest()[:24]


def steps(session: Session, request_id: str) -> list[dict[str, Any]]:
    """A request's steps, oldest first: action, from, to, by (and department), why, on, due."""
    keys = ("action", "from_state", "to_state", "by", "by_department", "reason", "on", "due_on")
    return [{k: e[k] for k in keys} for e in requests.events(session, request_id, SHARE.type)]


def by_id(session: Session) -> dict[str, Record]:
    """Every share request, by id."""
    return {r["id"]: r for r in requests.load(session, SHARE.type)}
