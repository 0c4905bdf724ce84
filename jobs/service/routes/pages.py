"""Server-rendered pages, in Chinese with English identifiers, working without JavaScript.

``/login`` and ``/logout``; ``/datasets`` (我的数据集, what the caller's grants cover),
``/datasets/<name>`` (a preview page with download links), ``/datasets/<name>/verify`` (核验 of a
pasted or uploaded CSV batch) and ``/audit`` (审计日志, the auditor's view). Every form carries
the session's CSRF token; the login form is bound to a cookie of its own.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from jobs.service import inputs
from jobs.service.deps import (
    Auditor,
    CurrentUser,
    Reader,
    Service,
    ServiceDep,
    csrf_refused,
    current_principal,
)
from jobs.service.ports import (
    READER_ROLES,
    REQUESTER_ROLES,
    ReadRequest,
    Refusal,
    SignInRefused,
    SignInThrottled,
)
from jobs.service.responses import render
from jobs.service.security import (
    LOGIN_COOKIE,
    NEEDS_HTTPS,
    SESSION_COOKIE,
    Origin,
    cookie_is_secure,
    csrf_matches,
    csrf_token,
    needs_https,
    new_random_id,
    request_origin,
)
from jobs.store.roles import APPROVER, AUDITOR

router = APIRouter()

PREVIEW_ROWS = 20
AUDIT_ROWS = 200
#: The login form's cookie lives as long as someone may take to type a password.
LOGIN_COOKIE_SECONDS = 1800


def _set_cookie(
    request: Request, svc: Service, response: Response, name: str, value: str, **extra: Any
) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(svc.settings, request.url.hostname),
        path="/",
        **extra,
    )


def _origin(request: Request, svc: Service) -> Origin:
    """The client's address and scheme (through the trusted reverse proxies only)."""
    return request_origin(
        request.client.host if request.client else None,
        request.url.scheme,
        request.headers.get("x-forwarded-for"),
        request.headers.get("x-forwarded-proto"),
        svc.settings.trusted_proxies,
    )


def _over_plain_http(request: Request, svc: Service) -> bool:
    return needs_https(svc.settings, request.url.hostname, _origin(request, svc))


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this service only (no ``//host`` or ``\\``)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/")
async def home(request: Request, svc: ServiceDep) -> Response:
    try:
        principal = await current_principal(request, svc)
    except Refusal:
        return RedirectResponse("/login", status_code=303)
    if principal.has_any(READER_ROLES):
        return RedirectResponse("/datasets", status_code=303)
    if principal.has_any(REQUESTER_ROLES | {APPROVER}):
        return RedirectResponse("/shares", status_code=303)
    if AUDITOR in principal.roles:
        return RedirectResponse("/audit", status_code=303)
    return render(request, "account.html", {}, principal)


def _login_page(
    request: Request, svc: Service, next_path: str, error: str = "", status_code: int = 200
) -> Response:
    login_id = request.cookies.get(LOGIN_COOKIE) or new_random_id()
    response = render(
        request,
        "login.html",
        {
            "login_csrf": csrf_token(svc.secret, login_id, "login"),
            "next": safe_next(next_path),
            "error": error or (NEEDS_HTTPS if _over_plain_http(request, svc) else ""),
        },
        status_code=status_code,
    )
    _set_cookie(request, svc, response, LOGIN_COOKIE, login_id, max_age=LOGIN_COOKIE_SECONDS)
    return response


@router.get("/login")
async def login_form(request: Request, svc: ServiceDep, next: str = "/") -> Response:
    return _login_page(request, svc, next)


@router.post("/login")
async def login(
    request: Request,
    svc: ServiceDep,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Signs in; failures answer 401, and after too many 429 with ``Retry-After``; over plain
    HTTP with Secure cookies 400 and a page that says how to reach the service."""
    if _over_plain_http(request, svc):  # the browser would drop the cookies: say why, now
        return _login_page(request, svc, next, NEEDS_HTTPS, status_code=400)
    if not csrf_matches(svc.secret, request.cookies.get(LOGIN_COOKIE, ""), csrf_token, "login"):
        raise csrf_refused()
    try:
        session_id = await run_in_threadpool(
            svc.identity.sign_in, login.strip(), password, source=_origin(request, svc).address
        )
    except SignInThrottled as throttled:
        response = _login_page(
            request,
            svc,
            next,
            f"登录失败次数过多，请 {throttled.retry_after_seconds} 秒后再试 "
            "(too many failed sign-ins)",
            status_code=429,
        )
        response.headers["Retry-After"] = str(throttled.retry_after_seconds)
        return response
    except SignInRefused:
        return _login_page(
            request, svc, next, "登录名或密码不正确 (wrong login or password)", status_code=401
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_cookie(request, svc, response, SESSION_COOKIE, session_id)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, principal: CurrentUser, svc: ServiceDep) -> Response:
    await run_in_threadpool(svc.identity.sign_out, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/datasets")
async def my_datasets(request: Request, reader: Reader, svc: ServiceDep) -> Response:
    views = await run_in_threadpool(svc.data.datasets, reader)
    return render(request, "datasets.html", {"datasets": views}, reader)


def _granted_view(views: list, name: str) -> Any:
    for view in views:
        if view.name == name:
            return view
    raise Refusal(
        403,
        "not_granted",
        f"you hold no active grant for {name}",
        "request a share of it from the providing department (govlake share request)",
    )


@router.get("/datasets/{dataset}")
async def preview(
    request: Request,
    dataset: str,
    reader: Reader,
    svc: ServiceDep,
    fields: Annotated[list[str], Query()] = [],  # noqa: B006
    filter: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Response:
    """The first rows of a granted dataset, as the caller's grant serves them (a read: audited)."""
    name = inputs.dataset_name(dataset)
    view = _granted_view(await run_in_threadpool(svc.data.datasets, reader), name)
    wanted = inputs.field_names(fields)
    filters = inputs.filters(f for f in filter if f.strip())
    page = None
    if not view.verify_only:
        request_ = ReadRequest(name, wanted, filters, limit=PREVIEW_ROWS, format="json")
        page = await run_in_threadpool(svc.data.read, reader, request_)
    query = [("fields", ",".join(wanted))] if wanted else []
    query += [("filter", f"{k}:{v}") for k, v in filters.items()]
    downloads = {
        fmt: f"/api/v1/datasets/{name}/rows?" + urlencode([*query, ("format", fmt)])
        for fmt in ("csv", "xlsx", "parquet", "arrow")
    }
    return render(
        request,
        "dataset.html",
        {
            "view": view,
            "page": page,
            "rows": page.table.to_pylist() if page else [],
            "columns": page.table.column_names if page else [],
            "wanted": wanted,
            "filter_text": "\n".join(f"{k}:{v}" for k, v in filters.items()),
            "downloads": downloads,
        },
        reader,
    )


def parse_batch(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """A pasted or uploaded CSV: a header (the ID column, then claimed fields), then one row per
    subject. Returns the claimed field names and the items for :meth:`DataAccess.verify`."""
    rows = [row for row in csv.reader(io.StringIO(text.strip())) if any(c.strip() for c in row)]
    if len(rows) < 2:
        raise inputs.bad_request(
            "the batch has no rows under its header",
            "paste a header line (id,name,birth_date …) and one line per person",
        )
    header, *body = rows
    claimed = inputs.field_names(h.strip() for h in header[1:])
    if len(claimed) != len(header) - 1 or not claimed:
        raise inputs.bad_request(
            "the header names no claimed field, or one twice", "e.g. id,name,birth_date"
        )
    if len(body) > inputs.MAX_VERIFY_ITEMS:
        raise inputs.bad_request(
            f"{len(body)} rows in one batch", f"send at most {inputs.MAX_VERIFY_ITEMS} rows"
        )
    items = []
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise inputs.bad_request(
                f"line {number} has {len(row)} values, the header {len(header)}",
                "give every line the header's number of values",
            )
        items.append(
            {
                "id": inputs.free_text(row[0].strip(), "ID"),
                "claims": {
                    f: inputs.free_text(v.strip(), "claimed value")
                    for f, v in zip(claimed, row[1:], strict=True)
                    if v.strip()
                },
            }
        )
    return list(claimed), items


@router.get("/datasets/{dataset}/verify")
async def verify_form(request: Request, dataset: str, reader: Reader, svc: ServiceDep) -> Response:
    name = inputs.dataset_name(dataset)
    view = _granted_view(await run_in_threadpool(svc.data.datasets, reader), name)
    return render(request, "verify.html", {"view": view, "batch": "", "results": None}, reader)


@router.post("/datasets/{dataset}/verify")
async def verify_batch(
    request: Request,
    dataset: str,
    reader: Reader,
    svc: ServiceDep,
    batch: Annotated[str, Form()] = "",
) -> Response:
    """Runs a 核验 batch from the form's text, or from an uploaded CSV file if one is sent."""
    name = inputs.dataset_name(dataset)
    view = _granted_view(await run_in_threadpool(svc.data.datasets, reader), name)
    upload = (await request.form()).get("file")
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read()
        try:
            batch = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise inputs.bad_request(
                "the uploaded file is not UTF-8 text", "save the CSV as UTF-8 and upload it again"
            ) from None
    claimed, items = parse_batch(batch)
    results = await run_in_threadpool(svc.data.verify, reader, name, items)
    return render(
        request,
        "verify.html",
        {"view": view, "batch": batch, "claimed": claimed, "results": results},
        reader,
    )


@router.get("/audit")
async def audit_log(
    request: Request,
    auditor: Auditor,
    svc: ServiceDep,
    action: str = "",
) -> Response:
    entries = await run_in_threadpool(svc.audit.newest, AUDIT_ROWS, action or None)
    return render(request, "audit.html", {"entries": entries, "action": action}, auditor)
