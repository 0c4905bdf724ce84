"""What the web app needs from the workflow store and the governed reads, as small protocols.

The app (:mod:`jobs.service.app`) talks only to these: :class:`Identity` answers "who is this
session or token" and signs people in and out; :class:`DataAccess` lists what a principal may
read and runs its reads and 核验 batches. :mod:`jobs.service.wiring` adapts the store
(:mod:`jobs.store`) and the reads (:mod:`jobs.service.reads`, :mod:`jobs.service.verify`) to
them; tests may hand the app other implementations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pyarrow as pa

from jobs.store.roles import PERMISSIONS

#: Who may read granted datasets and run 核验: a department's data officer, or its application.
READER_ROLES = frozenset(PERMISSIONS["share.read"])
#: Who may request a share for their department (the bureau's steward for any department).
REQUESTER_ROLES = frozenset(PERMISSIONS["share.request"])


@dataclass(frozen=True)
class Principal:
    """The authenticated account behind a request."""

    login: str
    display_name: str
    department: str
    roles: frozenset[str]
    #: ``session`` (a browser's cookie) or ``token`` (``Authorization: Bearer``).
    via: Literal["session", "token"]

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)

    def __str__(self) -> str:
        return self.login


class SignInRefused(Exception):
    """Wrong login or password, or a disabled account: one answer, so logins cannot be probed."""


class SignInThrottled(Exception):
    """Too many failed sign-ins for this login or from this address; retry after a while."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"sign-in throttled for {retry_after_seconds} s")
        self.retry_after_seconds = max(1, int(retry_after_seconds))


class Identity(Protocol):
    """Accounts, browser sessions and API tokens (the workflow store)."""

    def sign_in(self, login: str, password: str, *, source: str) -> str:
        """A new session id for the account (the cookie's value; stored only hashed).

        Raises:
            SignInThrottled: too many recent failures for ``login`` or from ``source``.
            SignInRefused: the login, password or account is not good.
        """
        ...

    def session_principal(self, session_id: str) -> Principal | None:
        """The account of a live session; ``None`` if unknown, expired or disabled."""
        ...

    def token_principal(self, token: str) -> Principal | None:
        """The account of a live API token; ``None`` if unknown, expired, revoked or disabled."""
        ...

    def sign_out(self, session_id: str) -> None:
        """Ends the session (unknown ids are ignored)."""
        ...


@dataclass(frozen=True)
class DatasetView:
    """A dataset as a reader sees it: what is granted, not what exists."""

    name: str
    title: str
    fields: tuple[str, ...]
    #: A 核验-only grant answers match / no match but returns no rows.
    verify_only: bool = False
    expires_on: str | None = None
    purpose: str = ""


@dataclass(frozen=True)
class ReadRequest:
    """One page of a governed read, as the caller asked for it."""

    dataset: str
    #: Wanted fields in order; empty for every granted field.
    fields: tuple[str, ...] = ()
    #: Equality filters on granted fields.
    filters: Mapping[str, str] = field(default_factory=dict)
    #: An ID list (the dataset's key).
    ids: tuple[str, ...] = ()
    limit: int = 100
    #: The ``next_cursor`` of the previous page of the same query.
    cursor: str | None = None
    #: How the page will be sent (recorded in the audit entry).
    format: str = "json"


class Page(Protocol):
    """One page of rows as read (masked), and where the next page starts."""

    @property
    def table(self) -> pa.Table: ...

    @property
    def next_cursor(self) -> str | None: ...


@dataclass(frozen=True)
class Encoded:
    """A response body, its media type and the file name a download is saved as."""

    body: bytes
    media_type: str
    filename: str


class Refusal(Exception):
    """A request the service refuses or cannot answer: an HTTP status, an error code, a message
    and what to do, shown to the caller as they are (so they never carry stored values)."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        what_to_do: str,
        *,
        retry_after_seconds: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.what_to_do = what_to_do
        #: With a 429: when to try again (the ``Retry-After`` header).
        self.retry_after_seconds = retry_after_seconds


class DataAccess(Protocol):
    """Governed reads and 核验 (every call is an audit entry on the implementation's side).

    Methods raise :class:`Refusal` for a dataset not granted, unknown, or a bad filter.
    """

    def datasets(self, principal: Principal) -> list[DatasetView]: ...

    def read(self, principal: Principal, request: ReadRequest) -> Page: ...

    def encode(self, page: Page, fmt: str) -> Encoded: ...

    def verify(
        self, principal: Principal, dataset: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]: ...


#: A share request or grant as :mod:`jobs.share.grants` keeps it (``request_id``, ``consumer``,
#: ``dataset``, ``fields``, ``purpose``, ``status``, ``requested_by``, ``decided_by``, …).
Grant = dict[str, Any]


class Shares(Protocol):
    """Share requests and their decisions, each signed by the principal who makes it.

    ``request`` and ``decide`` raise :class:`Refusal`: 403 when the principal's department may
    not (an approver of another department), 400 for a request the dataset does not allow.
    """

    def of_department(self, principal: Principal) -> list[Grant]:
        """Requests the principal's department made (as consumer), newest first."""
        ...

    def to_decide(self, principal: Principal) -> list[Grant]:
        """Pending requests waiting for the principal's department (the provider's, or the
        bureau's for an application the profile sends there)."""
        ...

    def to_coordinate(self, principal: Principal) -> list[Grant]:
        """Refused requests whose consumer asked the bureau to coordinate (协调)."""
        ...

    def request(
        self,
        principal: Principal,
        dataset: str,
        fields: Sequence[str],
        purpose: str,
        expires_on: dt.date | None,
        *,
        legal_basis: str = "",
    ) -> Grant: ...

    def history(self, principal: Principal, request_id: str) -> dict[str, Any]:
        """A request and its steps (who, why, the due date then), for its consumer's, provider's
        or reviewer's people and the bureau."""
        ...

    def ask_coordination(self, principal: Principal, request_id: str, why: str) -> Grant:
        """The consumer of a refused request asks the bureau to coordinate."""
        ...

    def coordinate(
        self,
        principal: Principal,
        request_id: str,
        approve: bool,
        why: str,
        expires_on: dt.date | None,
    ) -> Grant:
        """The bureau's steward grants a coordinated request or upholds its refusal."""
        ...

    def decide(
        self,
        principal: Principal,
        request_id: str,
        approve: bool,
        why: str,
        expires_on: dt.date | None,
    ) -> Grant: ...


class AuditReader(Protocol):
    """The audit log, newest first (the auditor's view)."""

    def newest(self, limit: int, action: str | None = None) -> list[dict[str, Any]]: ...
