"""Verification requests (校核申请) and the 异议 marks of a record, in the department service.

``POST /api/v1/verification-requests``: a using department's data officer, or the bureau on
behalf of a citizen or legal person (``on_behalf_of``), asks for a record's element to be
verified (base, key, element, the problem claimed). It becomes a verification ticket to the
element's authoritative department (一数一源, from the configuration under ``schemas/``), due in
the policy profile's working days, in that department's inbox; answered like a ticket from a
build (``POST /api/v1/tickets/{id}/decision``, :mod:`jobs.service.routes.inbox`).

``GET /api/v1/verification/marks?base=…&key=…``: the elements of a record marked disputed (异议)
now, with their tickets, from the live marks (``governance/disputed_marks``), which follow every
ticket change; the base table's ``disputed_elements`` catch up at the next build. Element names
and ticket states only: no value is returned.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import ServiceDep, requires_role
from jobs.service.ports import Principal
from jobs.service.routes.inbox import TicketParty, ticket_refusals
from jobs.service.routes.shares import plain_text
from jobs.service.wiring import actor_of
from jobs.store.roles import PERMISSIONS

#: Who files: a data officer for its department, or the bureau (the rules check the scope).
Filer = Annotated[Principal, Depends(requires_role(*sorted(PERMISSIONS["ticket.file"])))]

api_router = APIRouter(prefix="/api/v1")


class VerificationRequest(BaseModel):
    base: str = Field(max_length=64)
    key: str = Field(max_length=64)
    element: str = Field(max_length=64)
    #: The problem claimed (what seems wrong, and why).
    problem: str
    #: The citizen or legal person the bureau files for.
    on_behalf_of: str | None = Field(default=None, max_length=200)


def _file(svc: ServiceDep, principal: Principal, body: VerificationRequest) -> dict[str, Any]:
    from jobs.govern import tickets
    from jobs.integrate.config import load_integration_config

    base = inputs.value(body.base, "base")
    element = inputs.value(body.element, "element")
    try:
        key_kind, resources = load_integration_config(svc.settings).verification_subject(
            base, element
        )
    except KeyError as exc:
        raise inputs.bad_request(
            exc.args[0], "name a base table and one of its attributes"
        ) from None
    subject = {
        "base": base,
        "key_kind": key_kind,
        "key": inputs.value(body.key, "key"),
        "element": element,
    }
    on_behalf_of = plain_text(body.on_behalf_of, "on_behalf_of") if body.on_behalf_of else None
    with ticket_refusals():
        return tickets.file_ticket(
            svc.settings,
            subject,
            resources=resources,
            by=actor_of(principal),
            problem=plain_text(body.problem, "problem"),
            on_behalf_of=on_behalf_of,
        )


@api_router.post("/verification-requests", status_code=201)
async def file_verification_request(
    body: VerificationRequest, principal: Filer, svc: ServiceDep
) -> dict[str, Any]:
    return await run_in_threadpool(_file, svc, principal, body)


def _marks(svc: ServiceDep, base: str, key: str) -> dict[str, Any]:
    from jobs.govern.ticket_snapshot import disputed_elements

    base, key = inputs.value(base, "base"), inputs.value(key, "key")
    return {
        "base": base,
        "key": key,
        "disputed_elements": disputed_elements(svc.settings, base, [key]).get(key, []),
    }


@api_router.get("/verification/marks")
async def record_marks(base: str, key: str, principal: TicketParty, svc: ServiceDep) -> dict:
    return await run_in_threadpool(_marks, svc, base, key)
