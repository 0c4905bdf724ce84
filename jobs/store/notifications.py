"""Notifications (通知) of request events: who must hear of what, unread until read.

:func:`notify` is called by :mod:`jobs.store.requests` for every event it writes, in the same
transaction, so every procedure notifies without code of its own. An event concerns:

* the accounts of the departments that must act on the request (those holding a role that acts
  on requests: :data:`ACTING_ROLES`), and the bureau's once the request is escalated to it;
* the requester (an account's login) when the event decides: it moves the request to another
  state, and someone else took it;

but never the account that made the event, and no other department's accounts: a notification
names a request whose subject may be personal data. Mail (:mod:`jobs.store.mail`) is sent once
the transaction has committed (in the service by its courier thread, after the answer); a
notification stays in the inbox whether or not mail reaches anyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from jobs.settings import Settings
from jobs.store import db, mail
from jobs.store.models import (
    Account,
    AccountRole,
    Notification,
    Request,
    RequestDepartment,
    RequestEvent,
)
from jobs.store.roles import APPROVER, BUREAU, BUREAU_STEWARD, DATA_OFFICER, QUALITY_REVIEWER

#: Roles of the people who act on requests: their accounts hear of their department's requests
#: (an auditor reads the log, a system client has no inbox).
ACTING_ROLES = frozenset({DATA_OFFICER, APPROVER, QUALITY_REVIEWER, BUREAU_STEWARD})
#: Who opens requests by rule (jobs.store.requests.SYSTEM): no account to notify.
_SYSTEM = "system"
#: Rows per ``IN (…)`` list (a base build writes thousands of events at once).
_CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _requests_of(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        query = select(Request.id, Request.requested_by, Request.escalated_to).where(
            Request.id.in_(chunk)
        )
        for rid, requested_by, escalated_to in session.execute(query):
            found[rid] = {"requested_by": requested_by, "escalated_to": escalated_to, "acting": []}
        acting = (
            select(RequestDepartment.request_id, RequestDepartment.department)
            .where(RequestDepartment.request_id.in_(chunk))
            .order_by(RequestDepartment.request_id, RequestDepartment.position)
        )
        for rid, department in session.execute(acting):
            found[rid]["acting"].append(department)
    return found


def _accounts(session: Session) -> tuple[dict[str, list[tuple[int, str]]], dict[str, int]]:
    """(department → its acting accounts as (id, login)), (login → id) of enabled accounts."""
    query = (
        select(Account.id, Account.login, Account.department_code, AccountRole.role)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(Account.disabled.is_(False))
    )
    by_department: dict[str, dict[int, str]] = {}
    by_login: dict[str, int] = {}
    for account_id, login, department, role in session.execute(query):
        by_login[login] = account_id
        if role in ACTING_ROLES:
            by_department.setdefault(department, {})[account_id] = login
    return {d: sorted(a.items()) for d, a in by_department.items()}, by_login


def recipients(
    event: dict[str, Any],
    request: dict[str, Any],
    by_department: dict[str, list[tuple[int, str]]],
    by_login: dict[str, int],
) -> list[int]:
    """The accounts an event concerns (see the module doc), as account ids."""
    departments = list(request["acting"])
    if request["escalated_to"]:
        departments.append(BUREAU)
    chosen = {
        account_id: login
        for department in departments
        for account_id, login in by_department.get(department, ())
    }
    requester = request["requested_by"]
    decides = event["from_state"] != event["to_state"]
    if decides and requester != _SYSTEM and requester != event["by"] and requester in by_login:
        chosen[by_login[requester]] = requester
    return sorted(a for a, login in chosen.items() if login != event["by"])


def notify(session: Session, events: Sequence[dict[str, Any]]) -> int:
    """Adds the notifications of ``events`` (request events just written in this session) and
    has mail sent once the session commits. Returns how many it added."""
    if not events:
        return 0
    requests_ = _requests_of(session, list(dict.fromkeys(e["request_id"] for e in events)))
    by_department, by_login = _accounts(session)
    rows = [
        {
            "account_id": account_id,
            "request_id": event["request_id"],
            "event_id": event["event_id"],
            "created_at": event["at"],
            "mail_attempts": 0,
        }
        for event in events
        for account_id in recipients(event, requests_[event["request_id"]], by_department, by_login)
    ]
    if rows:
        session.execute(insert(Notification), rows)
        db.after_commit(session, mail.deliver_soon)
    return len(rows)


# --- an account's notifications -------------------------------------------------------------


def account_id_of(session: Session, login: str) -> int | None:
    return session.scalar(select(Account.id).where(Account.login == login))


def of_account(
    session: Session, login: str, *, unread_only: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """An account's notifications, unread first, newest first: the event, its request's type,
    state and due date (no subject: the inbox shows the request itself)."""
    query = (
        select(
            Notification.id,
            Notification.request_id,
            Notification.created_at,
            Notification.read_at,
            Notification.mailed_at,
            Request.type,
            Request.state,
            Request.due_on,
            Request.due_provisional,
            RequestEvent.action,
            RequestEvent.from_state,
            RequestEvent.to_state,
            RequestEvent.by,
            RequestEvent.reason,
            RequestEvent.on,
        )
        .join(Account, Account.id == Notification.account_id)
        .join(Request, Request.id == Notification.request_id)
        .join(RequestEvent, RequestEvent.event_id == Notification.event_id)
        .where(Account.login == login)
        .order_by(Notification.read_at.is_not(None), Notification.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return [
        {**row, "is_read": row["read_at"] is not None} for row in session.execute(query).mappings()
    ]


def unread_count(session: Session, login: str) -> int:
    query = (
        select(func.count())
        .select_from(Notification)
        .join(Account, Account.id == Notification.account_id)
        .where(Account.login == login, Notification.read_at.is_(None))
    )
    return session.scalar(query) or 0


def mark_read(
    session: Session, login: str, ids: Collection[int] | None, *, now: dt.datetime
) -> int:
    """Marks an account's notifications read (those of ``ids``, or all); another account's ids
    are left alone. Returns how many changed."""
    account_id = account_id_of(session, login)
    if account_id is None:
        return 0
    query = update(Notification).where(
        Notification.account_id == account_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    result = session.execute(query.values(read_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0


def inbox_notifications(settings: Settings, login: str, *, limit: int = 100) -> dict[str, Any]:
    """An account's notifications as its inbox shows them: the unread count and the newest
    ``limit``, unread first."""
    with db.reading(settings) as session:
        return {
            "unread": unread_count(session, login),
            "items": of_account(session, login, limit=limit),
        }


def unread_of(settings: Settings, login: str) -> int:
    """How many notifications ``login`` has not read (the inbox shows it)."""
    with db.reading(settings) as session:
        return unread_count(session, login)


def mark_read_now(settings: Settings, login: str, ids: Collection[int] | None) -> int:
    """:func:`mark_read` in a transaction of its own, at the settings' clock."""
    with db.transaction(settings) as session:
        return mark_read(session, login, ids, now=settings.now())
