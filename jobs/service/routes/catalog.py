"""Catalog changes (目录更新) through the API and the pages.

A department's data officer proposes a new entry for one of its resources
(``POST /api/v1/catalog/changes``, or the form on ``/catalog/propose``, which shows the diff
against the entry in force and the catalog loader's verdict before anything is sent); the
bureau's steward approves or rejects it (``POST /api/v1/catalog/changes/{id}/decision``) and
reminds a department whose duties changed (``POST /api/v1/catalog/reminders``). An approved
change is catalog revision N, listed by ``GET /api/v1/catalog/revisions``. The rules of
:mod:`jobs.govern.catalog_change` refuse a proposal for another department's resource (403), an
entry the loader rejects (400, with the loader's messages) and a decision the change's state
does not allow (409).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import ServiceDep, requires_role
from jobs.service.errors import refusals
from jobs.service.ports import Principal, Refusal
from jobs.service.responses import render
from jobs.service.routes.shares import plain_text
from jobs.service.wiring import actor_of
from jobs.store.roles import BUREAU, PERMISSIONS

PROPOSER_ROLES = sorted(PERMISSIONS["catalog.propose"])
REVIEWER_ROLES = sorted(PERMISSIONS["catalog.review"])
#: Who proposes a change of its department's resources (the rules check which department).
Proposer = Annotated[Principal, Depends(requires_role(*PROPOSER_ROLES))]
#: Who reviews changes and reminds departments: the bureau's steward.
Reviewer = Annotated[Principal, Depends(requires_role(*REVIEWER_ROLES))]
#: Who sees the catalog changes page.
CatalogParty = Annotated[Principal, Depends(requires_role(*PROPOSER_ROLES, *REVIEWER_ROLES))]

CHANGE_ID = re.compile(r"[0-9a-f]{1,16}")
RESOURCE_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
#: The largest proposed entry the service reads (the largest catalog file is a few KB).
MAX_ENTRY_CHARS = 100_000

api_router = APIRouter(prefix="/api/v1/catalog")
page_router = APIRouter(prefix="/catalog")


def _change_id(text: str) -> str:
    if not CHANGE_ID.fullmatch(text):
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a change id",
            "use an id listed by /api/v1/catalog/changes",
        )
    return text


def _resource_id(text: str) -> str:
    text = text.strip()
    if not RESOURCE_ID.fullmatch(text):
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a resource id", "name it <department>.<resource>"
        )
    return text


def _day(text: str | None, what: str) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a date", f"write the {what} as YYYY-MM-DD"
        ) from None


def _refusals() -> contextlib.AbstractContextManager[None]:
    """The catalog change rules' refusals as the service answers them."""
    from jobs.govern.catalog_change import CatalogChangeError, InvalidEntry, UnknownResource
    from jobs.store.roles import Forbidden

    return refusals(
        (Forbidden, 403, "forbidden", "a data officer of the resource's department proposes"),
        (UnknownResource, 404, "unknown_resource", "name a resource of the catalog"),
        (InvalidEntry, 400, "invalid_proposal", "correct the entry and propose it again"),
        (CatalogChangeError, 409, "change_refused", "look at the change again"),
    )


def _entry_of(entry: dict[str, Any] | None, text: str | None) -> Any:
    """The proposed entry: a JSON object, or YAML text as the resource file holds it."""
    from jobs.govern.catalog_change import parse_entry

    if (entry is None) == (not text):
        raise inputs.bad_request(
            "send the proposed entry once", "give either entry (an object) or yaml (text)"
        )
    if entry is not None:
        return entry
    if len(text or "") > MAX_ENTRY_CHARS:
        raise inputs.bad_request("the entry is too long", f"keep it under {MAX_ENTRY_CHARS} chars")
    text = (text or "").replace("\r\n", "\n")
    inputs.free_text(text.replace("\n", " "), "entry")  # lines, but no other control character
    with _refusals():
        return parse_entry(text)


def _listed(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.catalog.revisions import read_revisions
    from jobs.govern import catalog_change

    department = None if principal.department == BUREAU else principal.department
    found, _problems = read_revisions(svc.settings.catalog_revisions_root)
    catalog = _catalog(svc)
    resources = [
        {"id": r.id, "title": r.title, "revision": r.revision}
        for r in catalog.resources.values()
        if department in (None, r.department)
    ]
    return {
        "department": principal.department,
        "resources": resources,
        "changes": catalog_change.list_changes(svc.settings, department),
        "revisions": [
            _revision_line(r)
            for r in reversed(found)
            if department is None or r.resource.split(".")[0] == department
        ],
    }


def _revision_line(revision: Any) -> dict[str, Any]:
    shown = revision.as_dict()
    shown.pop("entry")
    return shown


def _catalog(svc: ServiceDep) -> Any:
    from jobs.catalog import load_catalog

    return load_catalog(svc.settings.schemas_root, svc.settings.catalog_revisions_root)


def _current(svc: ServiceDep, resource_id: str) -> dict[str, Any]:
    from jobs.govern.catalog_change import current_entry, entry_text

    resource = _catalog(svc).resources.get(resource_id)
    if resource is None:
        raise Refusal(404, "unknown_resource", f"no resource {resource_id}", "name one of yours")
    entry = current_entry(svc.settings, resource)
    return {
        "resource": resource_id,
        "revision": resource.revision,
        "entry": entry,
        "yaml": entry_text(entry),
    }


def _propose(
    svc: ServiceDep,
    principal: Principal,
    resource_id: str,
    entry: Any,
    reason: str,
    duty_changed_on: dt.date | None,
) -> dict[str, Any]:
    from jobs.govern.catalog_change import propose

    with _refusals():
        return propose(
            svc.settings,
            resource_id,
            entry,
            by=actor_of(principal),
            reason=reason,
            duty_changed_on=duty_changed_on,
        )


def _preview(
    svc: ServiceDep, principal: Principal, resource_id: str, entry: Any
) -> list[dict[str, Any]]:
    from jobs.govern.catalog_change import preview

    with _refusals():
        return preview(svc.settings, resource_id, entry, by=actor_of(principal))


def _decide(
    svc: ServiceDep, principal: Principal, change_id: str, approve: bool, why: str
) -> dict[str, Any]:
    from jobs.govern.catalog_change import decide

    with _refusals():
        return decide(svc.settings, change_id, approve, by=actor_of(principal), why=why)


def _remind(
    svc: ServiceDep, principal: Principal, resource_id: str, changed_on: dt.date, why: str
) -> dict[str, Any]:
    from jobs.govern.catalog_change import remind

    with _refusals():
        return remind(
            svc.settings, resource_id, by=actor_of(principal), changed_on=changed_on, why=why
        )


def _show(svc: ServiceDep, principal: Principal, change_id: str) -> dict[str, Any]:
    from jobs.govern.catalog_change import find_change

    with _refusals():
        change = find_change(svc.settings, change_id)
    if principal.department not in (BUREAU, change["department"]):
        raise Refusal(403, "forbidden", "a change of another department", "open one of yours")
    return change


# --- API ------------------------------------------------------------------------------------


class ProposalBody(BaseModel):
    resource: str
    reason: str
    entry: dict[str, Any] | None = None
    yaml: str | None = Field(default=None, max_length=MAX_ENTRY_CHARS)
    duty_changed_on: str | None = None


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject"]
    why: str


class ReminderBody(BaseModel):
    resource: str
    changed_on: str
    why: str


@api_router.get("/changes")
async def list_changes(principal: CatalogParty, svc: ServiceDep) -> dict[str, Any]:
    """The department's resources, changes and revisions (the bureau's: every department's)."""
    return await run_in_threadpool(_listed, svc, principal)


@api_router.get("/changes/{change}")
async def show_change(change: str, principal: CatalogParty, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(_show, svc, principal, _change_id(change))


@api_router.post("/changes", status_code=201)
async def propose_change(body: ProposalBody, proposer: Proposer, svc: ServiceDep) -> Any:
    entry = await run_in_threadpool(_entry_of, body.entry, body.yaml)
    return await run_in_threadpool(
        _propose,
        svc,
        proposer,
        _resource_id(body.resource),
        entry,
        plain_text(body.reason, "reason"),
        _day(body.duty_changed_on, "day the duties changed"),
    )


@api_router.post("/changes/{change}/decision")
async def decide_change(
    change: str, body: DecisionBody, reviewer: Reviewer, svc: ServiceDep
) -> dict[str, Any]:
    return await run_in_threadpool(
        _decide,
        svc,
        reviewer,
        _change_id(change),
        body.decision == "approve",
        plain_text(body.why, "reason"),
    )


@api_router.post("/reminders", status_code=201)
async def remind_department(body: ReminderBody, reviewer: Reviewer, svc: ServiceDep) -> Any:
    changed_on = _day(body.changed_on, "day the duties changed")
    if changed_on is None:
        raise inputs.bad_request("the day the duties changed is empty", "give it as YYYY-MM-DD")
    return await run_in_threadpool(
        _remind,
        svc,
        reviewer,
        _resource_id(body.resource),
        changed_on,
        plain_text(body.why, "reason"),
    )


@api_router.get("/revisions")
async def list_revisions(principal: CatalogParty, svc: ServiceDep) -> dict[str, Any]:
    listed = await run_in_threadpool(_listed, svc, principal)
    return {"revisions": listed["revisions"]}


@api_router.get("/resources/{resource}/entry")
async def resource_entry(resource: str, principal: CatalogParty, svc: ServiceDep) -> Any:
    """The entry in force (to start a proposal from) and the revision it comes from."""
    return await run_in_threadpool(_current, svc, _resource_id(resource))


# --- pages ----------------------------------------------------------------------------------


@page_router.get("")
async def catalog_page(request: Request, principal: CatalogParty, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_listed, svc, principal)
    context["may_review"] = principal.has_any(frozenset(REVIEWER_ROLES))
    context["may_propose"] = principal.has_any(frozenset(PROPOSER_ROLES))
    return render(request, "catalog.html", context, principal)


@page_router.get("/propose")
async def proposal_form(
    request: Request, proposer: Proposer, svc: ServiceDep, resource: str = ""
) -> Response:
    from jobs.govern.catalog_change import pending_change

    current = await run_in_threadpool(_current, svc, _resource_id(resource))
    pending = await run_in_threadpool(pending_change, svc.settings, current["resource"])
    context = {
        "resource": current["resource"],
        "revision": current["revision"],
        "text": current["yaml"],
        "reason": "",
        "duty_changed_on": (pending or {}).get("duty_changed_on") or "",
        "pending": pending,
        "changes": None,
        "problems": (),
    }
    return render(request, "catalog_propose.html", context, proposer)


@page_router.post("/propose")
async def proposal_submitted(
    request: Request,
    proposer: Proposer,
    svc: ServiceDep,
    resource: Annotated[str, Form()] = "",
    entry: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    duty_changed_on: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """``preview`` shows the diff and the loader's verdict; ``submit`` proposes. A refused
    proposal comes back to the form with the loader's messages, the text as typed."""
    resource_id = _resource_id(resource)
    changed_on = _day(duty_changed_on, "day the duties changed")
    current = await run_in_threadpool(_current, svc, resource_id)
    context: dict[str, Any] = {
        "resource": resource_id,
        "revision": current["revision"],
        "text": entry,
        "reason": reason,
        "duty_changed_on": duty_changed_on,
        "changes": None,
        "problems": (),
    }
    try:
        parsed = _entry_of(None, entry)
        if action == "submit":
            await run_in_threadpool(
                _propose,
                svc,
                proposer,
                resource_id,
                parsed,
                plain_text(reason, "reason"),
                changed_on,
            )
            return RedirectResponse("/catalog", status_code=303)
        context["changes"] = await run_in_threadpool(_preview, svc, proposer, resource_id, parsed)
    except Refusal as refusal:
        if refusal.status not in (400, 409):
            raise
        context["problems"] = [line.strip() for line in refusal.message.splitlines()]
    status = 400 if context["problems"] else 200
    return render(request, "catalog_propose.html", context, proposer, status)


@page_router.post("/changes/{change}/decision")
async def decision_form(
    change: str,
    reviewer: Reviewer,
    svc: ServiceDep,
    decision: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        raise inputs.bad_request("choose approve or reject", "press 批准 or 退回")
    await run_in_threadpool(
        _decide, svc, reviewer, _change_id(change), decision == "approve", plain_text(why, "reason")
    )
    return RedirectResponse("/catalog", status_code=303)


@page_router.post("/reminders")
async def reminder_form(
    reviewer: Reviewer,
    svc: ServiceDep,
    resource: Annotated[str, Form()] = "",
    changed_on: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    day = _day(changed_on, "day the duties changed")
    if day is None:
        raise inputs.bad_request("the day the duties changed is empty", "give it as YYYY-MM-DD")
    await run_in_threadpool(
        _remind, svc, reviewer, _resource_id(resource), day, plain_text(why, "reason")
    )
    return RedirectResponse("/catalog", status_code=303)
