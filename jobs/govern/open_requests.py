"""Open on request (依申请开放): a citizen or organisation asks for an on-request open dataset.

004 §20–22 and 000 §18: data open on request (catalog ``open.type: on_request``) is provided to
whoever applies, once the providing department agrees; the department answers within the policy
profile's ``open_request_answer_workdays`` (抚顺: 5, counted on the official calendar from the
day after receipt; where the profile is silent, ``schemas/share/open_requests.yaml``), and a
refusal says why. Not-open data (``not_open``) is listed publicly with its legal basis (000 §18,
004 §22) but cannot be asked for this way; unconditionally open data needs no application
(004 §21).

One request of type ``open_request`` per application in the workflow store
(:mod:`jobs.store.requests`), acted on by the providing department; each transition is a request
event and an audit entry. Who applies:

* anyone, through the public form (no account): ``requested_by`` is :data:`PUBLIC`; or
* the bureau on a citizen's or organisation's behalf (a steward), signed by its account.

The applicant's contact details (name, ID type and number or USCC, phone, e-mail) are personal
data: they stay in the store (the request's ``facts``), are shown to the department that answers
with the ID number masked (it answers the purpose; it need not hold the number), and never
reach an audit entry, a log line or the lake. The applicant gets a receipt number (the
request id) and a secret, stored only as its digest, to check the state of the request.

States::

    pending ──granted──▶ granted ──downloaded (each download, until the link expires)
       └─────refused──▶ refused (with the reason)

A grant gives downloads until ``open_download_days`` (a setting) after it, at most
:data:`DOWNLOADS_PER_GRANT`, and each link works once: its signature (the service's,
:mod:`jobs.service.routes.open_requests`) covers the number of downloads made so far, which each
download raises, and the applicant's status page (receipt number and secret) shows a new link.
A link that leaked (a forwarded mail, a proxy's log, a shared computer's history) is worth one
download, the one its owner most likely made already, rather than any number until the expiry;
a download cut short is taken again from the status page. Every download is a request event
and an audit entry. Overdue requests are the generic
deadline check's business, not this module's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from jobs import yamlconf
from jobs.catalog import load_catalog
from jobs.catalog.models import Resource
from jobs.govern import procedure
from jobs.govern.applicants import Applicant, ApplicantError, as_shown, checked_applicant
from jobs.govern.procedure import ProcedureError
from jobs.lake.registry import OPEN_DATASET
from jobs.policy import WorkdayCalendar, load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.requests import STAY, Machine
from jobs.store.roles import BUREAU, Actor, require
from jobs.yamlconf import INT, Keys

PENDING, GRANTED, REFUSED = "pending", "granted", "refused"
#: ``requested_by`` of an application sent through the public form (no account).
PUBLIC = "public"
#: Who signs what the public does (an application, a download): no account, no department.
PUBLIC_ACTOR = Actor(PUBLIC, "", frozenset())
#: The catalog's open type that may be asked for (依申请开放).
ON_REQUEST = "on_request"
#: Catalog open types → the policy profile's vocabulary keys (profiles call 依申请 "conditional").
PROFILE_OPEN_KEYS = {"unconditional": "unconditional", "on_request": "conditional"}

OPEN_REQUEST = Machine(
    type="open_request",
    transitions={
        "requested": ((), PENDING),
        "granted": ((PENDING,), GRANTED),
        "refused": ((PENDING,), REFUSED),
        "downloaded": ((GRANTED,), STAY),
    },
    open_states=(PENDING,),
    closed_states=(GRANTED, REFUSED),
)

MAX_PURPOSE_CHARS = 500
#: Downloads one grant gives (each through a link of its own, see the module doc): enough for a
#: download cut short or taken again on another computer, not a mirror for others.
DOWNLOADS_PER_GRANT = 5

#: Applications from one client address in :data:`THROTTLE_WINDOW` before the next is refused
#: (as failed sign-ins are throttled: jobs.store.accounts).
MAX_REQUESTS_FROM_SOURCE = 5
THROTTLE_WINDOW = dt.timedelta(hours=1)

OPEN_REQUESTS_FILE = Path("share") / "open_requests.yaml"
_CONFIG = Keys({"answer_workdays_when_unset": INT}, required={"answer_workdays_when_unset"})


class OpenRequestError(ProcedureError):
    """An application or answer the rules refuse; the message says why."""


class OpenRequestThrottled(OpenRequestError):
    """Too many applications from one client address; try again after ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"too many applications from your address; try again in "
            f"{-(-retry_after_seconds // 60)} minutes"
        )
        self.retry_after_seconds = retry_after_seconds


class NotFound(OpenRequestError):
    """No request with that receipt number and secret (the two are never told apart)."""


@dataclass(frozen=True)
class OpenRequestPolicy:
    """The numbers an application lives by (the profile's, or the file's where it is silent)."""

    answer_workdays: int
    #: Where the number comes from: the profile's article, or the file's default.
    source: str
    download_days: int
    calendar: WorkdayCalendar


class OpenRequestConfigError(ValueError):
    """``open_requests.yaml`` is missing or malformed; the message names the file and line."""


def load_policy(settings: Settings) -> OpenRequestPolicy:
    """The answer deadline of ``settings.policy_profile`` (or the file's where it is silent),
    the download's lifetime and the configured calendar."""
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    days = profile.open_request_answer_workdays
    source = profile.provision("open_request_answer_workdays").describe()
    if days is None:
        path = Path(settings.schemas_root) / OPEN_REQUESTS_FILE
        days = int(
            yamlconf.load(path, _CONFIG, OpenRequestConfigError)["answer_workdays_when_unset"]
        )
        source = (
            f"profile {profile.name!r} is silent: {OPEN_REQUESTS_FILE} answer_workdays_when_unset"
        )
    return OpenRequestPolicy(
        answer_workdays=days,
        source=source,
        download_days=settings.open_download_days,
        calendar=get_calendar(default_override_paths(settings)),
    )


# --- the public list (000 §18) -----------------------------------------------------------------


def listed_datasets(settings: Settings) -> list[dict[str, Any]]:
    """Every catalog resource that is not unconditionally open, with its open type (the
    profile's name for it), condition and legal basis, and whether it may be asked for: the
    list 000 §18 and 004 §22 say is published."""
    catalog = load_catalog(settings.schemas_root)
    names = load_profile(settings.policy_profile, settings.schemas_root).open_types
    listed = []
    for resource in sorted(catalog.resources.values(), key=lambda r: r.id):
        if resource.open.type == "unconditional":
            continue
        listed.append(
            {
                "dataset": resource.id,
                "title": resource.title,
                "provider": resource.department,
                "provider_name": catalog.department(resource.department).name,
                "open_type": resource.open.type,
                "open_type_name": names.name(
                    PROFILE_OPEN_KEYS.get(resource.open.type, resource.open.type)
                ),
                "domain": resource.open.domain,
                "summary": resource.open.summary,
                "condition": resource.open.condition,
                "legal_basis": resource.open.legal_basis,
                "is_requestable": resource.open.type == ON_REQUEST,
            }
        )
    return listed


def requestable(settings: Settings, dataset: str) -> Resource:
    """The on-request resource ``dataset``.

    Raises:
        OpenRequestError: no such resource, or it is open without application, or not open.
    """
    resource = load_catalog(settings.schemas_root).resources.get(dataset)
    if resource is None:
        raise OpenRequestError(f"the catalog has no dataset {dataset!r}")
    if resource.open.type == "unconditional":
        raise OpenRequestError(f"{dataset} is open to all without application (004 §21)")
    if resource.open.type != ON_REQUEST:
        basis = resource.open.legal_basis or "not recorded in the catalog"
        raise OpenRequestError(f"{dataset} is not open (不予开放); legal basis: {basis}")
    return resource


# --- applications --------------------------------------------------------------------------------


def _receipt(today: dt.date) -> str:
    """A receipt number (受理编号) people can read out: the day and 8 random characters."""
    return f"OR{today:%Y%m%d}{secrets.token_hex(4).upper()}"


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _from_public(step: requests.Event, source: str | None = None) -> requests.Event:
    """An event of the public (no account, no department), caused by ``source``."""
    return {**step, "by_department": None, "source": source}


def _throttle(settings: Settings, source: str, now: dt.datetime) -> None:
    """A throttle, not a quota: two applications racing from one address may both pass."""
    with reading(settings) as session:
        recent = requests.events_since(
            session, OPEN_REQUEST.type, "requested", source=source, since=now - THROTTLE_WINDOW
        )
    if len(recent) >= MAX_REQUESTS_FROM_SOURCE:
        oldest = min(e["at"] for e in recent)
        raise OpenRequestThrottled(int((oldest + THROTTLE_WINDOW - now).total_seconds()) + 1)


def submit(
    settings: Settings,
    dataset: str,
    applicant: Applicant,
    purpose: str,
    *,
    source: str,
    by: Actor | None = None,
) -> dict[str, Any]:
    """Files an application for ``dataset``; returns its receipt number and secret (shown once:
    only the secret's digest is kept) and the due date.

    Args:
        source: an opaque digest of the client's address (what throttling counts by); never the
            address itself.
        by: the bureau's account filing on the applicant's behalf; None for the public form.

    Raises:
        OpenRequestError: the dataset cannot be asked for, or a value is wrong.
        OpenRequestThrottled: a public application after :data:`MAX_REQUESTS_FROM_SOURCE` from
            ``source`` in the last :data:`THROTTLE_WINDOW` (the bureau's are not throttled).
        Forbidden: ``by`` may not file for others.
    """
    if by is not None:
        require(by, "open.request_for")
    resource = requestable(settings, dataset)
    try:
        applicant = checked_applicant(applicant)
    except ApplicantError as exc:
        raise OpenRequestError(str(exc)) from None
    purpose = " ".join(purpose.split())
    if not purpose or len(purpose) > MAX_PURPOSE_CHARS:
        raise OpenRequestError(f"say the purpose, in at most {MAX_PURPOSE_CHARS} characters")
    policy = load_policy(settings)
    now, today = settings.now(), settings.today()
    if by is None:
        _throttle(settings, source, now)
    secret = secrets.token_urlsafe(18)
    filed = procedure.new_record(
        OPEN_REQUEST,
        by=by or PUBLIC_ACTOR,
        departments=[resource.department],
        subject={"dataset": resource.id, "title": resource.title},
        facts={
            "applicant": asdict(applicant),
            "purpose": purpose,
            "secret_digest": _secret_digest(secret),
            "answer_workdays": policy.answer_workdays,
            "answer_workdays_source": policy.source,
        },
        state=PENDING,
        today=today,
        now=now,
        due_on=procedure.due(policy.calendar, today, policy.answer_workdays),
    )
    filed = {**filed, "id": _receipt(today), "requester_department": by.department if by else None}
    first = procedure.event(
        filed, "requested", None, by=by or PUBLIC_ACTOR, why="", now=now, on=today
    )
    procedure.file(settings, OPEN_REQUEST, filed, first if by else _from_public(first, source))
    return {
        "receipt": filed["id"],
        "secret": secret,
        "dataset": resource.id,
        "state": PENDING,
        "due_on": filed["due_on"],
        "due_provisional": filed["due_provisional"],
    }


# --- answers ---------------------------------------------------------------------------------


def answer(settings: Settings, receipt: str, grant: bool, *, by: Actor, why: str) -> dict[str, Any]:
    """The providing department's (or the bureau's) answer: a grant (with a download that
    expires ``open_download_days`` later) or a refusal with its reason (004 §22).

    Raises:
        Forbidden: ``by`` is not an approver of the providing department nor the bureau's steward.
        ProcedureError: no such request, it is answered already, or someone answered meanwhile.
    """
    why = procedure.require_reason(why, "the reason (a refusal must, 004 §22)")
    policy = load_policy(settings)
    now, today = settings.now(), settings.today()
    state = GRANTED if grant else REFUSED

    def decision(before: requests.Record) -> tuple[requests.Record, requests.Event]:
        if before["state"] != PENDING:
            raise OpenRequestError(f"open request {receipt} is {before['state']} already")
        expires = now + dt.timedelta(days=policy.download_days)
        facts = {
            **before["facts"],
            "answered_late": today > before["due_on"],
            **({"download_expires_at": expires.isoformat()} if grant else {}),
        }
        after = procedure.closed(before, state, by=by, why=why, now=now, on=today)
        after = {**after, "facts": facts}
        return after, procedure.event(after, state, PENDING, by=by, why=why, now=now, on=today)

    after = procedure.decide(
        settings, OPEN_REQUEST, receipt, by=by, permission="open.answer", decision=decision
    )
    return shown_to_department(after)


def to_answer(settings: Settings, by: Actor) -> list[dict[str, Any]]:
    """The applications ``by`` may answer (its department's; every one for the bureau), pending
    first, with the applicant's name and contact details (the department answers at them) and
    the ID number masked (:func:`jobs.govern.applicants.as_shown`)."""
    rows = procedure.load(settings, OPEN_REQUEST)
    mine = [r for r in rows if by.department == BUREAU or by.department in r["departments"]]
    return sorted(
        (shown_to_department(r) for r in mine),
        key=lambda r: (r["state"] != PENDING, r["due_on"], r["receipt"]),
    )


def shown_to_department(record_: requests.Record) -> dict[str, Any]:
    facts = record_["facts"]
    return {
        **_status(record_),
        "provider": record_["departments"][0],
        "requested_by": record_["requested_by"],
        "applicant": as_shown(facts["applicant"]),
        "purpose": facts["purpose"],
    }


def _status(record_: requests.Record) -> dict[str, Any]:
    facts = record_["facts"]
    return {
        "receipt": record_["id"],
        "dataset": record_["subject"]["dataset"],
        "title": record_["subject"].get("title", ""),
        "state": record_["state"],
        "opened_on": record_["opened_on"],
        "due_on": record_["due_on"],
        "due_provisional": record_["due_provisional"],
        "answered_on": record_["closed_on"],
        "answered_late": facts.get("answered_late"),
        "reason": record_["close_reason"],
        "download_expires_at": facts.get("download_expires_at"),
        # what the link's signature covers: a link works for the next download only
        "downloads": facts.get("downloads", 0),
        "downloads_left": max(0, DOWNLOADS_PER_GRANT - facts.get("downloads", 0))
        if record_["state"] == GRANTED
        else 0,
    }


def _held(session: Session, receipt: str) -> requests.Record | None:
    found = requests.load(session, OPEN_REQUEST.type, ids=[receipt])
    return found[0] if found else None


def status(settings: Settings, receipt: str, secret: str) -> dict[str, Any]:
    """What the applicant may see of the request behind ``receipt``, given its secret.

    Raises:
        NotFound: no such receipt, or the secret is not its own (the same answer for both).
    """
    with reading(settings) as session:
        found = _held(session, receipt)
    stored = found["facts"]["secret_digest"] if found else _secret_digest("")
    if not hmac.compare_digest(stored, _secret_digest(secret)) or found is None:
        raise NotFound("no open request with that receipt number and secret")
    return _status(found)


# --- downloads ---------------------------------------------------------------------------------


def start_download(
    settings: Settings, receipt: str, *, is_signed: Callable[[dict[str, Any]], bool]
) -> str:
    """Records one download of a granted request's dataset (an event and an audit entry, and
    the request's count of downloads raised, which spends the link) and returns the location of
    its published table (``open/<dataset>``).

    Args:
        is_signed: whether the link in hand was signed for this request, its expiry and its
            downloads so far (the service checks its signature); checked before anything is
            recorded.

    Raises:
        NotFound: no such request, the link is not its own, it is not granted, was used
            already (also by a download at the same instant), its downloads are used up, or it
            has expired (the same answer for all).
        OpenRequestError: the dataset is not published yet (nothing recorded).
    """
    from jobs.audit.log import record  # the lake's log: loaded when something is downloaded
    from jobs.lake import tables

    now, today = settings.now(), settings.today()
    with transaction(settings) as session:
        before = _held(session, receipt)
        shown = _status(before) if before else {}
        expires = shown.get("download_expires_at")
        if (
            not expires
            or not shown["downloads_left"]
            or not is_signed(shown)
            or now >= dt.datetime.fromisoformat(expires)
        ):
            raise NotFound(
                "this download link is not valid, was used already, or has expired; the status "
                "page (receipt number and secret) gives a new one while downloads are left"
            )
        location = OPEN_DATASET.uri(settings, before["subject"]["dataset"])
        if not tables.table_exists(location):
            raise OpenRequestError(
                f"{before['subject']['dataset']} is not published yet; try again tomorrow"
            )
        step = procedure.event(
            before, "downloaded", GRANTED, by=PUBLIC_ACTOR, why="", now=now, on=today
        )
        spent = {**before["facts"], "downloads": shown["downloads"] + 1}
        try:
            after = {**before, "facts": spent}
            requests.move(session, OPEN_REQUEST, before, after, _from_public(step))
        except requests.RequestConflict:  # the same link, used at the same instant
            raise NotFound("this download link was used already") from None
    record(
        settings,
        f"{OPEN_REQUEST.type}_downloaded",
        actor=PUBLIC,
        target=f"requests/{OPEN_REQUEST.type}/{receipt}",
        detail={"dataset": before["subject"]["dataset"], "event_id": step["event_id"]},
    )
    return location
