"""Catalog change (目录更新): a department asks to change its resource's catalog entry, the bureau
reviews it, and an approved change becomes a numbered catalog revision.

000 §10 and 003 §18: within ``catalog_update_ask_workdays`` of a change in the law or in its
duties (职能变化), a department asks the data authority to update its catalog entry; the authority
reviews and updates the catalog within ``catalog_update_review_workdays`` of receiving the
request. 002 §13 (镇海) sets one period, 5 working days, for the application and the update
together and no separate review step: there a proposal that names the day the duties changed is
due for review on the day the whole period ends.

One request of type ``catalog_change`` per proposal, in the workflow store (the one request
model, :mod:`jobs.store.requests`)::

    (bureau notes a change of duties) ──reminded──▶ awaiting ──submitted──┐
                                                    (the department, due  │
                                                     ask_workdays after   ▼
    (the department) ──────────────────────────proposed──────────────▶ proposed ──approved──▶ approved
                                                    (the bureau, due         └──rejected──▶ rejected
                                                     review_workdays after receipt)

Who acts: a data officer proposes for a resource of its own department only (``catalog.propose``);
only the bureau's steward reminds, approves and rejects (``catalog.review``). Every transition is
a request event and an audit entry; overdue and escalated requests are the generic deadline
check's business, not this module's.

A proposal is the whole new entry, as the resource's YAML file holds it. Before anyone reviews
it, the catalog loader checks it with the rest of the catalog (:func:`jobs.catalog.loader.
check_proposal`): an invalid one is refused with the loader's own messages and nothing is
stored. The proposal records the diff against the entry it was made from and a hash of that
entry; approval checks the proposal again and refuses it if the entry changed meanwhile (another
revision was approved), so an approval never undoes one it did not see. An approved change
becomes catalog revision N+1 (:mod:`jobs.catalog.revisions`): a file the loader reads over
`schemas/`, written from the store after the approval commits (:func:`publish_revisions`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from jobs import yamlconf
from jobs.audit.log import record_many
from jobs.catalog import revisions
from jobs.catalog.loader import CatalogError, check_proposal, load_catalog
from jobs.catalog.models import Resource
from jobs.govern import procedure
from jobs.policy import load_profile
from jobs.policy.workdays import (
    Deadline,
    WorkdayCalendar,
    default_override_paths,
    get_calendar,
)
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.requests import Machine
from jobs.store.roles import BUREAU, Actor, require

AWAITING, PROPOSED, APPROVED, REJECTED = "awaiting", "proposed", "approved", "rejected"
OPEN_STATES: tuple[str, ...] = (AWAITING, PROPOSED)
CLOSED_STATES: tuple[str, ...] = (APPROVED, REJECTED)

#: The catalog change's transitions: action → (states it may start from, state it leads to).
CATALOG_CHANGE = Machine(
    type="catalog_change",
    transitions={
        "reminded": ((), AWAITING),  # the bureau notes a change of duties; the department asks
        "proposed": ((), PROPOSED),  # the department asks of its own accord
        "submitted": ((AWAITING,), PROPOSED),  # the department answers the reminder
        "approved": ((PROPOSED,), APPROVED),
        "rejected": ((PROPOSED,), REJECTED),
    },
    open_states=OPEN_STATES,
    closed_states=CLOSED_STATES,
)

#: Who proposes and who reviews (jobs.store.roles.PERMISSIONS holds the roles).
PROPOSE, REVIEW = "catalog.propose", "catalog.review"


class CatalogChangeError(ValueError):
    """A proposal or decision the rules refuse; ``problems`` holds the catalog loader's
    messages when the proposed entry is not a valid catalog entry."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message + "".join(f"\n  {p}" for p in self.problems))


class UnknownResource(CatalogChangeError):
    """The resource, or the change, does not exist."""


class InvalidEntry(CatalogChangeError):
    """The proposed entry is not YAML, or not a valid catalog entry: ``problems`` says where."""


# --- the numbers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePolicy:
    """The two numbers of the policy profile a catalog change lives by, and the calendar."""

    profile: str
    ask_workdays: int | None
    review_workdays: int | None
    calendar: WorkdayCalendar

    def ask_due(self, changed_on: dt.date | None) -> Deadline | None:
        """When the department must have asked, counted from the day its duties changed; None
        without that day or where the profile sets no period."""
        if changed_on is None or self.ask_workdays is None:
            return None
        return self.calendar.add_workdays(changed_on, self.ask_workdays)

    def review_due(self, received_on: dt.date, ask_due: Deadline | None) -> Deadline | None:
        """When the bureau must have reviewed and updated: ``review_workdays`` after receipt;
        where the profile sets no review period but one period for asking and updating together
        (镇海, 002 §13), the end of that period; otherwise no deadline."""
        if self.review_workdays is not None:
            return self.calendar.add_workdays(received_on, self.review_workdays)
        return ask_due


def load_change_policy(settings: Settings) -> ChangePolicy:
    """The policy of ``settings.policy_profile`` on the configured calendar."""
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    return ChangePolicy(
        profile=profile.name,
        ask_workdays=profile.catalog_update_ask_workdays,
        review_workdays=profile.catalog_update_review_workdays,
        calendar=get_calendar(default_override_paths(settings)),
    )


# --- entries ----------------------------------------------------------------------------------


def parse_entry(text: str) -> Any:
    """A proposed entry typed as YAML (the form's text), parsed strictly like a catalog file.

    Raises:
        CatalogChangeError: not YAML, naming the line.
    """
    try:
        return yamlconf.parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = f"proposal: {where}not valid YAML: {exc.problem or exc}"
        raise InvalidEntry("the proposed entry is not YAML", [problem]) from None
    except yaml.YAMLError as exc:
        problem = f"proposal: not valid YAML: {exc}"
        raise InvalidEntry("the proposed entry is not YAML", [problem]) from None


def entry_text(entry: Any) -> str:
    """An entry as YAML, for the proposal form to start from."""
    return yaml.safe_dump(revisions.plain(entry), allow_unicode=True, sort_keys=False, width=100)


def current_entry(settings: Settings, resource: Resource) -> dict[str, Any]:
    """The entry the catalog reads for ``resource`` now: its newest revision's, or its file's."""
    if resource.revision:
        return revisions.plain(yamlconf.read(resource.path)["entry"])
    return revisions.plain(yamlconf.read(Path(settings.schemas_root) / resource.path))


def entry_hash(entry: Any) -> str:
    text = json.dumps(revisions.plain(entry), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resource(settings: Settings, resource_id: str) -> Resource:
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    resource = catalog.resources.get(resource_id)
    if resource is None:
        raise UnknownResource(
            f"no resource {resource_id!r} in the catalog (a change revises an existing entry; "
            "a new resource is added to schemas/)"
        )
    return resource


def _checked(settings: Settings, resource_id: str, entry: Any) -> None:
    """Raises :class:`CatalogChangeError` with the loader's messages unless ``entry`` is a valid
    entry of ``resource_id`` in the catalog as it stands."""
    try:
        check_proposal(settings.schemas_root, settings.catalog_revisions_root, resource_id, entry)
    except CatalogError as exc:
        raise InvalidEntry(
            f"the proposed entry of {resource_id} is not a valid catalog entry",
            [str(p) for p in exc.problems],
        ) from None


# --- the store --------------------------------------------------------------------------------


def _due(deadline: Deadline | None) -> tuple[dt.date | None, bool]:
    return (deadline.date, deadline.provisional) if deadline else (None, False)


def _text(value: str, what: str) -> str:
    try:
        return procedure.require_reason(value, what)
    except procedure.ProcedureError as exc:
        raise CatalogChangeError(str(exc)) from None


def _new_record(
    resource: Resource,
    by: Actor,
    today: dt.date,
    now: dt.datetime,
    state: str = PROPOSED,
    departments: Sequence[str] = (BUREAU,),
    deadline: Deadline | None = None,
) -> requests.Record:
    return procedure.new_record(
        CATALOG_CHANGE,
        by=by,
        departments=departments,
        subject={"resource": resource.id, "department": resource.department},
        facts={},
        state=state,
        today=today,
        now=now,
        due_on=_due(deadline),
    )


def _open_of(session: Session, resource_id: str) -> list[requests.Record]:
    held = requests.load(session, CATALOG_CHANGE.type, states=OPEN_STATES, for_update=True)
    return [r for r in held if r["subject"]["resource"] == resource_id]


def _planned(
    settings: Settings, resource_id: str, entry: Any, by: Actor
) -> tuple[Resource, dict[str, Any], list[dict[str, Any]]]:
    resource = _resource(settings, resource_id)
    require(by, PROPOSE, resource.department)
    before = current_entry(settings, resource)
    _checked(settings, resource_id, entry)
    changes = revisions.diff_entries(before, entry)
    if not changes:
        raise CatalogChangeError(f"the proposal changes nothing in the entry of {resource_id}")
    return resource, before, changes


def preview(settings: Settings, resource_id: str, entry: Any, *, by: Actor) -> list[dict]:
    """What a proposal of ``entry`` would change, once the catalog loader accepts it; nothing
    is stored (the proposal form shows it before the department sends it).

    Raises:
        as :func:`propose`.
    """
    return _planned(settings, resource_id, entry, by)[2]


def propose(
    settings: Settings,
    resource_id: str,
    entry: Any,
    *,
    by: Actor,
    reason: str,
    duty_changed_on: dt.date | None = None,
) -> dict[str, Any]:
    """A department's proposal to change its resource's entry to ``entry`` (the whole entry).

    It answers the bureau's reminder for the resource if one is open. Due for review the
    profile's ``catalog_update_review_workdays`` after today; with ``duty_changed_on`` (the day
    the law or the department's duties changed) it also records when the department had to
    ask by (``catalog_update_ask_workdays``) and whether it asked late.

    Raises:
        UnknownResource: no such resource.
        Forbidden: ``by`` is not a data officer of the resource's department.
        CatalogChangeError: no reason; the entry is invalid (the loader's messages) or changes
            nothing; or a proposal for the resource already awaits review.
    """
    reason = _text(reason, "why the entry changes")
    resource, before, changes = _planned(settings, resource_id, entry, by)
    policy = load_change_policy(settings)
    today, now = settings.today(), settings.now()
    with transaction(settings) as session:
        open_ones = _open_of(session, resource_id)
        waiting = [r for r in open_ones if r["state"] == PROPOSED]
        if waiting:
            raise CatalogChangeError(
                f"change {waiting[0]['id']} of {resource_id} awaits the bureau's review; "
                "wait for its decision, then propose again"
            )
        reminder = next((r for r in open_ones if r["state"] == AWAITING), None)
        changed_on = duty_changed_on or _date(reminder and reminder["facts"].get("duty_changed_on"))
        ask_due = policy.ask_due(changed_on)
        due_on, due_provisional = _due(policy.review_due(today, ask_due))
        record = dict(reminder) if reminder else _new_record(resource, by, today, now)
        record.update(
            state=PROPOSED,
            requested_by=by.login,
            requester_department=by.department,
            opened_on=today,
            updated_at=now,
            departments=[BUREAU],
            due_on=due_on,
            due_provisional=due_provisional,
            facts={
                **(reminder["facts"] if reminder else {}),
                "reason": reason,
                "entry": revisions.plain(entry),
                "changes": changes,
                "base_hash": entry_hash(before),
                "base_revision": resource.revision,
                "duty_changed_on": changed_on.isoformat() if changed_on else None,
                "ask_due_on": ask_due.date.isoformat() if ask_due else None,
                "asked_late": bool(ask_due and today > ask_due.date) if changed_on else None,
                "profile": policy.profile,
            },
        )
        action = "submitted" if reminder else "proposed"
        from_state = reminder["state"] if reminder else None
        event = procedure.event(record, action, from_state, by=by, why=reason, now=now, on=today)
        held = {reminder["id"]: reminder} if reminder else {}
        requests.upsert(session, CATALOG_CHANGE, held, [record], [event])
    _audit(settings, record, event)
    return view(record)


def remind(
    settings: Settings, resource_id: str, *, by: Actor, changed_on: dt.date, why: str
) -> dict[str, Any]:
    """The bureau notes that the law or a department's duties changed on ``changed_on``: the
    department must propose the change of ``resource_id``'s entry within the profile's
    ``catalog_update_ask_workdays`` of that day (000 §10; no deadline where the profile sets
    none). The request waits in the department's inbox until it proposes.

    Raises:
        UnknownResource, Forbidden (not the bureau's steward), CatalogChangeError (no reason, or
        a change of the resource is already open).
    """
    resource = _resource(settings, resource_id)
    require(by, REVIEW, resource.department)
    why = _text(why, "what changed")
    policy = load_change_policy(settings)
    today, now = settings.today(), settings.now()
    if changed_on > today:
        raise CatalogChangeError(f"the change of duties on {changed_on} is after today ({today})")
    with transaction(settings) as session:
        if _open_of(session, resource_id):
            raise CatalogChangeError(f"a change of {resource_id} is already open")
        ask_due = policy.ask_due(changed_on)
        record = _new_record(resource, by, today, now, AWAITING, [resource.department], ask_due)
        record["facts"] = {
            "reminder": why,
            "duty_changed_on": changed_on.isoformat(),
            "ask_due_on": ask_due.date.isoformat() if ask_due else None,
            "profile": policy.profile,
        }
        event = procedure.event(record, "reminded", None, by=by, why=why, now=now, on=today)
        requests.upsert(session, CATALOG_CHANGE, {}, [record], [event])
    _audit(settings, record, event)
    return view(record)


def decide(
    settings: Settings, change_id: str, approve: bool, *, by: Actor, why: str
) -> dict[str, Any]:
    """The bureau approves or rejects a proposed change. An approval checks the entry again
    and becomes catalog revision N+1, published as a file for the pipeline.

    Revision numbers are given one at a time: the transaction holds every catalog change's row
    (PostgreSQL; SQLite's write lock holds the database), so a second approval waits for the
    first and takes the next number.

    Raises:
        Forbidden: ``by`` is not the bureau's steward.
        UnknownResource: no such change.
        CatalogChangeError: not proposed (already decided, or awaiting the department); the
            entry changed since the proposal; the proposal is no longer valid.
    """
    require(by, REVIEW)
    why = _text(why, "why")
    today, now = settings.today(), settings.now()
    with transaction(settings) as session:
        held = requests.lock(session, CATALOG_CHANGE.type)
        before = _find(session, change_id)
        if before["state"] != PROPOSED:
            raise CatalogChangeError(
                f"change {before['id']} is {before['state']}: only a proposed change is decided"
            )
        state = APPROVED if approve else REJECTED
        after = procedure.closed(before, state, by=by, why=why, now=now, on=today)
        if approve:
            resource_id = before["subject"]["resource"]
            facts = before["facts"]
            resource = _resource(settings, resource_id)
            if entry_hash(current_entry(settings, resource)) != facts["base_hash"]:
                raise CatalogChangeError(
                    f"the entry of {resource_id} changed since this proposal (now revision "
                    f"{resource.revision or 'of schemas/'}): ask the department to propose again"
                )
            _checked(settings, resource_id, facts["entry"])
            after["facts"] = {**facts, "revision": _next_revision(settings, held)}
        action = "approved" if approve else "rejected"
        event = procedure.event(after, action, PROPOSED, by=by, why=why, now=now, on=today)
        requests.move(session, CATALOG_CHANGE, before, after, event)
    if approve:
        publish_revisions(settings)
    _audit(settings, after, event)
    return view(after)


def _next_revision(settings: Settings, held: Sequence[requests.Record]) -> int:
    numbers = [int(r["facts"]["revision"]) for r in held if r["facts"].get("revision")]
    files = revisions.revision_files(settings.catalog_revisions_root)
    numbers += [int(revisions.REVISION_FILE.match(p.name).group(1)) for p in files]  # type: ignore[union-attr]
    return max(numbers, default=0) + 1


def _find(session: Session, change_id: str) -> requests.Record:
    try:
        return requests.find(session, CATALOG_CHANGE.type, change_id)
    except requests.RequestError as exc:
        raise UnknownResource(
            str(exc).replace("catalog_change request", "catalog change")
        ) from None


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def revision_of(record: requests.Record) -> revisions.Revision:
    """The catalog revision an approved change became."""
    facts = record["facts"]
    return revisions.Revision(
        number=int(facts["revision"]),
        resource=record["subject"]["resource"],
        entry=facts["entry"],
        proposed_by=record["requested_by"],
        proposed_department=record["requester_department"] or "",
        proposed_on=record["opened_on"].isoformat(),
        reason=facts.get("reason", ""),
        approved_by=record["closed_by"],
        approved_on=record["closed_on"].isoformat(),
        decision=record["close_reason"] or "",
        request=record["id"],
        changes=tuple(facts.get("changes") or ()),
    )


def publish_revisions(settings: Settings) -> list[Path]:
    """Writes the file of every approved change whose revision file is missing; returns them.

    Runs after every approval; a write that failed (a full disk, a killed process) is made
    good by the next approval or ``govlake catalog revisions --publish``.
    """
    with reading(settings) as session:
        approved = requests.load(session, CATALOG_CHANGE.type, states=(APPROVED,))
    present = set(revisions.signature(settings.catalog_revisions_root))
    return [
        revisions.write_revision(settings.catalog_revisions_root, revision_of(record))
        for record in approved
        if revisions.file_name(int(record["facts"]["revision"]), record["subject"]["resource"])
        not in present
    ]


def _audit(settings: Settings, record: requests.Record, event: requests.Event) -> None:
    facts = record["facts"]
    record_many(
        settings,
        [
            {
                "action": f"catalog_change_{event['action']}",
                "actor": event["by"],
                "target": f"catalog/{record['subject']['resource']}/{record['id']}",
                "detail": {
                    "why": event["reason"],
                    "from": event["from_state"],
                    "to": event["to_state"],
                    "event_id": event["event_id"],
                    **({"revision": facts["revision"]} if facts.get("revision") else {}),
                    **(
                        {"changes": [c["path"] for c in facts["changes"]]}
                        if "changes" in facts
                        else {}
                    ),
                },
            }
        ],
    )


# --- reading ------------------------------------------------------------------------------


def view(record: requests.Record, *, with_entry: bool = False) -> dict[str, Any]:
    """A change as the API and the pages show it (JSON-ready)."""
    facts = record["facts"]
    shown = {
        "id": record["id"],
        "state": record["state"],
        "resource": record["subject"]["resource"],
        "department": record["subject"]["department"],
        "requested_by": record["requested_by"],
        "requester_department": record["requester_department"],
        "opened_on": _iso(record["opened_on"]),
        "due_on": _iso(record["due_on"]),
        "due_provisional": bool(record["due_provisional"]),
        "departments": list(record["departments"]),
        "reason": facts.get("reason") or facts.get("reminder"),
        "duty_changed_on": facts.get("duty_changed_on"),
        "ask_due_on": facts.get("ask_due_on"),
        "asked_late": facts.get("asked_late"),
        "changes": facts.get("changes", []),
        "base_revision": facts.get("base_revision"),
        "revision": facts.get("revision"),
        "decided_by": record["closed_by"],
        "decided_on": _iso(record["closed_on"]),
        "decision": record["close_reason"],
    }
    if with_entry:
        shown["entry"] = facts.get("entry")
    return shown


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def list_changes(settings: Settings, department: str | None = None) -> list[dict[str, Any]]:
    """Every catalog change (or those of one department's resources), newest first."""
    with reading(settings) as session:
        records = requests.load(session, CATALOG_CHANGE.type)
    shown = [view(r) for r in records if department in (None, r["subject"]["department"])]
    return list(reversed(shown))


def find_change(settings: Settings, change_id: str) -> dict[str, Any]:
    """One change with its proposed entry and its events (who did what, why, when)."""
    with reading(settings) as session:
        record = _find(session, change_id)
        events = requests.events(session, record["id"])
    shown = view(record, with_entry=True)
    shown["events"] = [
        {
            "action": e["action"],
            "from": e["from_state"],
            "to": e["to_state"],
            "by": e["by"],
            "why": e["reason"],
            "at": e["at"].isoformat(),
        }
        for e in events
    ]
    return shown


def pending_change(settings: Settings, resource_id: str) -> Mapping[str, Any] | None:
    """The open change of a resource (awaiting the department or the bureau), if any."""
    with reading(settings) as session:
        records = requests.load(session, CATALOG_CHANGE.type, states=OPEN_STATES)
    return next((view(r) for r in records if r["subject"]["resource"] == resource_id), None)
