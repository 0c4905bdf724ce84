"""Refusals of governed reads and 核验, typed, each with the HTTP status the web app sends.

Each is a :class:`jobs.service.ports.Refusal`, so the app shows it as it is: an error code, a
message and what to do. A refusal never carries data of the dataset it refuses.

:func:`refusals` answers the procedures' own exceptions (a step the rules refuse, an account
that may not act) the same way, from a table each route module keeps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from jobs.service.ports import Refusal


class ServiceError(Refusal):
    """A call the service refuses; ``status`` and ``error`` are set by each kind."""

    status = 400
    error = "bad_request"

    def __init__(self, message: str, what_to_do: str) -> None:
        super().__init__(type(self).status, type(self).error, message, what_to_do)


class BadRequest(ServiceError):
    """A malformed call: a name that is not a plain name, a page out of bounds."""


class BadFilter(BadRequest):
    """A filter the service cannot apply: unknown field, a value of the wrong type or shape."""

    error = "bad_filter"


class UnknownDataset(ServiceError):
    """No base database or catalog resource has this name."""

    status = 404
    error = "unknown_dataset"


class NotGranted(ServiceError):
    """No active grant covers this consumer, dataset, field or use."""

    status = 403
    error = "not_granted"


class ShareNotReady(ServiceError):
    """The grant is active but the curated share has not been built for it yet."""

    status = 409
    error = "share_not_ready"


class CursorExpired(ServiceError):
    """A page cursor from another query, or from a share rebuilt since."""

    status = 409
    error = "cursor_expired"


class AuditUnavailable(ServiceError):
    """The audit log could not record the call: nothing is answered unaudited."""

    status = 503
    error = "audit_unavailable"


#: One row of a :func:`refusals` table: an exception kind, the status, the error code and what
#: to do.
Refused = tuple[type[Exception], int, str, str]


@contextlib.contextmanager
def refusals(*table: Refused) -> Iterator[None]:
    """Answers an exception of ``table``'s kinds as a :class:`Refusal` with that row's status,
    error code and what to do, the exception's message as its message (rules' messages say why
    and carry no stored values).

    The first row whose kind the exception is an instance of answers, so a subclass stands
    before its base. An exception that says when to try again (``retry_after_seconds``) passes
    it on, for a 429's ``Retry-After``. Any other exception goes through untouched.
    """
    try:
        yield
    except tuple(kind for kind, *_ in table) as exc:
        status, error, what_to_do = next(row[1:] for row in table if isinstance(exc, row[0]))
        raise Refusal(
            status,
            error,
            str(exc),
            what_to_do,
            retry_after_seconds=getattr(exc, "retry_after_seconds", 0),
        ) from None
