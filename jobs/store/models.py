"""The workflow store's tables (SQLAlchemy 2 typed declarative models).

Times are stored as UTC instants and read back aware (:class:`UtcDateTime`), on SQLite too.
Secrets are never stored: passwords as argon2id hashes, session ids and API tokens as SHA-256
digests. A change here needs a migration in ``migrations/versions`` (a test compares the two).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Constraint names the same on SQLite and PostgreSQL, so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware instant, stored in UTC; SQLite (no time zones) gets it back aware as well."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the store keeps aware instants, got {value.isoformat()}")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Department(Base):
    """One row per department: the catalog's departments and the bureau itself."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")


class Account(Base):
    """One row per person or department application that may act through govlake."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    display_name: Mapped[str] = mapped_column(String(200))
    #: argon2id; ``None`` for a system client, which signs in with API tokens only.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: Where notifications are mailed (jobs.store.mail), when an SMTP server is configured.
    email: Mapped[str | None] = mapped_column(String(254))

    roles: Mapped[list[AccountRole]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class AccountRole(Base):
    """One row per role an account holds (:data:`jobs.store.roles.ROLES`)."""

    __tablename__ = "account_roles"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    account: Mapped[Account] = relationship(back_populates="roles")


class WebSession(Base):
    """One row per signed-in browser session; the cookie's id is stored only as its digest."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """One row per API token of a system client; the token is shown once and stored hashed."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    #: The token's first characters, to tell tokens apart in lists and revoke one by it.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """One row per sign-in attempt with a password: failures throttle the login."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_login_at", "login", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean)
    #: Where the attempt came from: ``cli`` or the client's address.
    source: Mapped[str] = mapped_column(String(64), default="")


class ShareGrant(Base):
    """One row per share request (共享申请) and its current state (jobs.share.grants).

    Columns mirror the lake's ``governance/share_grants`` snapshot, so a row and a snapshot row
    read the same; ``provider`` is the department whose approver decides.
    """

    __tablename__ = "share_grants"

    request_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(32), index=True)
    provider: Mapped[str] = mapped_column(String(32), index=True)
    dataset: Mapped[str] = mapped_column(String(100))
    share_type: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_on: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    deadline_provisional: Mapped[bool | None] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    answered_late: Mapped[bool | None] = mapped_column(Boolean)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    #: ``read`` or ``verify`` (核验 only); none on requests made before kinds existed: read.
    kind: Mapped[str | None] = mapped_column(String(16))


class GrantDecision(Base):
    """One row per step of a request: requested, granted, denied, revoked (who, when, why)."""

    __tablename__ = "grant_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("share_grants.request_id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    on: Mapped[dt.date] = mapped_column(Date)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text)


class Request(Base):
    """One row per request between people and departments (jobs.store.requests): a verification
    ticket (校核工单) today, the procedures of DESIGN §10 as they come; ``type`` says which, and
    the type's state machine which ``state`` may follow which.

    ``subject`` is what the request is about (dataset, record key, element …) and ``facts`` what
    its procedure keeps besides, both as JSON; ``version`` grows with every change, so a decision
    written over a row someone else moved meanwhile finds no row to update.
    """

    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_type_state", "type", "state"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    #: An account's login, or ``system`` (a base build opened it).
    requested_by: Mapped[str] = mapped_column(String(64))
    requester_department: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[dict] = mapped_column(JSON)
    facts: Mapped[dict] = mapped_column(JSON)
    cycle: Mapped[int] = mapped_column(Integer)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    #: The due date falls in a year without an official calendar yet.
    due_provisional: Mapped[bool] = mapped_column(Boolean)
    extensions: Mapped[int] = mapped_column(Integer)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(Text)
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    escalated_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    departments: Mapped[list[RequestDepartment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RequestDepartment.position"
    )


class RequestDepartment(Base):
    """One row per department that must act on a request (a ticket may have several)."""

    __tablename__ = "request_departments"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    department: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    #: The order the procedure named the departments in.
    position: Mapped[int] = mapped_column(Integer)


class RequestEvent(Base):
    """One row per transition of a request, append-only: what, from which state to which, by
    whom (an account, or ``system``), why, and the due date it left."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    by_department: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    #: What caused it besides a person: the base build's id.
    source: Mapped[str | None] = mapped_column(String(64))


class Notification(Base):
    """One row per request event an account must hear of (jobs.store.notifications): unread
    until the account marks it read; mailed once an SMTP server took it (jobs.store.mail)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_account_id_read_at", "account_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    #: The request event's ``event_id``.
    event_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: When the SMTP server accepted the mail; None while it is due (or mail is off).
    mailed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    #: A delivery in progress since then (another process leaves it alone for a while).
    mail_claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The last failure, without any secret (the server's reply or the error's kind).
    mail_error: Mapped[str | None] = mapped_column(String(500))
