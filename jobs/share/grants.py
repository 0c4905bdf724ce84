"""Share requests and grants (共享申请): who may receive which dataset, which fields, until when.

One row per request in the workflow store (jobs.store: ``share_grants``, and every step in
``grant_decisions``), with who and why on every decision; the lake's ``governance/share_grants``
is its snapshot. Every action is also an entry of the audit log (``grant_requested``,
``grant_granted``, ``grant_denied``, ``grant_revoked``).

By the dataset's share type (:mod:`jobs.share.policy`):

* ``unconditional`` (base databases always, 000 §14): granted on request, by ``system``;
* ``conditional`` (有条件/受限共享): ``pending`` until an approver of the providing department
  approves or denies it; the answer
  is due within the profile's ``conditional_share_answer_workdays`` (鹤壁 5, 泰州 3 working days,
  counted from the day after the request, 000 §15, 001 §15). Where the profile sets no
  deadline, none is shown. A pending request past its deadline is flagged ``overdue``; an
  answer after it is recorded as ``answered_late``. A grant needs an expiry date;
* ``not_shared`` (不予/非共享): refused on request, by ``system``, with the catalog's legal basis.

Where the profile reviews applications for unconditional data (镇海, 002 §21), those wait for an
answer too. Each request is also a request of type ``share`` in the one request model, which
carries the procedure (who must act now, the due date, coordination of a refusal by the bureau,
every step with its reason): :mod:`jobs.share.share_requests`.

The rules (what a request becomes, a decision, a coordination, a revocation) are plain functions
in :mod:`jobs.share.grant_rules`, which this module re-exports; here the store's side: load the
row, check who acts, write the grant and its request together, then the snapshot and the audit.

Every request and decision is signed by an authenticated :class:`~jobs.store.roles.Actor` and
allowed by :data:`~jobs.store.roles.PERMISSIONS`: a data officer requests for its own department
(the bureau's steward for any), an approver decides for its own department's resources only, and
the approver or the bureau's steward may revoke.

States::

    pending ──approve──▶ granted ──revoke──▶ revoked
       └──────deny─────▶ denied      (granted and past expires_on: expired, nothing refreshes)
                           └──the bureau coordinates (settle)──▶ granted, or denied by the bureau
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jobs.audit import log as audit
from jobs.catalog import load_catalog
from jobs.govern.procedure import ProcedureError
from jobs.lake import ledger, tables
from jobs.lake.registry import SHARE, SHARE_GRANTS
from jobs.policy import load_profile
from jobs.settings import Settings
from jobs.share import share_requests
from jobs.share.grant_rules import (
    DENIED,
    GRANT_SCHEMA,
    GRANTED,
    KINDS,
    PENDING,
    READ,
    REVOKED,
    SYSTEM,
    VERIFY,
    Grant,
    GrantError,
    Step,
    decide,
    is_active,
    is_overdue,
    new_request,
    revoke,
    settle,
    status_of,
    steps_of,
)
from jobs.share.policy import load_masking, resolve_dataset, shareable_fields
from jobs.store.db import reading, transaction
from jobs.store.models import GrantDecision, ShareGrant
from jobs.store.requests import Record
from jobs.store.roles import BUREAU, SYSTEM_ACTOR, Actor, require

log = logging.getLogger(__name__)

__all__ = [
    "DENIED",
    "GRANTED",
    "GRANT_SCHEMA",
    "KINDS",
    "PENDING",
    "READ",
    "REVOKED",
    "SYSTEM",
    "VERIFY",
    "Grant",
    "GrantError",
    "Step",
    "ask_coordination",
    "coordinate",
    "decide",
    "decide_request",
    "find_grant",
    "import_lake_grants",
    "is_active",
    "is_overdue",
    "list_grants",
    "new_request",
    "provider_of",
    "read_grants",
    "request_history",
    "request_share",
    "revoke",
    "revoke_grant",
    "settle",
    "status_of",
    "steps_of",
    "write_snapshot",
]


# --- store edges ----------------------------------------------------------------------------
# The workflow store is the source of truth (jobs.store): a decision is a conditional UPDATE of
# a pending row, so two approvers deciding one request at once leave exactly one decision. The
# lake's governance/share_grants is a snapshot of the store, rewritten after every change, for
# the reports and the retention of the provide/obtain record.

#: A request id or a prefix of one (16 hex digits, as :func:`new_request` makes them).
_REQUEST_ID = re.compile(r"^[0-9a-f]{1,16}$")
_FILTERS = {"=": lambda column, v: column == v, "in": lambda column, v: column.in_(list(v))}
#: The audit action of each step of a request that changes its grant; the other steps (a
#: coordination asked) are ``share_<step>``.
_ACTIONS = {
    "requested": "grant_requested",
    "granted": "grant_granted",
    "coordination_granted": "grant_granted",
    "denied": "grant_denied",
    "upheld": "grant_denied",
    "revoked": "grant_revoked",
}


def _as_grant(row: ShareGrant) -> Grant:
    return {name: getattr(row, name) for name in GRANT_SCHEMA.names}


def read_grants(settings: Settings, filters: list | None = None) -> list[Grant]:
    """Every request, oldest first; ``filters`` are ``(column, "=" | "in", value)`` tuples."""
    query = select(ShareGrant).order_by(ShareGrant.requested_on, ShareGrant.request_id)
    for column, op, value in filters or []:
        if op not in _FILTERS or column not in GRANT_SCHEMA.names:
            raise GrantError(f"cannot filter grants by {column} {op}")
        query = query.where(_FILTERS[op](getattr(ShareGrant, column), value))
    with reading(settings) as session:
        return [_as_grant(row) for row in session.scalars(query)]


def _find(session: Session, request_id: str) -> Grant:
    rows = []
    if _REQUEST_ID.match(request_id):
        prefix = ShareGrant.request_id.startswith(request_id, autoescape=True)
        rows = session.scalars(select(ShareGrant).where(prefix).limit(2)).all()
    if len(rows) != 1:
        raise GrantError(
            f"no request {request_id!r}" if not rows else f"{request_id!r} is ambiguous"
        )
    return _as_grant(rows[0])


def find_grant(settings: Settings, request_id: str) -> Grant:
    """The request with this id (or a unique prefix of it)."""
    with reading(settings) as session:
        return _find(session, request_id)


def _record_steps(session: Session, grant: Grant, steps: Sequence[Step]) -> None:
    for state, by, why, on in steps:
        session.add(
            GrantDecision(
                request_id=grant["request_id"],
                action="requested" if state == PENDING else state,
                by=by,
                on=on,
                at=grant["updated_at"],
                reason=why or "",
            )
        )


def _add_kind_column(uri: str) -> None:
    """A grants table written before grants had a kind gets the (nullable) column."""
    from deltalake import DeltaTable
    from deltalake.schema import Field

    table = DeltaTable(uri)
    if "kind" not in [f.name for f in table.schema().fields]:
        table.alter.add_columns([Field("kind", "string", nullable=True)])


def _move(session: Session, before: Grant, after: Grant) -> None:
    """Writes ``after`` over ``before`` unless another transaction moved the request meanwhile
    (the ``WHERE state = …`` of the UPDATE waits for its row lock, then finds no row)."""
    changed = {k: v for k, v in after.items() if k in GRANT_SCHEMA.names and before[k] != v}
    moved = session.execute(
        update(ShareGrant)
        .where(ShareGrant.request_id == before["request_id"], ShareGrant.state == before["state"])
        .values(**changed)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise GrantError(
            f"request {before['request_id']} was decided by someone else meanwhile; "
            "`govlake share list` shows its state"
        )


def write_snapshot(settings: Settings) -> int:
    """Rewrites the lake's ``governance/share_grants`` from the store; returns its rows.

    Every row, every time: a snapshot that missed a change (the lake was unreachable) is whole
    again after the next one. Two at once take turns, and one that loses a commit race to
    another process reads the store again (:func:`jobs.lake.ledger.write_snapshot_of`).
    """
    return ledger.write_snapshot_of(SHARE_GRANTS.uri(settings), lambda: _write_snapshot(settings))


def _write_snapshot(settings: Settings) -> int:
    rows = read_grants(settings)
    if not rows:
        return 0
    uri = SHARE_GRANTS.uri(settings)
    snapshot = pa.Table.from_pylist(rows, schema=GRANT_SCHEMA)
    if tables.table_exists(uri):
        _add_kind_column(uri)
        tables.merge(uri, snapshot, ["request_id"])
    else:
        ledger.append_arrow(uri, snapshot, write_id=f"grants/{rows[-1]['request_id']}")
        # grants are part of the provide/obtain record: kept as long as the log (000 §13)
        profile = load_profile(settings.policy_profile, settings.schemas_root)
        tables.set_retention(uri, profile.log_retention_days)
    return len(rows)


def _publish(settings: Settings, grant: Grant, events: Sequence[dict[str, Any]]) -> None:
    """After the store committed: the lake snapshot, and one audit entry per step of the request
    (who, why, the state it left and the due date).

    A failed snapshot is logged, not raised: the store holds the step, so the account is told
    it succeeded and its audit entries are written; the next snapshot (the next step, the daily
    deadline check) rewrites every row.
    """
    try:
        write_snapshot(settings)
    except Exception:
        log.exception("lake snapshot of share request %s failed", grant["request_id"])
    target = SHARE.relative_path(grant["consumer"], grant["dataset"])
    detail = {k: grant[k] for k in ("request_id", "state", "fields", "purpose", "expires_on")}
    detail["kind"] = grant.get("kind") or READ
    audit.record_many(
        settings,
        [
            {
                "action": _ACTIONS.get(e["action"], f"share_{e['action']}"),
                "actor": e["by"],
                "target": target,
                "detail": {
                    **detail,
                    "why": e["reason"],
                    "step": e["action"],
                    "request_state": e["to_state"],
                    "due_on": e["due_on"],
                },
            }
            for e in events
        ],
    )


def import_lake_grants(settings: Settings) -> int:
    """Copies requests from the lake's ``share_grants`` into the store, for a lake whose grants
    predate the store; requests the store holds are left alone. Returns how many were copied."""
    uri = SHARE_GRANTS.uri(settings)
    if not tables.table_exists(uri):
        return 0
    with transaction(settings) as session:
        held = set(session.scalars(select(ShareGrant.request_id)))
        copied = [g for g in ledger.read_rows(uri) if g["request_id"] not in held]
        for grant in copied:
            row = {name: grant.get(name) for name in GRANT_SCHEMA.names}
            provider = provider_of(settings, grant["dataset"])
            session.add(ShareGrant(provider=provider, **row))
            session.flush()  # the request's row before the rows of its steps
            _record_steps(session, row, steps_of(row))
            share_requests.adopt(session, row, steps_of(row), provider=provider)
    return len(copied)


def _clock(settings: Settings, today: dt.date | None) -> tuple[dt.date, dt.datetime]:
    """The day a decision is dated (``today``, or the bureau's date) and the instant it is made."""
    return today or settings.today(), settings.now()


def provider_of(settings: Settings, dataset_id: str) -> str:
    """The department that provides a dataset: a resource's own, the bureau for a base."""
    resource = load_catalog(settings.schemas_root, settings.catalog_revisions_root).resources.get(
        dataset_id
    )
    return resource.department if resource is not None else BUREAU


def request_share(
    settings: Settings,
    *,
    consumer: str,
    dataset_id: str,
    fields: Sequence[str],
    purpose: str,
    by: Actor,
    expires_on: dt.date | None = None,
    today: dt.date | None = None,
    kind: str = READ,
    legal_basis: str = "",
) -> Grant:
    """Records a request; unconditional datasets are granted and not-shared ones refused at once
    (unless the profile reviews applications for unconditional data: then it waits).

    ``kind`` ``verify`` asks for 核验 only (match / no match answers, no rows); ``legal_basis``
    is the consumer's (履职依据), kept with the request.

    Raises:
        Forbidden: ``by`` may not request for ``consumer`` (jobs.store.roles).
    """
    require(by, "share.request", consumer)
    day, now = _clock(settings, today)
    masking = load_masking(settings.schemas_root)
    dataset = resolve_dataset(
        dataset_id,
        load_catalog(settings.schemas_root, settings.catalog_revisions_root),
        settings,
        masking,
    )
    policy = share_requests.load_share_policy(settings)
    reviewed = policy.is_reviewed(dataset.share_type)
    due = policy.answer_due(day) if reviewed else None
    grant = new_request(
        consumer=consumer,
        dataset_id=dataset_id,
        share_type=dataset.share_type,
        fields=list(fields),
        allowed_fields=shareable_fields(dataset, masking),
        purpose=purpose,
        by=by.login,
        today=day,
        now=now,
        deadline=(due.date, due.provisional) if due else None,
        expires_on=expires_on,
        legal_basis=dataset.legal_basis,
        kind=kind,
        reviewed=reviewed,
    )
    provider = provider_of(settings, dataset_id)
    record, events = share_requests.opened(
        grant,
        provider=provider,
        reviewer=policy.reviewer(dataset.share_type, provider),
        legal_basis=legal_basis.strip(),
        by=by,
        system=SYSTEM_ACTOR,
        now=now,
    )
    with transaction(settings) as session:
        session.add(ShareGrant(provider=provider, **grant))
        session.flush()  # the request's row before the rows of its steps
        _record_steps(session, grant, steps_of(grant))
        share_requests.insert(session, record, events)
    _publish(settings, grant, events)
    return grant


#: Whose department each step is taken for (``own`` scope in jobs.store.roles): the department
#: that reviews the request, the provider, the consumer, or any (the bureau).
_SCOPES = {
    "share.decide": lambda record: record["subject"]["reviewer"],
    "share.revoke": lambda record: record["subject"]["provider"],
    "share.ask_coordination": lambda record: record["subject"]["consumer"],
    "share.coordinate": lambda record: (),
}

#: One step: (grant, request, today, now) → the grant after it, the request after it, its event.
Change = Callable[[Grant, Record, dt.date, dt.datetime], tuple[Grant, Record, dict[str, Any]]]


def _following(grant: Grant, record: Record | None) -> Grant:
    """The grant with its request's due date once the deadline check counted a provisional one
    again on the official calendar (jobs.govern.deadlines); as it is otherwise."""
    if (
        record is None
        or not grant["deadline_provisional"]
        or record["state"] != share_requests.PENDING
        or record["due_provisional"]
    ):
        return grant
    return {**grant, "deadline": record["due_on"], "deadline_provisional": False}


def _take_step(
    settings: Settings,
    request_id: str,
    permission: str,
    by: Actor,
    change: Change,
    today: dt.date | None,
) -> Grant:
    """One account's step on a request, in one store transaction: ``by`` must hold
    ``permission`` for the request's department (:data:`_SCOPES`); the grant and the request
    move together, and of two accounts deciding one request at once only the first is recorded.
    A grant made before share requests were requests gets its request first."""
    day, now = _clock(settings, today)
    with transaction(settings) as session:
        stored = _find(session, request_id)
        record = share_requests.held(session, stored["request_id"]) or share_requests.adopt(
            session,
            stored,
            steps_of(stored),
            provider=provider_of(settings, stored["dataset"]),
        )
        require(by, permission, _SCOPES[permission](record))
        before = _following(stored, record)
        try:
            grant, moved, event = change(before, record, day, now)
            if grant != before:
                _move(session, stored, grant)
                _record_steps(session, grant, steps_of(grant)[-1:])
            share_requests.move(session, record, moved, event)
        except ProcedureError as exc:
            raise GrantError(str(exc)) from None
    _publish(settings, grant, [event])
    return grant


def decide_request(
    settings: Settings,
    request_id: str,
    approve: bool,
    *,
    by: Actor,
    why: str,
    expires_on: dt.date | None = None,
    today: dt.date | None = None,
) -> Grant:
    """Approves or denies a pending request (see :func:`decide`); exactly one of two approvers
    deciding it at once succeeds, the other is refused.

    Raises:
        Forbidden: ``by`` is not an approver of the department the request waits for (the
            provider; the bureau for an application the profile sends there).
        GrantError: the request is not pending, or was decided meanwhile.
    """

    def change(grant: Grant, record: Record, day: dt.date, now: dt.datetime):
        after = decide(
            grant, approve, by=by.login, why=why, today=day, now=now, expires_on=expires_on
        )
        return after, *share_requests.answered(record, approve, by=by, why=why, today=day, now=now)

    return _take_step(settings, request_id, "share.decide", by, change, today)


def ask_coordination(
    settings: Settings, request_id: str, *, by: Actor, why: str, today: dt.date | None = None
) -> Grant:
    """The consumer of a refused request asks the bureau to coordinate (协调), saying why; the
    request goes to the bureau's inbox (see :mod:`jobs.share.share_requests`).

    Raises:
        Forbidden: ``by`` does not request shares for the consumer's department.
        GrantError: the request is not refused by its provider, or was moved meanwhile.
    """

    def change(grant: Grant, record: Record, day: dt.date, now: dt.datetime):
        return grant, *share_requests.coordination_asked(record, by=by, why=why, today=day, now=now)

    return _take_step(settings, request_id, "share.ask_coordination", by, change, today)


def coordinate(
    settings: Settings,
    request_id: str,
    approve: bool,
    *,
    by: Actor,
    why: str,
    expires_on: dt.date | None = None,
    today: dt.date | None = None,
) -> Grant:
    """The bureau's decision on a coordination: grants the share (with an expiry) or upholds the
    refusal, with its reason (see :func:`settle`); that decision stands.

    Raises:
        Forbidden: ``by`` is not the bureau's steward.
        GrantError: the request is not under coordination, or was decided meanwhile.
    """

    def change(grant: Grant, record: Record, day: dt.date, now: dt.datetime):
        after = settle(
            grant, approve, by=by.login, why=why, today=day, now=now, expires_on=expires_on
        )
        return after, *share_requests.coordinated(
            record, approve, by=by, why=why, today=day, now=now
        )

    return _take_step(settings, request_id, "share.coordinate", by, change, today)


def revoke_grant(
    settings: Settings, request_id: str, *, by: Actor, why: str, today: dt.date | None = None
) -> Grant:
    """Withdraws a grant (see :func:`revoke`).

    Raises:
        Forbidden: ``by`` is neither an approver of the providing department nor the bureau's
            steward.
    """

    def change(grant: Grant, record: Record, day: dt.date, now: dt.datetime):
        after = revoke(grant, by=by.login, why=why, today=day, now=now)
        return after, *share_requests.revoked(record, by=by, why=why, today=day, now=now)

    return _take_step(settings, request_id, "share.revoke", by, change, today)


def request_history(settings: Settings, request_id: str, *, by: Actor) -> dict[str, Any]:
    """A request (its grant) and every step of its procedure, oldest first: what, who, why, the
    state it left and the due date then.

    Raises:
        Forbidden: ``by`` is of none of the consumer, the provider and the reviewer (nor the
            bureau's steward).
        GrantError: no such request.
    """
    with reading(settings) as session:
        grant = _find(session, request_id)
        record = share_requests.held(session, grant["request_id"])
        steps = share_requests.steps(session, grant["request_id"]) if record else []
    parties = {grant["consumer"], provider_of(settings, grant["dataset"])}
    if record:
        parties.add(record["subject"]["reviewer"])
    require(by, "share.view", parties)
    return {
        "request": {
            **grant,
            "procedure": record["state"] if record else None,
            "acting": record["departments"] if record else None,
            "legal_basis": record["subject"].get("legal_basis", "") if record else "",
        },
        "steps": steps,
    }


def list_grants(settings: Settings, today: dt.date | None = None) -> list[Grant]:
    """Every request with its computed ``status`` (``overdue``, ``expired``, ``coordinating`` …),
    oldest first, and its procedure: the departments it waits for (``acting``), the consumer's
    ``legal_basis``, the due date and the working days left (``due_on``, ``workdays_left``)."""
    day, _ = _clock(settings, today)
    with reading(settings) as session:
        procedures = share_requests.by_id(session)
    calendar = share_requests.load_share_policy(settings).calendar
    out = []
    for stored in read_grants(settings):
        record = procedures.get(stored["request_id"])
        grant = _following(stored, record)
        state = record["state"] if record else None
        due = record["due_on"] if record and state in share_requests.SHARE.open_states else None
        out.append(
            {
                **grant,
                "status": status_of(grant, day, state),
                "procedure": state,
                "acting": record["departments"] if record else None,
                "legal_basis": record["subject"].get("legal_basis", "") if record else "",
                "due_on": due,
                "workdays_left": None if due is None else calendar.workdays_between(day, due),
            }
        )
    return out
