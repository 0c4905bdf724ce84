"""Error feedback (数据纠错) and its rectification (整改), through the API and the pages.

A department's data officer (or application) flags a value in data its department received
(``POST /api/v1/feedback``, the form on ``/feedback``); the providing department answers it
(``POST /api/v1/feedback/{id}/answer``): fixed, or not an error, with a reason. The rules of
:mod:`jobs.share.feedback` refuse feedback on data the department holds no grant of, and an answer
from any department but the provider (403) or to feedback answered already (409).
"""

from __future__ import annotations

import contextlib
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import ServiceDep, requires_role
from jobs.service.errors import refusals
from jobs.service.ports import Principal
from jobs.service.responses import render
from jobs.service.routes.shares import plain_text
from jobs.service.wiring import actor_of
from jobs.store.roles import PERMISSIONS

FILER_ROLES = sorted(PERMISSIONS["feedback.file"])
ANSWER_ROLES = sorted(PERMISSIONS["feedback.answer"])
#: Who files feedback for its department (a data officer or application).
Filer = Annotated[Principal, Depends(requires_role(*FILER_ROLES))]
#: Who may answer feedback at all; which, the rules decide (the providing department's).
Answerer = Annotated[Principal, Depends(requires_role(*ANSWER_ROLES))]
#: Who sees the feedback page.
FeedbackParty = Annotated[Principal, Depends(requires_role(*FILER_ROLES, *ANSWER_ROLES))]

#: A request id as :func:`jobs.govern.procedure.new_id` makes it.
REQUEST_ID = re.compile(r"[0-9a-f]{1,16}")
ANSWERS = ("fixed", "not_an_error")

api_router = APIRouter(prefix="/api/v1/feedback")
page_router = APIRouter(prefix="/feedback")


def request_id(text: str) -> str:
    if not REQUEST_ID.fullmatch(text):
        raise inputs.bad_request(
            f"{inputs.shown(text)} is not a request id", "use an id listed by the list's GET"
        )
    return text


def request_refusals(who_may: str) -> contextlib.AbstractContextManager[None]:
    """A procedure's refusals as the service answers them: 403 for the wrong account (``who_may``
    says who may act), 409 for a step its state or rules do not allow."""
    from jobs.govern.procedure import ProcedureError
    from jobs.store.roles import Forbidden

    return refusals(
        (Forbidden, 403, "forbidden", who_may),
        (ProcedureError, 409, "request_refused", "look at the request again"),
    )


def _listed(svc: ServiceDep, principal: Principal) -> dict[str, Any]:
    from jobs.share.feedback import feedback_of

    return feedback_of(svc.settings, principal.department)


def _file(
    svc: ServiceDep,
    principal: Principal,
    dataset: str,
    record_key: str,
    field: str,
    problem: str,
    suggested_value: str | None,
) -> dict[str, Any]:
    from jobs.share.feedback import Flag, file_feedback

    flag = Flag(
        dataset=inputs.dataset_name(dataset.strip()),
        record_key=inputs.value(record_key.strip(), "record key"),
        field=inputs.field_names([field.strip()])[0],
        problem=plain_text(problem, "problem"),
        suggested_value=inputs.value(suggested_value.strip(), "suggested value")
        if suggested_value and suggested_value.strip()
        else None,
    )
    with request_refusals("file feedback on data your department holds a grant of"):
        return file_feedback(svc.settings, flag, by=actor_of(principal))


def _answer(
    svc: ServiceDep, principal: Principal, request: str, answer: str, why: str
) -> dict[str, Any]:
    from jobs.share.feedback import answer_feedback

    with request_refusals("ask an officer of the providing department"):
        return answer_feedback(
            svc.settings, request_id(request), answer, by=actor_of(principal), why=why
        )


# --- API ------------------------------------------------------------------------------------


class FeedbackBody(BaseModel):
    dataset: str
    record_key: str
    field: str
    problem: str
    suggested_value: str | None = None


class AnswerBody(BaseModel):
    answer: Literal["fixed", "not_an_error"]
    why: str


@api_router.get("")
async def list_feedback(principal: FeedbackParty, svc: ServiceDep) -> dict[str, Any]:
    """What the caller's department filed, and what it must answer (the bureau: all)."""
    return await run_in_threadpool(_listed, svc, principal)


@api_router.post("", status_code=201)
async def file_feedback(body: FeedbackBody, filer: Filer, svc: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(
        _file,
        svc,
        filer,
        body.dataset,
        body.record_key,
        body.field,
        body.problem,
        body.suggested_value,
    )


@api_router.post("/{request}/answer")
async def answer_feedback(
    request: str, body: AnswerBody, answerer: Answerer, svc: ServiceDep
) -> dict[str, Any]:
    why = plain_text(body.why, "reason")
    return await run_in_threadpool(_answer, svc, answerer, request, body.answer, why)


# --- pages ----------------------------------------------------------------------------------


@page_router.get("")
async def feedback_page(request: Request, principal: FeedbackParty, svc: ServiceDep) -> Response:
    context = await run_in_threadpool(_listed, svc, principal)
    context["may_file"] = principal.has_any(frozenset(FILER_ROLES))
    context["may_answer"] = principal.has_any(frozenset(ANSWER_ROLES))
    context["department"] = principal.department
    context["today"] = svc.settings.today()
    # what the form offers: the datasets and fields the department holds grants of
    granted = await run_in_threadpool(svc.data.datasets, principal) if context["may_file"] else []
    context["granted"] = granted
    context["granted_fields"] = sorted({f for d in granted for f in d.fields})
    return render(request, "feedback.html", context, principal)


@page_router.post("")
async def file_feedback_form(
    filer: Filer,
    svc: ServiceDep,
    dataset: Annotated[str, Form()] = "",
    record_key: Annotated[str, Form()] = "",
    field: Annotated[str, Form()] = "",
    problem: Annotated[str, Form()] = "",
    suggested_value: Annotated[str, Form()] = "",
) -> Response:
    await run_in_threadpool(_file, svc, filer, dataset, record_key, field, problem, suggested_value)
    return RedirectResponse("/feedback", status_code=303)


@page_router.post("/{request}/answer")
async def answer_feedback_form(
    request: str,
    answerer: Answerer,
    svc: ServiceDep,
    answer: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    if answer not in ANSWERS:
        raise inputs.bad_request("choose fixed or not_an_error", "press 已更正 or 非错误")
    reason = plain_text(why, "reason")
    await run_in_threadpool(_answer, svc, answerer, request, answer, reason)
    return RedirectResponse("/feedback", status_code=303)
