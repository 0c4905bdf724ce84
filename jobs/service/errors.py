"""Refusals of governed reads and 核验, typed, each with the HTTP status the web app sends.

Each is a :class:`jobs.service.ports.Refusal`, so the app shows it as it is: an error code, a
message and what to do. A refusal never carries data of the dataset it refuses.
"""

from __future__ import annotations

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
