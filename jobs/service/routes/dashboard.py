"""The department dashboard (部门看板) and the account's notifications (通知).

``GET /api/v1/dashboard`` and the page ``/dashboard``: per department its open requests by
type, working days left, overdue first (jobs.govern.dashboard); the bureau's accounts see every
department, any other account its own department only.

``GET /api/v1/notifications`` and the page ``/notifications``: what happened to the requests
the account's department acts on (or the account asked for), unread first;
``POST /api/v1/notifications/read`` (``{"ids": [...]}``, or none: all) and the page's form mark
them read. An account only ever sees and marks its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service.deps import ServiceDep, requires_role
from jobs.service.ports import Principal
from jobs.service.responses import render
from jobs.store.notifications import ACTING_ROLES

#: Who has requests to act on (and so a dashboard and notifications): not an auditor or an
#: application.
Acting = Annotated[Principal, Depends(requires_role(*sorted(ACTING_ROLES)))]

api_router = APIRouter(prefix="/api/v1")
page_router = APIRouter()


def _dashboard(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.govern.dashboard import department_dashboard

    return department_dashboard(svc.settings, principal.department)


def _notifications(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.store.notifications import inbox_notifications

    return inbox_notifications(svc.settings, principal.login)


def _mark_read(svc: ServiceDep, principal: Principal, ids: list[int] | None) -> int:
    from jobs.store.notifications import mark_read_now

    return mark_read_now(svc.settings, principal.login, ids)


class ReadNotifications(BaseModel):
    #: The notifications to mark read; none: all of the account's.
    ids: list[int] | None = Field(default=None, max_length=1000)


@api_router.get("/dashboard")
async def dashboard(principal: Acting, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(_dashboard, svc, principal)


@api_router.get("/notifications")
async def notifications(principal: Acting, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(_notifications, svc, principal)


@api_router.post("/notifications/read")
async def read_notifications(
    body: ReadNotifications, principal: Acting, svc: ServiceDep
) -> dict[str, int]:
    return {"marked": await run_in_threadpool(_mark_read, svc, principal, body.ids)}


@page_router.get("/dashboard")
async def dashboard_page(request: Request, principal: Acting, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_dashboard, svc, principal)
    return render(request, "dashboard.html", context, principal)


@page_router.get("/notifications")
async def notifications_page(request: Request, principal: Acting, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_notifications, svc, principal)
    return render(request, "notifications.html", context, principal)


@page_router.post("/notifications/read")
async def read_notifications_form(
    principal: Acting, svc: ServiceDep, notification: Annotated[int | None, Form()] = None
) -> Response:
    await run_in_threadpool(
        _mark_read, svc, principal, None if notification is None else [notification]
    )
    return RedirectResponse("/notifications", status_code=303)
