"""Errors as callers see them: JSON ``{error, message, what_to_do}`` under ``/api/``, a page
for browsers; never a stack trace, a stored value or a secret.

An unexpected exception becomes a 500 naming an incident number; the log gets the same number,
the exception's type and where it was raised (file and line), but not its message or traceback,
which may hold personal data or keys.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobs.service.ports import READER_ROLES, REQUESTER_ROLES, Principal, Refusal
from jobs.service.security import SESSION_COOKIE, csrf_token
from jobs.store.roles import APPROVER

log = logging.getLogger("govlake.service")

API_PREFIX = "/api/"
#: Sent with every response: no framing, no sniffing, no referrer to other sites, no caching of
#: pages that show data, scripts and styles from the service only.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}

_HTTP_ERRORS = {
    404: (
        "not_found",
        "there is no such page or API path",
        "check the address; the API is /api/v1",
    ),
    405: ("method_not_allowed", "this path does not take that method", "see the API's docs"),
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    principal: Principal | None = None,
    status_code: int = 200,
) -> Response:
    """A page with the layout's context: who is signed in and the session's CSRF token."""
    service = request.app.state.service
    session_id = request.cookies.get(SESSION_COOKIE, "")
    base = {
        "principal": principal,
        "csrf": csrf_token(service.secret, session_id) if principal and session_id else "",
        "reader_roles": READER_ROLES,
        "share_roles": REQUESTER_ROLES | {APPROVER},
    }
    return service.templates.TemplateResponse(
        request, template, base | context, status_code=status_code
    )


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def error_response(request: Request, error: Refusal) -> Response:
    headers = {}
    if error.status == 429 and error.retry_after_seconds:
        headers["Retry-After"] = str(error.retry_after_seconds)
    if wants_json(request):
        body = {"error": error.error, "message": error.message, "what_to_do": error.what_to_do}
        return JSONResponse(body, status_code=error.status, headers=headers)
    if error.status == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    principal = getattr(request.state, "principal", None)
    response = render(request, "error.html", {"error": error}, principal, error.status)
    response.headers.update(headers)
    return response


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message, what_to_do = _HTTP_ERRORS.get(
        exc.status_code, ("http_error", "the request cannot be answered", "check the request")
    )
    return error_response(request, Refusal(exc.status_code, code, message, what_to_do))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    wrong = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
    return error_response(
        request,
        Refusal(
            400,
            "bad_request",
            f"these parameters are missing or not of the right kind: {', '.join(wrong)}",
            "see the API's parameters (page and page_size are whole numbers)",
        ),
    )


def internal_error(request: Request, exc: BaseException) -> Response:
    """A 500 with an incident number; the log names the type and place, not the message."""
    incident = secrets.token_hex(4)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f"{frame.filename}:{frame.lineno}" if frame else "?"
    log.error(
        "incident %s: %s at %s (%s %s)",
        incident,
        type(exc).__name__,
        where,
        request.method,
        request.url.path,
    )
    refusal = Refusal(
        500,
        "internal_error",
        f"the service failed on this request (incident {incident})",
        "try again later; if it persists, give the incident number to the bureau",
    )
    try:
        return error_response(request, refusal)
    except Exception:
        return PlainTextResponse(refusal.message, status_code=500)


async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Security headers, one access-log line without the query string (filters and IDs are
    personal data), and the 500 page for anything unexpected."""
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception as exc:
        response = internal_error(request, exc)
    response.headers.update(SECURITY_HEADERS)
    principal = getattr(request.state, "principal", None)
    log.info(
        "%s %s %d %.0fms %s",
        request.method,
        request.url.path,
        response.status_code,
        (time.perf_counter() - started) * 1000,
        principal.login if principal else "-",
    )
    return response


def install(app: FastAPI) -> None:
    """Adds the error handlers and the guard middleware."""
    app.add_exception_handler(Refusal, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.middleware("http")(guard)
