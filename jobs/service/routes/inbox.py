"""The inbox (待办): what the signed-in account's department must act on, overdue first.

``GET /api/v1/inbox`` answers JSON; ``GET /inbox`` is the page. Both show the department's
open requests (verification tickets today) with the working days left, and the dashboard of
open and overdue requests per department (the bureau sees every department).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from jobs.service.deps import ServiceDep, requires_role
from jobs.service.ports import Principal
from jobs.service.responses import render
from jobs.store.roles import PERMISSIONS

#: Who acts on requests: who answers tickets (a department's data officer, the bureau's reviewer
#: or steward) and who decides share requests (a department's approver).
INBOX_ROLES = sorted({*PERMISSIONS["ticket.close"], *PERMISSIONS["share.decide"]})
Acting = Annotated[Principal, Depends(requires_role(*INBOX_ROLES))]

api_router = APIRouter(prefix="/api/v1/inbox")
page_router = APIRouter(prefix="/inbox")


def _inbox(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.govern.inbox import dashboard_of, inbox_of

    today = svc.settings.today()
    return {
        "department": principal.department,
        "today": today,
        "items": inbox_of(svc.settings, principal.department, today),
        "dashboard": dashboard_of(svc.settings, principal.department, today),
    }


@api_router.get("")
async def inbox(principal: Acting, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(_inbox, svc, principal)


@page_router.get("")
async def inbox_page(request: Request, principal: Acting, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_inbox, svc, principal)
    return render(request, "inbox.html", context, principal)
