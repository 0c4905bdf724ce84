"""Open on request (依申请开放) through the service: a public form, the department's answer, and
the expiring download (rules: :mod:`jobs.govern.open_requests`).

Public, no account (``/open``, ``/api/v1/open/…``):

* the list of data not open without application, with its open type and legal basis (000 §18),
  and a form for each dataset that may be asked for;
* the application: contact details and purpose; answered with a receipt number and a secret
  (shown once); the status page takes both back and, once granted, links the download;
* the download: ``/open/download/<receipt>?sig=…``, signed by the service for that request, its
  expiry and its downloads so far (a key derived for this purpose alone): each link works once,
  the status page shows a new one while downloads are left and the expiry the store keeps is
  ahead (:mod:`jobs.govern.open_requests`); every download is audited.

A public surface, so: every POST carries a CSRF token bound to a cookie of its own (as the login
form's); applications are throttled per client address (a keyed digest of it, never the address,
is what the store keeps); bodies are at most :data:`MAX_BODY_BYTES`; the applicant's details go
to the store only (the access log holds no query string and no body).

Signed in (``/open-requests``, ``/api/v1/open/requests``): an approver of the providing
department, or the bureau's steward, lists the applications and grants or refuses them; the
steward also applies on a citizen's or organisation's behalf.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from jobs.govern.applicants import APPLICANT_KINDS, ID_TYPES, Applicant
from jobs.service import inputs
from jobs.service.deps import Service, ServiceDep, csrf_refused, csrf_token_sent, requires_role
from jobs.service.errors import refusals
from jobs.service.ports import Principal, Refusal
from jobs.service.responses import render
from jobs.service.routes.shares import plain_text
from jobs.service.security import (
    cookie_is_secure,
    csrf_matches,
    csrf_token,
    new_random_id,
    request_origin,
)
from jobs.service.wiring import actor_of
from jobs.store.roles import PERMISSIONS

#: The cookie the public forms' CSRF tokens are bound to (no session exists).
PUBLIC_COOKIE = "govlake_public"
PUBLIC_COOKIE_SECONDS = 3600
#: The largest body a public POST may send (a form of contact details and a purpose).
MAX_BODY_BYTES = 16 * 1024
RECEIPT = re.compile(r"OR\d{8}[0-9A-F]{8}")
SIGNATURE = re.compile(r"[0-9a-f]{64}")
MAX_SECRET_CHARS = 64

#: Who answers applications: an approver (of the providing department) or the bureau's steward.
Answerer = Annotated[Principal, Depends(requires_role(*sorted(PERMISSIONS["open.answer"])))]
#: Who applies on an applicant's behalf: the bureau's steward.
OnBehalf = Annotated[Principal, Depends(requires_role(*sorted(PERMISSIONS["open.request_for"])))]

BodyModel = TypeVar("BodyModel", bound=BaseModel)

api_router = APIRouter(prefix="/api/v1/open")
public_router = APIRouter(prefix="/open")
page_router = APIRouter(prefix="/open-requests")


# --- a public surface: body size, CSRF, client address ----------------------------------------


async def small_body(request: Request) -> None:
    """Refuses a POST without a length, or longer than :data:`MAX_BODY_BYTES`, unread."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise Refusal(411, "length_required", "the request has no length", "send the form again")
    if int(length) > MAX_BODY_BYTES:
        raise Refusal(
            413,
            "too_large",
            f"the request is larger than {MAX_BODY_BYTES} bytes",
            "shorten the purpose and send the form again",
        )


async def public_csrf(request: Request, svc: ServiceDep) -> None:
    """A public POST's CSRF token (form field or header) must be that of its public cookie."""
    bound_to = request.cookies.get(PUBLIC_COOKIE, "")
    if not csrf_matches(svc.secret, bound_to, await csrf_token_sent(request), "open"):
        raise csrf_refused()


#: A public POST: its length checked first, then its CSRF token. Its route declares no body
#: parameter (FastAPI would read the body before any dependency runs): it reads the body itself,
#: after these (:func:`_form`, :func:`_json`).
PublicPost = [Depends(small_body), Depends(public_csrf)]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()  # read once (by the CSRF check), cached
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _json(request: Request, model: type[BodyModel]) -> BodyModel:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        wrong = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        raise inputs.bad_request(
            f"these values are missing or not of the right kind: {', '.join(wrong)}",
            "see the API's schema at /api/openapi.json",
        ) from None


def _public_token(request: Request, svc: Service) -> tuple[str, str]:
    """The public cookie's value (the one sent, or a new one) and its CSRF token."""
    bound_to = request.cookies.get(PUBLIC_COOKIE) or new_random_id()
    return bound_to, csrf_token(svc.secret, bound_to, "open")


def _with_cookie(request: Request, svc: Service, response: Response, bound_to: str) -> Response:
    response.set_cookie(
        PUBLIC_COOKIE,
        bound_to,
        max_age=PUBLIC_COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(svc.settings, request.url.hostname),
        path="/",
    )
    return response


def client_source(request: Request, svc: Service) -> str:
    """A keyed digest of the client's address (through the trusted proxies): what throttling
    counts by, without the store keeping the address."""
    origin = request_origin(
        request.client.host if request.client else None,
        request.url.scheme,
        request.headers.get("x-forwarded-for"),
        request.headers.get("x-forwarded-proto"),
        svc.settings.trusted_proxies,
    )
    key = svc.secret.derive("open:client-address")
    return "addr:" + hmac.new(key, origin.address.encode(), hashlib.sha256).hexdigest()[:32]


# --- the download link ----------------------------------------------------------------------


def _signature(svc: Service, shown: dict[str, Any]) -> str:
    """The link's signature: this request, its dataset, its expiry and its downloads so far (so
    a link works for the next download only), under a key for downloads only (a signature made
    for anything else never matches)."""
    key = svc.secret.derive("open:download")
    signed = "|".join(
        str(shown[k]) for k in ("receipt", "dataset", "download_expires_at", "downloads")
    )
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


def _with_link(svc: Service, shown: dict[str, Any]) -> dict[str, Any]:
    """The applicant's view of a request, with the download link while it is valid."""
    expires = shown.get("download_expires_at")
    alive = (
        expires
        and shown["downloads_left"]
        and svc.settings.now() < dt.datetime.fromisoformat(expires)
    )
    link = f"/open/download/{shown['receipt']}?sig={_signature(svc, shown)}" if alive else None
    return {**shown, "download_url": link}


def published_csv(location: str, batch_rows: int = 10_000) -> Iterator[bytes]:
    """The published table at ``location`` as CSV (UTF-8 with BOM, cells a spreadsheet would
    run as formulas neutralised: jobs.share.export), streamed ``batch_rows`` rows at a time."""
    from deltalake import DeltaTable

    from jobs.share.export import csv_chunks

    table = DeltaTable(location)
    columns = [f.name for f in table.schema().fields]
    batches = table.to_pyarrow_dataset().to_batches(columns=columns, batch_size=batch_rows)
    rows = ([[r[c] for c in columns] for r in batch.to_pylist()] for batch in batches)
    return csv_chunks(columns, rows)


# --- the rules' refusals --------------------------------------------------------------------


def _refusals() -> contextlib.AbstractContextManager[None]:
    from jobs.govern.open_requests import NotFound, OpenRequestError, OpenRequestThrottled
    from jobs.govern.procedure import ProcedureError
    from jobs.store.roles import Forbidden

    return refusals(
        (Forbidden, 403, "forbidden", "ask an approver of the providing department"),
        (
            OpenRequestThrottled,
            429,
            "too_many_requests",
            "wait, or ask the bureau to apply for you",
        ),
        (NotFound, 404, "not_found", "check the receipt number and secret you were given"),
        (OpenRequestError, 400, "open_request_refused", "see the open list at /open"),
        # no such request, or answered by someone else meanwhile
        (ProcedureError, 409, "open_request_conflict", "look at the request again"),
    )


def _receipt(text: str) -> str:
    if not RECEIPT.fullmatch(text):
        raise Refusal(
            404, "not_found", "no open request with that receipt number", "check the receipt"
        )
    return text


def _secret(text: str) -> str:
    return text.strip()[:MAX_SECRET_CHARS]


def _applicant_of(form: dict[str, str]) -> Applicant:
    """The applicant a page's form describes (the API's body is one already)."""
    return Applicant(
        kind=form.get("kind", ""),
        name=form.get("name", ""),
        id_type=form.get("id_type", ""),
        id_number=form.get("id_number", ""),
        phone=form.get("phone", ""),
        email=form.get("email", ""),
        wants_written_reply=form.get("wants_written_reply") == "yes",
    )


def _submit(
    svc: Service,
    dataset: str,
    applicant: Applicant,
    purpose: str,
    source: str,
    by: Principal | None = None,
) -> dict[str, Any]:
    from jobs.govern.open_requests import submit

    name = inputs.dataset_name(dataset.strip())
    shown_name = inputs.free_text(applicant.name, "applicant's name")  # no bidi tricks on pages
    actor = actor_of(by) if by else None
    with _refusals():
        return submit(
            svc.settings,
            name,
            dataclasses.replace(applicant, name=shown_name),
            purpose,
            source=source,
            by=actor,
        )


async def _submit_form(
    request: Request, svc: Service, source: str, by: Principal | None = None
) -> dict[str, Any]:
    """Files the application a page's form describes."""
    form = await _form(request)  # read by the CSRF check already
    purpose = plain_text(form.get("purpose", ""), "purpose")
    return await run_in_threadpool(
        _submit, svc, form.get("dataset", ""), _applicant_of(form), purpose, source, by
    )


def _status(svc: Service, receipt: str, secret: str) -> dict[str, Any]:
    from jobs.govern.open_requests import status

    with _refusals():
        return _with_link(svc, status(svc.settings, _receipt(receipt), _secret(secret)))


def _answer(svc: Service, principal: Principal, receipt: str, grant: bool, why: str) -> dict:
    from jobs.govern.open_requests import answer

    with _refusals():
        return answer(svc.settings, _receipt(receipt), grant, by=actor_of(principal), why=why)


def _to_answer(svc: Service, principal: Principal) -> list[dict[str, Any]]:
    from jobs.govern.open_requests import to_answer

    return to_answer(svc.settings, actor_of(principal))


def _listed(svc: Service) -> list[dict[str, Any]]:
    from jobs.govern.open_requests import listed_datasets

    return listed_datasets(svc.settings)


# --- API ------------------------------------------------------------------------------------


class ApplicationBody(BaseModel):
    dataset: str
    applicant: Applicant
    purpose: str


class StatusBody(BaseModel):
    receipt: str
    secret: str


class AnswerBody(BaseModel):
    decision: Literal["grant", "refuse"]
    why: str


@api_router.get("/datasets")
async def open_list(svc: ServiceDep) -> dict[str, Any]:
    """Data not open without application: its open type, condition and legal basis, and
    whether it may be asked for (public)."""
    return {"datasets": await run_in_threadpool(_listed, svc)}


@api_router.get("/token")
async def public_token(request: Request, svc: ServiceDep) -> Response:
    """A CSRF token for the public POSTs, bound to the cookie this answer sets."""
    bound_to, token = _public_token(request, svc)
    return _with_cookie(request, svc, JSONResponse({"csrf_token": token}), bound_to)


@api_router.post("/requests", status_code=201, dependencies=PublicPost)
async def apply(request: Request, svc: ServiceDep) -> dict[str, Any]:
    """Files an application (public; body: :class:`ApplicationBody`); answers its receipt
    number and secret, once."""
    body = await _json(request, ApplicationBody)
    purpose = plain_text(body.purpose, "purpose")
    source = client_source(request, svc)
    return await run_in_threadpool(_submit, svc, body.dataset, body.applicant, purpose, source)


@api_router.post("/requests/status", dependencies=PublicPost)
async def request_status(request: Request, svc: ServiceDep) -> dict[str, Any]:
    """The state of an application, given its receipt number and secret (public; body:
    :class:`StatusBody`)."""
    body = await _json(request, StatusBody)
    return await run_in_threadpool(_status, svc, body.receipt, body.secret)


@api_router.post("/requests/on-behalf", status_code=201)
async def apply_on_behalf(body: ApplicationBody, steward: OnBehalf, svc: ServiceDep) -> dict:
    """The bureau files an application for a citizen or organisation, signed by its account."""
    purpose = plain_text(body.purpose, "purpose")
    return await run_in_threadpool(
        _submit, svc, body.dataset, body.applicant, purpose, "bureau", steward
    )


@api_router.get("/requests")
async def applications(principal: Answerer, svc: ServiceDep) -> dict[str, Any]:
    """The applications the caller's department answers (every one for the bureau)."""
    return {"requests": await run_in_threadpool(_to_answer, svc, principal)}


@api_router.post("/requests/{receipt}/decision")
async def decide(receipt: str, body: AnswerBody, principal: Answerer, svc: ServiceDep) -> dict:
    why = plain_text(body.why, "reason")
    return await run_in_threadpool(_answer, svc, principal, receipt, body.decision == "grant", why)


# --- public pages ---------------------------------------------------------------------------


def _public_page(
    request: Request, svc: Service, template: str, context: dict[str, Any], status_code=200
) -> Response:
    bound_to, token = _public_token(request, svc)
    response = render(request, template, {"public_csrf": token, **context}, None, status_code)
    return _with_cookie(request, svc, response, bound_to)


@public_router.get("")
async def open_page(request: Request, svc: ServiceDep) -> Response:
    datasets = await run_in_threadpool(_listed, svc)
    return _public_page(request, svc, "open.html", {"datasets": datasets})


@public_router.get("/apply")
async def apply_form(request: Request, svc: ServiceDep, dataset: str = "") -> Response:
    datasets = [d for d in await run_in_threadpool(_listed, svc) if d["is_requestable"]]
    context = {
        "datasets": datasets,
        "chosen": dataset,
        "kinds": APPLICANT_KINDS,
        "id_types": ID_TYPES,
        "receipt": None,
    }
    return _public_page(request, svc, "open_apply.html", context)


@public_router.post("/apply", dependencies=PublicPost)
async def apply_page(request: Request, svc: ServiceDep) -> Response:
    receipt = await _submit_form(request, svc, client_source(request, svc))
    return _public_page(request, svc, "open_apply.html", {"receipt": receipt}, 201)


@public_router.post("/status", dependencies=PublicPost)
async def status_page(request: Request, svc: ServiceDep) -> Response:
    form = await _form(request)
    shown = await run_in_threadpool(
        _status, svc, form.get("receipt", "").strip(), form.get("secret", "")
    )
    return _public_page(request, svc, "open_status.html", {"request": shown})


@public_router.get("/download/{receipt}")
async def download(receipt: str, svc: ServiceDep, sig: str = "") -> Response:
    """The granted dataset's published table as CSV, while the link is valid (audited)."""
    from jobs.govern.open_requests import start_download

    if not SIGNATURE.fullmatch(sig):
        raise Refusal(404, "not_found", "this download link is not valid", "ask for a new one")

    def is_signed(shown: dict[str, Any]) -> bool:
        return hmac.compare_digest(_signature(svc, shown), sig)

    with _refusals():
        location = await run_in_threadpool(
            start_download, svc.settings, _receipt(receipt), is_signed=is_signed
        )
    return StreamingResponse(
        published_csv(location),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{receipt}.csv"'},
    )


# --- the department's pages -----------------------------------------------------------------


@page_router.get("")
async def applications_page(request: Request, principal: Answerer, svc: ServiceDep) -> Response:
    rows = await run_in_threadpool(_to_answer, svc, principal)
    context = {
        "requests": rows,
        "kinds": APPLICANT_KINDS,
        "id_types": ID_TYPES,
        "may_apply": principal.has_any(frozenset(PERMISSIONS["open.request_for"])),
        "datasets": [d for d in await run_in_threadpool(_listed, svc) if d["is_requestable"]],
    }
    return render(request, "open_requests.html", context, principal)


@page_router.post("/{receipt}/decision")
async def decide_page(
    receipt: str,
    principal: Answerer,
    svc: ServiceDep,
    decision: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("grant", "refuse"):
        raise inputs.bad_request("choose grant or refuse", "press 同意开放 or 不予开放")
    reason = plain_text(why, "reason")
    await run_in_threadpool(_answer, svc, principal, receipt, decision == "grant", reason)
    return RedirectResponse("/open-requests", status_code=303)


@page_router.post("")
async def apply_on_behalf_page(request: Request, steward: OnBehalf, svc: ServiceDep) -> Response:
    receipt = await _submit_form(request, svc, "bureau", steward)
    return render(request, "open_apply.html", {"receipt": receipt}, steward, 201)
