"""Data demands (需求清单): a department asks for data not yet in the catalog or not yet shared.

鹤壁 000 §8: every department states, from its duties, the data it needs from others (需求清单),
and the bureau reviews and collects the lists. 泰州 001 §11: the department asked answers within
5 working days of receiving the demand (``share_demand_answer_workdays``); if it agrees, it
collects and shares the data within 5 working days of its answer
(``share_demand_deliver_workdays``, counted from the answer, not from the demand); if it
refuses, it gives its reason and the law it rests on. Where a profile sets no number the step has
no due date (the regulation is silent; DESIGN §1 documents no default).

A demand names what is wanted (description, purpose, legal basis, fields) and who the asking
department thinks holds it: a department, or the bureau when it does not know. It is delivered by
linking it to what now serves it: a catalog resource (``resource``) or a share grant of the asking
department (``grant``).

The bureau reviews the demands (000 §8): one that names the bureau, or the wrong department, it
forwards (转办) to the department that holds the data, which receives it that day (its answer is
due the profile's working days after).

States (type ``demand`` of the request model, :mod:`jobs.store.requests`)::

    submitted ──accepted──▶ accepted ──delivered──▶ delivered
      │  └─────refused────▶ refused   (reason and legal basis)
      └──forwarded──▶ submitted (to another holder)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobs.catalog import load_catalog
from jobs.govern import procedure
from jobs.govern.procedure import ProcedureError
from jobs.policy import PolicyProfile, WorkdayCalendar, load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.share.grants import GRANTED, GrantError, find_grant
from jobs.store import requests
from jobs.store.requests import STAY, Machine
from jobs.store.roles import BUREAU, Actor, require

SUBMITTED, ACCEPTED, REFUSED, DELIVERED = "submitted", "accepted", "refused", "delivered"

#: A data demand's transitions: action → (states it may start from, state it leads to).
DEMAND = Machine(
    type="demand",
    transitions={
        "filed": ((), SUBMITTED),
        ACCEPTED: ((SUBMITTED,), ACCEPTED),
        REFUSED: ((SUBMITTED,), REFUSED),
        DELIVERED: ((ACCEPTED,), DELIVERED),
        "forwarded": ((SUBMITTED,), STAY),
    },
    open_states=(SUBMITTED, ACCEPTED),
    closed_states=(REFUSED, DELIVERED),
)

#: What a delivered demand may be linked to.
LINKS = ("resource", "grant")


@dataclass(frozen=True)
class Demand:
    """What a department asks for."""

    description: str
    purpose: str
    legal_basis: str
    fields: Sequence[str] = field(default_factory=tuple)
    #: The department the asker thinks holds the data, or the bureau.
    holder: str = BUREAU


def _workdays(settings: Settings) -> tuple[PolicyProfile, WorkdayCalendar]:
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    return profile, get_calendar(default_override_paths(settings))


def _check_holder(settings: Settings, holder: str) -> None:
    departments = load_catalog(settings.schemas_root).departments
    if holder != BUREAU and holder not in departments:
        raise ProcedureError(
            f"no department {holder!r}; name one of {', '.join(departments)} or {BUREAU}"
        )


def file_demand(settings: Settings, demand: Demand, *, by: Actor) -> requests.Record:
    """Files ``by``'s department's demand with its holder, due the profile's
    ``share_demand_answer_workdays`` after today.

    Raises:
        Forbidden: ``by`` may not file demands for its department.
        ProcedureError: something is missing, or the holder is no department of the catalog.
    """
    require(by, "demand.file", by.department)
    description = procedure.require_reason(demand.description, "what data is wanted")
    purpose = procedure.require_reason(demand.purpose, "the purpose")
    basis = procedure.require_reason(demand.legal_basis, "the legal basis (the duty it serves)")
    _check_holder(settings, demand.holder)
    if demand.holder == by.department:
        raise ProcedureError("a demand asks another department (or the bureau) for data")
    today, now = settings.today(), settings.now()
    profile, calendar = _workdays(settings)
    workdays = profile.share_demand_answer_workdays
    record = procedure.new_record(
        DEMAND,
        by=by,
        departments=[demand.holder],
        subject={"description": description, "fields": list(demand.fields)},
        facts={
            "purpose": purpose,
            "legal_basis": basis,
            "answer_workdays": workdays,
            "profile": profile.name,
        },
        state=SUBMITTED,
        today=today,
        now=now,
        due_on=procedure.due(calendar, today, workdays),
    )
    first = procedure.event(record, "filed", None, by=by, why=purpose, now=now, on=today)
    return procedure.file(settings, DEMAND, record, first)


def answer_demand(
    settings: Settings,
    request_id: str,
    accept: bool,
    *,
    by: Actor,
    why: str,
    legal_basis: str = "",
) -> requests.Record:
    """The holder's answer. Accepted: due for delivery the profile's
    ``share_demand_deliver_workdays`` after today, the day of the answer. Refused: closed, with
    the reason and the legal basis of the refusal (001 §11).

    Raises:
        Forbidden: ``by`` is neither an approver of the holding department nor the bureau's
            steward.
        ProcedureError: no reason (or, refusing, no legal basis), or the demand is answered.
    """
    reason = procedure.require_reason(why)
    basis = (
        "" if accept else procedure.require_reason(legal_basis, "the legal basis of the refusal")
    )
    today, now = settings.today(), settings.now()
    profile, calendar = _workdays(settings)

    def decision(record: requests.Record) -> tuple[requests.Record, requests.Event]:
        if record["state"] != SUBMITTED:
            raise ProcedureError(f"demand {record['id']} is answered already ({record['state']})")
        if accept:
            workdays = profile.share_demand_deliver_workdays
            due_on, provisional = procedure.due(calendar, today, workdays)
            after = {
                **record,
                "state": ACCEPTED,
                "due_on": due_on,
                "due_provisional": provisional,
                "facts": {
                    **record["facts"],
                    "answered_on": today.isoformat(),
                    "deliver_workdays": workdays,
                },
                "updated_at": now,
            }
        else:
            after = procedure.closed(record, REFUSED, by=by, why=reason, now=now, on=today)
            after["facts"] = {**record["facts"], "refusal_legal_basis": basis}
        action = ACCEPTED if accept else REFUSED
        why_shown = reason if accept else f"{reason} (legal basis: {basis})"
        return after, procedure.event(
            after, action, SUBMITTED, by=by, why=why_shown, now=now, on=today
        )

    return procedure.decide(
        settings,
        DEMAND,
        request_id,
        by=by,
        permission="demand.answer",
        decision=decision,
    )


def forward_demand(
    settings: Settings, request_id: str, holder: str, *, by: Actor, why: str
) -> requests.Record:
    """The bureau forwards (转办) an unanswered demand to ``holder``, which receives it today:
    its answer is due the profile's ``share_demand_answer_workdays`` after today.

    Raises:
        Forbidden: ``by`` is not the bureau's steward.
        ProcedureError: no reason, an unknown holder or the asking department itself, or the
            demand is answered already.
    """
    reason = procedure.require_reason(why)
    _check_holder(settings, holder)
    today, now = settings.today(), settings.now()
    profile, calendar = _workdays(settings)

    def decision(record: requests.Record) -> tuple[requests.Record, requests.Event]:
        if record["state"] != SUBMITTED:
            raise ProcedureError(f"demand {record['id']} is answered already ({record['state']})")
        if holder in (record["requester_department"], *record["departments"]):
            raise ProcedureError(f"demand {record['id']} cannot be forwarded to {holder}")
        due_on, provisional = procedure.due(calendar, today, profile.share_demand_answer_workdays)
        after = {
            **record,
            "departments": [holder],
            "due_on": due_on,
            "due_provisional": provisional,
            "updated_at": now,
        }
        why_shown = f"{reason} (→ {holder})"
        return after, procedure.event(
            after, "forwarded", SUBMITTED, by=by, why=why_shown, now=now, on=today
        )

    return procedure.decide(
        settings,
        DEMAND,
        request_id,
        by=by,
        permission="demand.forward",
        acting=lambda record: (),
        decision=decision,
    )


def _check_link(settings: Settings, record: requests.Record, kind: str, target: str) -> None:
    if kind == "resource":
        if target not in load_catalog(settings.schemas_root).resources:
            raise ProcedureError(f"no catalog resource {target!r}")
        return
    try:
        grant = find_grant(settings, target)
    except GrantError as exc:
        raise ProcedureError(str(exc)) from None
    if grant["consumer"] != record["requester_department"] or grant["state"] != GRANTED:
        raise ProcedureError(
            f"share grant {target} is not a granted share of {record['requester_department']}"
        )


def deliver_demand(
    settings: Settings, request_id: str, *, by: Actor, kind: str, target: str, why: str
) -> requests.Record:
    """Records the delivery of an accepted demand: linked to the catalog resource or the share
    grant of the asking department that now serves it.

    Raises:
        Forbidden: ``by`` does not act for the holding department.
        ProcedureError: the demand is not accepted, or the link names nothing that exists.
    """
    if kind not in LINKS:
        raise ProcedureError(f"link a demand to a {' or a '.join(LINKS)}, not {kind!r}")
    reason = procedure.require_reason(why)
    today, now = settings.today(), settings.now()

    def decision(record: requests.Record) -> tuple[requests.Record, requests.Event]:
        if record["state"] != ACCEPTED:
            raise ProcedureError(
                f"demand {record['id']} is {record['state']}: only an accepted one is delivered"
            )
        _check_link(settings, record, kind, target.strip())
        after = procedure.closed(record, DELIVERED, by=by, why=reason, now=now, on=today)
        after["facts"] = {**record["facts"], "delivered_as": {"kind": kind, "id": target.strip()}}
        return after, procedure.event(
            after, DELIVERED, ACCEPTED, by=by, why=f"{reason} ({kind} {target})", now=now, on=today
        )

    return procedure.decide(
        settings,
        DEMAND,
        request_id,
        by=by,
        permission="demand.deliver",
        decision=decision,
    )


def demands_of(settings: Settings, department: str) -> list[requests.Record]:
    """The demands a department filed or must answer, newest first; every one for the bureau."""
    records = reversed(procedure.load(settings, DEMAND))
    return [
        r
        for r in records
        if department == BUREAU
        or r["requester_department"] == department
        or department in r["departments"]
    ]


# --- what the reports read (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class DemandCounts:
    """One holding department's demands of a year: received, answered, and met."""

    received: int = 0
    accepted: int = 0
    refused: int = 0
    delivered: int = 0
    delivered_on_time: int = 0


def demand_counts(
    records: Iterable[Mapping[str, Any]], year: int, as_of: dt.date
) -> dict[str, DemandCounts]:
    """Per holding department: demands received in ``year`` up to ``as_of``, how many it
    accepted (delivered or not yet), refused, and met (delivered, and by the due date)."""

    def tally(r: Mapping[str, Any]) -> list[str]:
        state = r["state"]
        keys = ["accepted"] if state in (ACCEPTED, DELIVERED) else []
        if state in (REFUSED, DELIVERED):
            keys.append(state)
        if state == DELIVERED and procedure.answered_on_time(r):
            keys.append("delivered_on_time")
        return keys

    counts = procedure.yearly_tally(records, year, as_of, DemandCounts.__annotations__, tally)
    return {d: DemandCounts(**c) for d, c in counts.items()}
