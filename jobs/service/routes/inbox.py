"""The inbox (待办): what the signed-in account's department must act on, overdue first, and
the verification tickets (校核) answered from it.

``GET /api/v1/inbox`` answers JSON; ``GET /inbox`` is the page. Both show the department's
open requests (verification tickets today) with the working days left, and the dashboard of
open and overdue requests per department (the bureau sees every department).

``POST /api/v1/tickets/{id}/decision`` (and the page's form) answers a ticket, signed by the
signed-in account: the assigned department confirms, corrects (``value``), disputes, or asks for
the one extension; the bureau's steward approves or refuses the extension; confirm, resolve and
comment as before. The rules of :mod:`jobs.govern.tickets` refuse an account that may not take
the action on this ticket (403) and a decision the ticket's state or the profile does not allow,
or that someone else made first (409).
"""

from __future__ import annotations

import contextlib
import re
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import ServiceDep, requires_role
from jobs.service.errors import refusals
from jobs.service.ports import Principal
from jobs.service.responses import render
from jobs.service.routes.shares import plain_text
from jobs.service.wiring import actor_of
from jobs.store.roles import PERMISSIONS

#: Who acts on requests: who answers tickets (a department's data officer, the bureau's reviewer
#: or steward) and who decides share requests (a department's approver).
INBOX_ROLES = sorted({*PERMISSIONS["ticket.close"], *PERMISSIONS["share.decide"]})
Acting = Annotated[Principal, Depends(requires_role(*INBOX_ROLES))]
#: Who may answer a ticket at all; which ticket, the rules decide (its departments, or the bureau).
TicketParty = Annotated[Principal, Depends(requires_role(*sorted(PERMISSIONS["ticket.close"])))]

#: A ticket id as the base build makes it (24 hex digits; tests and imports may use shorter).
TICKET_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
Action = Literal[
    "confirm",
    "resolve",
    "correct",
    "dispute",
    "extend",
    "approve_extension",
    "refuse_extension",
    "comment",
]
ACTIONS: tuple[str, ...] = get_args(Action)

api_router = APIRouter(prefix="/api/v1")
page_router = APIRouter(prefix="/inbox")


def _inbox(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.govern.inbox import dashboard_of, inbox_of
    from jobs.store.notifications import unread_of

    today = svc.settings.today()
    return {
        "department": principal.department,
        "today": today,
        "items": inbox_of(svc.settings, principal.department, today),
        "dashboard": dashboard_of(svc.settings, principal.department, today),
        "unread_notifications": unread_of(svc.settings, principal.login),
    }


def ticket_refusals() -> contextlib.AbstractContextManager[None]:
    """The ticket rules' refusals as the service answers them."""
    from jobs.govern.tickets import TicketError
    from jobs.store.roles import Forbidden

    return refusals(
        (Forbidden, 403, "forbidden", "ask an officer of the ticket's department"),
        (TicketError, 409, "ticket_refused", "look at the ticket again"),
    )


def _decide(
    svc: ServiceDep,
    principal: Principal,
    ticket_id: str,
    action: str,
    why: str,
    workdays: int | None = None,
    value: str | None = None,
) -> dict[str, Any]:
    from jobs.govern import tickets

    if not TICKET_ID.fullmatch(ticket_id):
        raise inputs.bad_request(
            f"{inputs.shown(ticket_id)} is not a ticket id", "use an id listed by /api/v1/inbox"
        )
    by, settings = actor_of(principal), svc.settings
    with ticket_refusals():
        if action == "extend":
            return tickets.ask_extension(settings, ticket_id, by=by, why=why, workdays=workdays)
        if action in ("approve_extension", "refuse_extension"):
            grant = action == "approve_extension"
            return tickets.decide_extension(settings, ticket_id, grant=grant, by=by, why=why)
        if action == "correct":
            return tickets.correct_ticket(settings, ticket_id, by=by, value=value or "", why=why)
        if action == "dispute":
            return tickets.dispute_ticket(settings, ticket_id, by=by, why=why)
        if action == "comment":
            return tickets.comment_ticket(settings, ticket_id, by=by, why=why)
        state = tickets.CONFIRMED if action == "confirm" else tickets.RESOLVED
        return tickets.close_ticket(settings, ticket_id, state, by=by, why=why)


# --- API ------------------------------------------------------------------------------------


class TicketDecision(BaseModel):
    action: Action
    why: str
    workdays: int | None = Field(default=None, ge=1, le=366)
    #: The corrected value (action ``correct``).
    value: str | None = Field(default=None, max_length=200)


@api_router.get("/inbox")
async def inbox(principal: Acting, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(_inbox, svc, principal)


@api_router.post("/tickets/{ticket_id}/decision")
async def decide_ticket(
    ticket_id: str, body: TicketDecision, principal: TicketParty, svc: ServiceDep
) -> dict[str, Any]:
    why = plain_text(body.why, "reason")
    value = inputs.free_text(body.value.strip(), "value") if body.value else None
    return await run_in_threadpool(
        _decide, svc, principal, ticket_id, body.action, why, body.workdays, value
    )


# --- pages ----------------------------------------------------------------------------------


@page_router.get("")
async def inbox_page(request: Request, principal: Acting, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_inbox, svc, principal)
    context["may_answer"] = principal.has_any(frozenset(PERMISSIONS["ticket.close"]))
    return render(request, "inbox.html", context, principal)


@page_router.post("/{ticket_id}/decision")
async def decide_ticket_form(
    ticket_id: str,
    principal: TicketParty,
    svc: ServiceDep,
    action: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
    value: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if action not in ACTIONS:
        raise inputs.bad_request(
            f"choose one of {', '.join(ACTIONS)}", "press 确认, 更正, 异议, 延期 or 意见"
        )
    reason = plain_text(why, "reason")
    corrected = inputs.free_text(value.strip(), "value") if value.strip() else None
    await run_in_threadpool(_decide, svc, principal, ticket_id, action, reason, None, corrected)
    return RedirectResponse("/inbox", status_code=303)
