"""The JSON API under ``/api/v1``: who am I, what may I read, read a page, 核验 a batch, and the
auditor's view of the audit log.

Sign in with a session cookie (a browser) or ``Authorization: Bearer <token>`` (a department's
application). Errors are ``{"error", "message", "what_to_do"}`` with the HTTP status.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import Auditor, CurrentUser, Reader, ServiceDep
from jobs.service.ports import ReadRequest

router = APIRouter(prefix="/api/v1")

FORMATS = ("json", "csv", "xlsx", "arrow", "parquet")


@router.get("/whoami")
async def whoami(principal: CurrentUser) -> dict[str, Any]:
    return {
        "login": principal.login,
        "display_name": principal.display_name,
        "department": principal.department,
        "roles": sorted(principal.roles),
        "via": principal.via,
    }


@router.get("/datasets")
async def datasets(reader: Reader, svc: ServiceDep) -> dict[str, Any]:
    views = await run_in_threadpool(svc.data.datasets, reader)
    return {
        "datasets": [
            {
                "name": v.name,
                "title": v.title,
                "fields": list(v.fields),
                "verify_only": v.verify_only,
                "expires_on": v.expires_on,
                "purpose": v.purpose,
            }
            for v in views
        ]
    }


def read_request(
    dataset: str,
    fields: str,
    filters: list[str],
    ids: list[str],
    limit: int,
    cursor: str | None,
    fmt: str,
) -> ReadRequest:
    """A read as asked in a query string, every name and value checked (400 otherwise)."""
    if fmt not in FORMATS:
        raise inputs.bad_request(
            f"format {inputs.shown(fmt)} is not offered", "use one of " + ", ".join(FORMATS)
        )
    return ReadRequest(
        dataset=inputs.dataset_name(dataset),
        fields=inputs.field_names(f.strip() for f in fields.split(",") if f.strip()),
        filters=inputs.filters(filters),
        ids=inputs.ids(ids),
        limit=limit,
        cursor=cursor or None,
        format=fmt,
    )


@router.get("/datasets/{dataset}/rows")
async def read_rows(
    dataset: str,
    reader: Reader,
    svc: ServiceDep,
    fields: str = "",
    filter: Annotated[list[str], Query()] = [],  # noqa: B006  (the query's name)
    id: Annotated[list[str], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1)] = 100,
    cursor: str = "",
    format: str = "json",
) -> Response:
    """One page of a granted dataset: ``fields=a,b``, ``filter=field:value`` (repeatable),
    ``id=…`` (repeatable or comma-separated), ``limit``, ``cursor`` from the previous page,
    ``format=json|csv|xlsx|arrow|parquet``."""
    request = read_request(dataset, fields, filter, id, limit, cursor, format)

    def read_and_encode() -> Any:
        return svc.data.encode(svc.data.read(reader, request), request.format)

    encoded = await run_in_threadpool(read_and_encode)  # one trip to the thread pool, not two
    headers = {}
    if request.format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{encoded.filename}"'
    return Response(encoded.body, media_type=encoded.media_type, headers=headers)


class Claim(BaseModel):
    """One subject of a 核验 batch: its ID (or USCC) and the values claimed for it."""

    id: str
    claims: dict[str, str]


class VerifyBatch(BaseModel):
    items: list[Claim] = Field(max_length=inputs.MAX_VERIFY_ITEMS)


def claimed_items(batch: VerifyBatch) -> list[dict[str, Any]]:
    """The batch's items with every field name checked and no invisible character in a value
    (400 otherwise). Full-width digits and other shapes of a value are left to 核验, which
    standardises claims as it does delivered data."""
    return [
        {
            "id": inputs.free_text(item.id, "ID"),
            "claims": dict(
                zip(
                    inputs.field_names(item.claims),
                    (inputs.free_text(v, "claimed value") for v in item.claims.values()),
                    strict=True,
                )
            ),
        }
        for item in batch.items
    ]


@router.post("/datasets/{dataset}/verify")
async def verify(dataset: str, batch: VerifyBatch, reader: Reader, svc: ServiceDep) -> Response:
    """核验: match / no_match / not_found per claimed field, never the stored values."""
    name = inputs.dataset_name(dataset)
    items = claimed_items(batch)
    results = await run_in_threadpool(svc.data.verify, reader, name, items)
    # Plain texts and booleans: sent as they are, without FastAPI's conversion of every value
    # (a millisecond for a batch of 100).
    return JSONResponse({"dataset": name, "results": results})


@router.get("/audit")
async def audit(
    auditor: Auditor,
    svc: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: str = "",
) -> dict[str, Any]:
    """The newest audit entries (the auditor's role only)."""
    entries = await run_in_threadpool(svc.audit.newest, limit, action or None)
    return {"entries": entries}
