"""Who is calling, and what the route lets them do: the dependencies routes declare.

Every route states its access in its signature (``reader: Reader``, ``auditor: Auditor``), never
by checks in its body: :func:`requires_role` resolves the caller (:func:`current_principal`) and
refuses anyone without one of the roles.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from jobs.service.ports import (
    READER_ROLES,
    REQUESTER_ROLES,
    AuditReader,
    DataAccess,
    Identity,
    Principal,
    Refusal,
    Shares,
)
from jobs.service.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    UNSAFE_METHODS,
    SessionSecret,
    csrf_matches,
)
from jobs.settings import Settings
from jobs.store.roles import APPROVER, AUDITOR, PERMISSIONS


@dataclass(frozen=True)
class Service:
    """What the routes use, built once by :func:`jobs.service.app.create_app`."""

    settings: Settings
    identity: Identity
    data: DataAccess
    shares: Shares
    audit: AuditReader
    secret: SessionSecret
    templates: Jinja2Templates


async def service(request: Request) -> Service:
    # async: a plain function dependency would be run in the thread pool on every request.
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


def not_signed_in(message: str = "you are not signed in") -> Refusal:
    return Refusal(
        401,
        "not_signed_in",
        message,
        "sign in at /login, or send Authorization: Bearer <API token> (govlake accounts token)",
    )


async def csrf_token_sent(request: Request) -> str:
    """The form field ``csrf_token``, or the ``X-CSRF-Token`` header for script calls."""
    header = request.headers.get(CSRF_HEADER, "")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached: the route reads the same form again
        sent = form.get(CSRF_FIELD, "")
        return sent if isinstance(sent, str) else ""
    return ""


async def current_principal(request: Request, svc: ServiceDep) -> Principal:
    """The account behind a bearer token or a session cookie.

    A cookie session's unsafe requests (POST, PUT, PATCH, DELETE) must carry the session's CSRF
    token; a bearer token is not sent by browsers on their own, so its requests need none.

    Raises:
        Refusal: 401 without a live token or session; 403 when the CSRF token is missing
            or wrong.
    """
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise not_signed_in("the Authorization header is not 'Bearer <token>'")
        principal = await run_in_threadpool(svc.identity.token_principal, token.strip())
        if principal is None:
            raise not_signed_in("the API token is unknown, expired or revoked")
        return principal
    session_id = request.cookies.get(SESSION_COOKIE, "")
    principal = (
        await run_in_threadpool(svc.identity.session_principal, session_id) if session_id else None
    )
    if principal is None:
        raise not_signed_in("you are not signed in, or your session has ended")
    if request.method in UNSAFE_METHODS and not csrf_matches(
        svc.secret, session_id, await csrf_token_sent(request)
    ):
        raise csrf_refused()
    request.state.principal = principal
    return principal


def csrf_refused() -> Refusal:
    return Refusal(
        403,
        "csrf_token_invalid",
        "the form's security token is missing or does not belong to your session",
        "reload the page and submit the form again (a form from another site is refused)",
    )


CurrentUser = Annotated[Principal, Depends(current_principal)]


def requires_role(
    *roles: str,
) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, if they hold one of ``roles``; otherwise a 403."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentUser) -> Principal:
        if not principal.has_any(allowed):
            raise Refusal(
                403,
                "forbidden",
                f"this needs the role {' or '.join(sorted(allowed))}; "
                f"your account holds {', '.join(sorted(principal.roles)) or 'none'}",
                "ask the bureau's steward for the role, or sign in with another account",
            )
        return principal

    return dependency


#: A department's data officer or system client: reads granted datasets and runs 核验.
Reader = Annotated[Principal, Depends(requires_role(*READER_ROLES))]
#: Who requests shares for a department: its data officer or application, or the bureau's steward.
Requester = Annotated[Principal, Depends(requires_role(*REQUESTER_ROLES))]
#: A department's approver: decides requests for its own department's datasets (the rules check
#: the department, :mod:`jobs.share.grants`).
Approver = Annotated[Principal, Depends(requires_role(APPROVER))]
#: Anyone who requests or decides shares (the page that lists them).
ShareParty = Annotated[Principal, Depends(requires_role(*REQUESTER_ROLES, APPROVER))]
#: The bureau's steward, who coordinates (协调) refused share requests; the rules decide which.
Coordinator = Annotated[Principal, Depends(requires_role(*PERMISSIONS["share.coordinate"]))]
#: The auditor: the audit log and nothing else.
Auditor = Annotated[Principal, Depends(requires_role(AUDITOR))]
