"""Data demands (需求清单), through the API and the demand list page (``/demands``).

A department's data officer files a demand for data not yet in the catalog or not yet shared
(``POST /api/v1/demands``); the holding department's approver, or the bureau's steward, accepts
or refuses it (``POST /api/v1/demands/{id}/answer``, a refusal with its reason and legal basis);
an accepted demand is delivered by linking it to a catalog resource or a share grant
(``POST /api/v1/demands/{id}/delivery``); the bureau's steward forwards (转办) a demand to the
department that holds the data (``POST /api/v1/demands/{id}/forward``). The rules of
:mod:`jobs.share.demands` refuse anyone but the holder or the bureau (403) and a step the
demand's state does not allow (409).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import ServiceDep, requires_role
from jobs.service.ports import Principal
from jobs.service.responses import render
from jobs.service.routes.feedback import request_id, request_refusals
from jobs.service.routes.shares import plain_text
from jobs.service.wiring import actor_of
from jobs.store.roles import PERMISSIONS

FILER_ROLES = sorted(PERMISSIONS["demand.file"])
ANSWER_ROLES = sorted(PERMISSIONS["demand.answer"])
DELIVER_ROLES = sorted(PERMISSIONS["demand.deliver"])
FORWARD_ROLES = sorted(PERMISSIONS["demand.forward"])
Filer = Annotated[Principal, Depends(requires_role(*FILER_ROLES))]
#: Who may answer a demand at all; which, the rules decide (the holder's, or the bureau).
Answerer = Annotated[Principal, Depends(requires_role(*ANSWER_ROLES))]
Deliverer = Annotated[Principal, Depends(requires_role(*DELIVER_ROLES))]
#: The bureau's steward: forwards (转办) a demand to the department that holds the data.
Forwarder = Annotated[Principal, Depends(requires_role(*FORWARD_ROLES))]
DemandParty = Annotated[
    Principal, Depends(requires_role(*FILER_ROLES, *ANSWER_ROLES, *DELIVER_ROLES))
]

api_router = APIRouter(prefix="/api/v1/demands")
page_router = APIRouter(prefix="/demands")

HOLDER = inputs.FIELD_NAME  # a department code: lower-case letters, digits and _
DECISIONS = ("accept", "refuse")
LINKS = ("resource", "grant")


def _listed(svc: ServiceDep, principal: Principal) -> list[dict[str, Any]]:
    from jobs.share.demands import demands_of

    return demands_of(svc.settings, principal.department)


def _holder(text: str) -> str:
    text = text.strip()
    if not HOLDER.fullmatch(text):
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a department code", "name a department, or bureau"
        )
    return text


def _file(
    svc: ServiceDep,
    principal: Principal,
    description: str,
    purpose: str,
    legal_basis: str,
    fields: tuple[str, ...],
    holder: str,
) -> dict[str, Any]:
    from jobs.share.demands import Demand, file_demand

    demand = Demand(
        description=plain_text(description, "description"),
        purpose=plain_text(purpose, "purpose"),
        legal_basis=plain_text(legal_basis, "legal basis"),
        fields=fields,
        holder=_holder(holder),
    )
    with request_refusals("file demands for your own department"):
        return file_demand(svc.settings, demand, by=actor_of(principal))


def _answer(
    svc: ServiceDep, principal: Principal, request: str, accept: bool, why: str, basis: str
) -> dict[str, Any]:
    from jobs.share.demands import answer_demand

    with request_refusals("ask an approver of the holding department, or the bureau"):
        return answer_demand(
            svc.settings,
            request_id(request),
            accept,
            by=actor_of(principal),
            why=why,
            legal_basis=basis,
        )


def _forward(
    svc: ServiceDep, principal: Principal, request: str, holder: str, why: str
) -> dict[str, Any]:
    from jobs.share.demands import forward_demand

    with request_refusals("ask the bureau's steward"):
        return forward_demand(
            svc.settings, request_id(request), _holder(holder), by=actor_of(principal), why=why
        )


def _deliver(
    svc: ServiceDep, principal: Principal, request: str, kind: str, target: str, why: str
) -> dict[str, Any]:
    from jobs.share.demands import deliver_demand

    target = inputs.dataset_name(target) if kind == "resource" else request_id(target)
    with request_refusals("ask the holding department, or the bureau"):
        return deliver_demand(
            svc.settings,
            request_id(request),
            by=actor_of(principal),
            kind=kind,
            target=target,
            why=why,
        )


# --- API ------------------------------------------------------------------------------------


class DemandBody(BaseModel):
    description: str
    purpose: str
    legal_basis: str
    fields: list[str] = Field(default_factory=list, max_length=200)
    holder: str = "bureau"


class AnswerBody(BaseModel):
    decision: Literal["accept", "refuse"]
    why: str
    legal_basis: str = ""


class ForwardBody(BaseModel):
    holder: str
    why: str


class DeliveryBody(BaseModel):
    kind: Literal["resource", "grant"]
    target: str
    why: str


@api_router.get("")
async def list_demands(principal: DemandParty, svc: ServiceDep) -> dict[str, Any]:
    """The demands the caller's department filed or must answer (the bureau: all)."""
    return {"demands": await run_in_threadpool(_listed, svc, principal)}


@api_router.post("", status_code=201)
async def file_demand(body: DemandBody, filer: Filer, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(
        _file,
        svc,
        filer,
        body.description,
        body.purpose,
        body.legal_basis,
        inputs.field_names(body.fields),
        body.holder,
    )


@api_router.post("/{request}/answer")
async def answer_demand(
    request: str, body: AnswerBody, answerer: Answerer, svc: ServiceDep
) -> dict[str, Any]:
    why = plain_text(body.why, "reason")
    basis = plain_text(body.legal_basis, "legal basis") if body.legal_basis.strip() else ""
    return await run_in_threadpool(
        _answer, svc, answerer, request, body.decision == "accept", why, basis
    )


@api_router.post("/{request}/forward")
async def forward_demand(
    request: str, body: ForwardBody, forwarder: Forwarder, svc: ServiceDep
) -> dict[str, Any]:
    why = plain_text(body.why, "reason")
    return await run_in_threadpool(_forward, svc, forwarder, request, body.holder, why)


@api_router.post("/{request}/delivery")
async def deliver_demand(
    request: str, body: DeliveryBody, deliverer: Deliverer, svc: ServiceDep
) -> dict[str, Any]:
    why = plain_text(body.why, "reason")
    return await run_in_threadpool(
        _deliver, svc, deliverer, request, body.kind, body.target.strip(), why
    )


# --- pages ----------------------------------------------------------------------------------


@page_router.get("")
async def demands_page(request: Request, principal: DemandParty, svc: ServiceDep) -> Response:
    context: dict[str, Any] = {
        "demands": await run_in_threadpool(_listed, svc, principal),
        "department": principal.department,
        "today": svc.settings.today(),
        "may_file": principal.has_any(frozenset(FILER_ROLES)),
        "may_answer": principal.has_any(frozenset(ANSWER_ROLES)),
        "may_deliver": principal.has_any(frozenset(DELIVER_ROLES)),
        "may_forward": principal.has_any(frozenset(FORWARD_ROLES)),
    }
    return render(request, "demands.html", context, principal)


@page_router.post("")
async def file_demand_form(
    filer: Filer,
    svc: ServiceDep,
    description: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
    fields: Annotated[str, Form()] = "",
    holder: Annotated[str, Form()] = "bureau",
) -> Response:
    names = inputs.field_names(f.strip() for f in fields.split(",") if f.strip())
    await run_in_threadpool(_file, svc, filer, description, purpose, legal_basis, names, holder)
    return RedirectResponse("/demands", status_code=303)


@page_router.post("/{request}/answer")
async def answer_demand_form(
    request: str,
    answerer: Answerer,
    svc: ServiceDep,
    decision: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
) -> Response:
    if decision not in DECISIONS:
        raise inputs.bad_request("choose accept or refuse", "press 同意 or 不同意")
    reason = plain_text(why, "reason")
    basis = plain_text(legal_basis, "legal basis") if legal_basis.strip() else ""
    await run_in_threadpool(_answer, svc, answerer, request, decision == "accept", reason, basis)
    return RedirectResponse("/demands", status_code=303)


@page_router.post("/{request}/forward")
async def forward_demand_form(
    request: str,
    forwarder: Forwarder,
    svc: ServiceDep,
    holder: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    reason = plain_text(why, "reason")
    await run_in_threadpool(_forward, svc, forwarder, request, holder, reason)
    return RedirectResponse("/demands", status_code=303)


@page_router.post("/{request}/delivery")
async def deliver_demand_form(
    request: str,
    deliverer: Deliverer,
    svc: ServiceDep,
    kind: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    if kind not in LINKS:
        raise inputs.bad_request("choose resource or grant", "pick 目录资源 or 共享授权")
    reason = plain_text(why, "reason")
    await run_in_threadpool(_deliver, svc, deliverer, request, kind, target.strip(), reason)
    return RedirectResponse("/demands", status_code=303)
