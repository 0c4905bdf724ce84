"""The rules of a share request and its grant (共享申请), as plain functions over a grant's row:
what a request becomes by its dataset's share type, a decision, the bureau's coordination, a
revocation, and the states as a person reads them. Nothing here reads or writes:
:mod:`jobs.share.grants` loads the row, checks who acts, and writes it (its docstring tells the
procedure).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from jobs.share import share_requests
from jobs.share.policy import CONDITIONAL, NOT_SHARED, UNCONDITIONAL
from jobs.store.roles import SYSTEM_ACTOR

PENDING, GRANTED, DENIED, REVOKED = "pending", "granted", "denied", "revoked"
SYSTEM = SYSTEM_ACTOR.login
#: What a grant allows: ``read`` (governed reads and 核验) or ``verify`` (核验 only: match / no
#: match answers, never a row). Rows recorded before kinds existed hold none and allow reads.
READ, VERIFY = "read", "verify"
KINDS = (READ, VERIFY)

_TS = pa.timestamp("us", tz="UTC")
GRANT_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("consumer", pa.string()),
        ("dataset", pa.string()),
        ("share_type", pa.string()),
        ("fields", pa.list_(pa.string())),
        ("purpose", pa.string()),
        ("requested_by", pa.string()),
        ("requested_on", pa.date32()),
        ("deadline", pa.date32()),
        ("deadline_provisional", pa.bool_()),
        ("state", pa.string()),
        ("expires_on", pa.date32()),
        ("decided_by", pa.string()),
        ("decided_on", pa.date32()),
        ("decision_reason", pa.string()),
        ("answered_late", pa.bool_()),
        ("revoked_by", pa.string()),
        ("revoked_on", pa.date32()),
        ("revoke_reason", pa.string()),
        ("updated_at", _TS),
        ("kind", pa.string()),
    ]
)

Grant = dict[str, Any]


class GrantError(ValueError):
    """A request or decision the dataset, the grant's state or the profile does not allow."""


def _require(value: str | None, what: str) -> None:
    if not value or not value.strip():
        raise GrantError(f"say {what}")


def is_active(grant: Grant, today: dt.date) -> bool:
    """Granted, not revoked, and not past its expiry date (the expiry day itself counts)."""
    return grant["state"] == GRANTED and (
        grant["expires_on"] is None or today <= grant["expires_on"]
    )


def is_overdue(grant: Grant, today: dt.date) -> bool:
    """A pending request whose answer deadline has passed."""
    return grant["state"] == PENDING and grant["deadline"] is not None and today > grant["deadline"]


def status_of(grant: Grant, today: dt.date, procedure: str | None = None) -> str:
    """The state as a person reads it: ``expired`` and ``overdue`` are computed, not stored;
    a refusal under coordination is its request's state (``procedure``): ``coordinating`` or
    ``upheld``."""
    if procedure in (share_requests.COORDINATING, share_requests.UPHELD):
        return procedure
    if grant["state"] == GRANTED and not is_active(grant, today):
        return "expired"
    if is_overdue(grant, today):
        return "overdue"
    return grant["state"]


# --- pure decisions -------------------------------------------------------------------------


def new_request(
    *,
    consumer: str,
    dataset_id: str,
    share_type: str,
    fields: Sequence[str],
    allowed_fields: Sequence[str],
    purpose: str,
    by: str,
    today: dt.date,
    now: dt.datetime,
    deadline: tuple[dt.date, bool] | None,
    expires_on: dt.date | None,
    legal_basis: str,
    kind: str = READ,
    reviewed: bool = False,
) -> Grant:
    """A request as the share type decides it: granted, pending or refused at once.

    ``legal_basis`` is the catalog's, given as the reason of a decision by rule; ``reviewed``
    makes an unconditional request wait for an answer (an application, 镇海 002 §21).
    """
    _require(consumer, "which department consumes (--consumer)")
    if kind not in KINDS:
        raise GrantError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    _require(purpose, "the purpose (--purpose)")
    _require(by, "who asks (--as)")
    unknown = [f for f in fields if f not in allowed_fields]
    if unknown:
        raise GrantError(
            f"{dataset_id} does not share {unknown}; fields that may be requested: "
            f"{', '.join(allowed_fields)}"
        )
    if share_type == CONDITIONAL and not fields:
        raise GrantError("a conditional share names the fields it needs (--fields)")
    if expires_on is not None and expires_on < today:
        raise GrantError(f"expiry {expires_on} is in the past")
    seed = f"{consumer}|{dataset_id}|{now.isoformat()}|{uuid.uuid4().hex}"
    grant: Grant = {name: None for name in GRANT_SCHEMA.names}
    grant.update(
        request_id=hashlib.sha256(seed.encode()).hexdigest()[:16],
        consumer=consumer,
        dataset=dataset_id,
        share_type=share_type,
        fields=list(fields or allowed_fields),
        purpose=purpose,
        requested_by=by,
        requested_on=today,
        state=PENDING,
        expires_on=expires_on,
        updated_at=now,
        kind=kind,
    )
    if share_type == UNCONDITIONAL and not reviewed:
        grant.update(
            state=GRANTED,
            decided_by=SYSTEM,
            decided_on=today,
            decision_reason=f"unconditional share: {legal_basis}".strip(),
            answered_late=False,
        )
    elif share_type == NOT_SHARED:
        grant.update(
            state=DENIED,
            decided_by=SYSTEM,
            decided_on=today,
            decision_reason=f"not shared: the data never leaves its pool ({legal_basis})",
            answered_late=False,
        )
    elif deadline is not None:
        grant.update(deadline=deadline[0], deadline_provisional=deadline[1])
    return grant


def _decided(
    grant: Grant,
    approve: bool,
    *,
    source: str,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
    expires_on: dt.date | None,
) -> Grant:
    """A request in state ``source`` granted (with an expiry after today) or refused."""
    _require(by, "who decides (--as)")
    _require(why, "why (--why)")
    if grant["state"] != source:
        raise GrantError(f"request {grant['request_id']} is {grant['state']}, not {source}")
    expiry = expires_on or grant["expires_on"]
    if approve and (expiry is None or expiry < today):
        raise GrantError("a conditional grant needs an expiry date not in the past (--expires)")
    out = dict(grant)
    out.update(
        state=GRANTED if approve else DENIED,
        decided_by=by,
        decided_on=today,
        decision_reason=why,
        expires_on=expiry if approve else grant["expires_on"],
        updated_at=now,
    )
    return out


def decide(
    grant: Grant,
    approve: bool,
    *,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
    expires_on: dt.date | None = None,
) -> Grant:
    """Approves (with an expiry after today) or denies a pending request."""
    out = _decided(
        grant, approve, source=PENDING, by=by, why=why, today=today, now=now, expires_on=expires_on
    )
    out["answered_late"] = bool(grant["deadline"] and today > grant["deadline"])
    return out


def settle(
    grant: Grant,
    approve: bool,
    *,
    by: str,
    why: str,
    today: dt.date,
    now: dt.datetime,
    expires_on: dt.date | None = None,
) -> Grant:
    """The bureau's coordination (协调) of a refused request: it grants it (with an expiry after
    today) or upholds the refusal; either way its decision replaces the provider's."""
    return _decided(
        grant, approve, source=DENIED, by=by, why=why, today=today, now=now, expires_on=expires_on
    )


def revoke(grant: Grant, *, by: str, why: str, today: dt.date, now: dt.datetime) -> Grant:
    """Withdraws a grant; the next refresh removes the consumer's table."""
    _require(by, "who revokes (--as)")
    _require(why, "why (--why)")
    if grant["state"] != GRANTED:
        raise GrantError(f"request {grant['request_id']} is {grant['state']}, not granted")
    out = dict(grant)
    out.update(state=REVOKED, revoked_by=by, revoked_on=today, revoke_reason=why, updated_at=now)
    return out


Step = tuple[str, str, str, dt.date]


def steps_of(grant: Grant) -> list[Step]:
    """(state reached, by, why, on) of every step a request's row records, oldest first."""
    steps = [(PENDING, grant["requested_by"], grant["purpose"], grant["requested_on"])]
    if grant["decided_by"]:
        decided = DENIED if grant["state"] == DENIED else GRANTED
        steps.append((decided, grant["decided_by"], grant["decision_reason"], grant["decided_on"]))
    if grant["revoked_by"]:
        steps.append((REVOKED, grant["revoked_by"], grant["revoke_reason"], grant["revoked_on"]))
    return steps
