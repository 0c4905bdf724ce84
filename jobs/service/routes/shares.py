"""Share requests (共享申请) and their decisions, through the API and the pages.

A department's data officer (or application) requests a share of a dataset for a purpose, on a
legal basis; an approver of the providing department approves or denies it, a refusal with its
reason. The consumer may then ask the bureau to coordinate (协调, ``…/coordination``) and the
bureau's steward grants it or upholds the refusal (``…/coordination/decision``). Every request
and decision is signed by the signed-in account, and the rules of :mod:`jobs.share.grants` refuse
an approver of another department, or a consumer asking about another department's request (403).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import Approver, Coordinator, Requester, ServiceDep, ShareParty
from jobs.service.ports import REQUESTER_ROLES, Grant, Principal
from jobs.service.responses import render
from jobs.store.roles import APPROVER, PERMISSIONS

api_router = APIRouter(prefix="/api/v1/shares")
page_router = APIRouter(prefix="/shares")

#: ``request_id`` as :func:`jobs.share.grants.new_request` makes it: 16 hex digits.
REQUEST_ID = re.compile(r"[0-9a-f]{16}")
MAX_PURPOSE_CHARS = 500


def request_id(text: str) -> str:
    if not REQUEST_ID.fullmatch(text):
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a request id",
            "use the 16-hex-digit request_id listed by /api/v1/shares",
        )
    return text


def plain_text(text: str, what: str, limit: int = MAX_PURPOSE_CHARS) -> str:
    """A purpose or reason: required, at most ``limit`` characters, no invisible characters."""
    text = text.strip()
    if not text:
        raise inputs.bad_request(f"the {what} is empty", f"say the {what} in a sentence")
    if len(text) > limit:
        raise inputs.bad_request(f"the {what} is too long", f"say it in {limit} characters")
    return inputs.free_text(" ".join(text.split()), what)


def expiry(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a date", "write the expiry as YYYY-MM-DD"
        ) from None


def _legal_basis(text: str) -> str:
    """The consumer's legal basis: optional, otherwise like a purpose."""
    return plain_text(text, "legal basis") if text.strip() else ""


def _fields(text: str) -> tuple[str, ...]:
    return inputs.field_names(f.strip() for f in text.split(",") if f.strip())


# --- API ------------------------------------------------------------------------------------


class ShareRequestBody(BaseModel):
    dataset: str
    fields: list[str] = Field(default_factory=list, max_length=200)
    purpose: str
    #: The consumer's legal basis (履职依据): the law or duty it needs the data for.
    legal_basis: str = ""
    expires_on: str | None = None


class DecisionBody(BaseModel):
    decision: Literal["approve", "deny"]
    why: str
    expires_on: str | None = None


class CoordinationBody(BaseModel):
    why: str


class CoordinationDecisionBody(BaseModel):
    decision: Literal["grant", "uphold"]
    why: str
    expires_on: str | None = None


#: Who coordinates refused requests (the bureau's steward).
COORDINATOR_ROLES = frozenset(PERMISSIONS["share.coordinate"])


def _lists(svc: ServiceDep, principal: Principal) -> dict[str, list[Grant]]:
    """The requests of the principal's department, those waiting for its approvers' decision,
    and (the bureau's steward) those waiting for coordination."""
    shares = svc.shares
    return {
        "requests": shares.of_department(principal),
        "to_decide": shares.to_decide(principal) if APPROVER in principal.roles else [],
        "to_coordinate": (
            shares.to_coordinate(principal) if principal.has_any(COORDINATOR_ROLES) else []
        ),
    }


@api_router.get("")
async def list_requests(principal: ShareParty, svc: ServiceDep) -> dict[str, list[Grant]]:
    """The requests of the caller's department, those awaiting its approvers' decision, and
    (the bureau's steward) those awaiting coordination."""
    return await run_in_threadpool(_lists, svc, principal)


@api_router.post("", status_code=201)
async def request_share(body: ShareRequestBody, requester: Requester, svc: ServiceDep) -> Grant:
    return await run_in_threadpool(
        svc.shares.request,
        requester,
        inputs.dataset_name(body.dataset),
        inputs.field_names(body.fields),
        plain_text(body.purpose, "purpose"),
        expiry(body.expires_on),
        legal_basis=_legal_basis(body.legal_basis),
    )


@api_router.post("/{request}/decision")
async def decide(request: str, body: DecisionBody, approver: Approver, svc: ServiceDep) -> Grant:
    return await run_in_threadpool(
        svc.shares.decide,
        approver,
        request_id(request),
        body.decision == "approve",
        plain_text(body.why, "reason"),
        expiry(body.expires_on),
    )


@api_router.get("/{request}")
async def history(request: str, principal: ShareParty, svc: ServiceDep) -> dict[str, Any]:
    """A request and every step of it: who, why, the state it left and the due date then."""
    return await run_in_threadpool(svc.shares.history, principal, request_id(request))


@api_router.post("/{request}/coordination")
async def ask_coordination(
    request: str, body: CoordinationBody, requester: Requester, svc: ServiceDep
) -> Grant:
    return await run_in_threadpool(
        svc.shares.ask_coordination, requester, request_id(request), plain_text(body.why, "reason")
    )


@api_router.post("/{request}/coordination/decision")
async def coordinate(
    request: str, body: CoordinationDecisionBody, steward: Coordinator, svc: ServiceDep
) -> Grant:
    return await run_in_threadpool(
        svc.shares.coordinate,
        steward,
        request_id(request),
        body.decision == "grant",
        plain_text(body.why, "reason"),
        expiry(body.expires_on),
    )


# --- pages ----------------------------------------------------------------------------------


@page_router.get("")
async def shares_page(
    request: Request, principal: ShareParty, svc: ServiceDep, dataset: str = ""
) -> Response:
    context: dict[str, Any] = {
        **await run_in_threadpool(_lists, svc, principal),
        "dataset": inputs.dataset_name(dataset) if dataset else "",
        "may_request": principal.has_any(REQUESTER_ROLES),
    }
    return render(request, "shares.html", context, principal)


@page_router.get("/{share_request}")
async def history_page(
    request: Request, share_request: str, principal: ShareParty, svc: ServiceDep
) -> Response:
    found = await run_in_threadpool(svc.shares.history, principal, request_id(share_request))
    context = {"share": found["request"], "steps": found["steps"]}
    return render(request, "share.html", context, principal)


@page_router.post("")
async def request_share_form(
    requester: Requester,
    svc: ServiceDep,
    dataset: Annotated[str, Form()] = "",
    fields: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
) -> Response:
    await run_in_threadpool(
        svc.shares.request,
        requester,
        inputs.dataset_name(dataset.strip()),
        _fields(fields),
        plain_text(purpose, "purpose"),
        expiry(expires_on),
        legal_basis=_legal_basis(legal_basis),
    )
    return RedirectResponse("/shares", status_code=303)


@page_router.post("/{request}/decision")
async def decide_form(
    request: str,
    approver: Approver,
    svc: ServiceDep,
    decision: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("approve", "deny"):
        raise inputs.bad_request("choose approve or deny", "press 批准 or 拒绝")
    await run_in_threadpool(
        svc.shares.decide,
        approver,
        request_id(request),
        decision == "approve",
        plain_text(why, "reason"),
        expiry(expires_on),
    )
    return RedirectResponse("/shares", status_code=303)


@page_router.post("/{request}/coordination")
async def ask_coordination_form(
    request: str, requester: Requester, svc: ServiceDep, why: Annotated[str, Form()] = ""
) -> Response:
    await run_in_threadpool(
        svc.shares.ask_coordination, requester, request_id(request), plain_text(why, "reason")
    )
    return RedirectResponse("/shares", status_code=303)


@page_router.post("/{request}/coordination/decision")
async def coordinate_form(
    request: str,
    steward: Coordinator,
    svc: ServiceDep,
    decision: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("grant", "uphold"):
        raise inputs.bad_request("choose grant or uphold", "press 准予共享 or 维持拒绝")
    await run_in_threadpool(
        svc.shares.coordinate,
        steward,
        request_id(request),
        decision == "grant",
        plain_text(why, "reason"),
        expiry(expires_on),
    )
    return RedirectResponse("/shares", status_code=303)
