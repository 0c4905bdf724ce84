"""A small workflow of requests between departments for the tests of what every procedure
shares (deadlines, notifications, mail, the dashboard, the evaluation): three departments and
the bureau, their people, and requests of a procedure no govlake module knows (``inquiry``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import uuid
from pathlib import Path

from jobs.policy.workdays import get_calendar
from jobs.store import accounts, requests
from jobs.store.db import transaction
from jobs.store.requests import Machine
from jobs.store.roles import (
    APPROVER,
    AUDITOR,
    BUREAU,
    BUREAU_STEWARD,
    DATA_OFFICER,
    QUALITY_REVIEWER,
    SYSTEM_CLIENT,
)
from tests.actors import PASSWORD

DEPARTMENTS = [
    (BUREAU, "大数据局", "Data Bureau"),
    ("mzj", "民政局", "Civil Affairs"),
    ("rsj", "人社局", "Human Resources"),
    ("gaj", "公安局", "Public Security"),
]
#: login → (department, roles, e-mail).
STAFF = {
    "steward": (BUREAU, [BUREAU_STEWARD], "steward@bureau.example"),
    "reviewer": (BUREAU, [QUALITY_REVIEWER], None),
    "auditor": (BUREAU, [AUDITOR], "auditor@bureau.example"),
    "mzj.li": ("mzj", [DATA_OFFICER], "li@mzj.example"),
    "mzj.wang": ("mzj", [APPROVER], "wang@mzj.example"),
    "rsj.zhao": ("rsj", [APPROVER], "zhao@rsj.example"),
    "rsj.sun": ("rsj", [DATA_OFFICER], None),
    "rsj.app": ("rsj", [SYSTEM_CLIENT], None),
    "gaj.he": ("gaj", [DATA_OFFICER], "he@gaj.example"),
}

#: A procedure of its own, unknown to govlake's modules: an inquiry (咨询) answered or refused.
INQUIRY = Machine(
    type="inquiry",
    transitions={
        "filed": ((), "open"),
        "answered": (("open",), "answered"),
        "refused": (("open",), "refused"),
    },
    open_states=("open",),
    closed_states=("answered", "refused"),
)


#: A made-up 2027 schedule (the real one is not announced): New Year's holiday Friday to Monday.
OFFICIAL_2027 = """\
years:
  2027:
    official: true
    note: test schedule, not the real notice
    holidays:
      - 2027-01-01..2027-01-04
"""


def with_own_schemas(settings, folder: Path):
    """``settings`` reading a copy of their schemas in ``folder``, for a test to change."""
    shutil.copytree(settings.schemas_root, folder)
    return dataclasses.replace(settings, schemas_root=str(folder))


def announce_2027(settings) -> None:
    """Adds :data:`OFFICIAL_2027` to the calendar of ``settings`` (their own schemas copy)."""
    (Path(settings.schemas_root) / "calendar" / "2027.yaml").write_text(OFFICIAL_2027)


def add_staff(settings) -> None:
    with transaction(settings) as session:
        accounts.sync_departments(session, DEPARTMENTS)
        for login, (department, roles, email) in STAFF.items():
            accounts.create_account(
                session,
                login=login,
                department=department,
                display_name=login,
                roles=roles,
                password=None if roles == [SYSTEM_CLIENT] else PASSWORD,
                now=settings.now(),
                email=email,
            )


def _event(request_id, action, from_state, to_state, by, department, on, due_on, at):
    return {
        "event_id": uuid.uuid4().hex[:24],
        "request_id": request_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "by": by,
        "by_department": department,
        "reason": f"{action} by {by}",
        "at": at,
        "on": on,
        "due_on": due_on,
        "source": None,
    }


def file(
    settings,
    request_id: str,
    *,
    opened_on: dt.date,
    workdays: int = 10,
    acting: tuple[str, ...] = ("rsj",),
    by: str = "mzj.li",
) -> requests.Record:
    """Files a request ``by`` an account of mzj for ``acting`` to answer, due ``workdays``
    working days after ``opened_on`` on the configured calendar."""
    due = get_calendar(settings).deadline(opened_on, workdays)
    department = STAFF[by][0] if by in STAFF else None
    record = {
        "id": request_id,
        "type": INQUIRY.type,
        "state": "open",
        "version": None,
        "requested_by": by,
        "requester_department": department,
        "subject": {"dataset": "rsj.insured", "key": "110101199003070011"},
        "facts": {},
        "cycle": 1,
        "opened_on": opened_on,
        "due_on": due.date,
        "due_provisional": due.provisional,
        "extensions": 0,
        "closed_on": None,
        "closed_by": None,
        "close_reason": None,
        "escalated_to": None,
        "escalated_on": None,
        "updated_at": settings.now(),
        "departments": list(acting),
    }
    event = _event(
        request_id, "filed", None, "open", by, department, opened_on, due.date, settings.now()
    )
    with transaction(settings) as session:
        requests.upsert(session, INQUIRY, {}, [record], [event])
    return record


def decide(settings, request_id: str, action: str, *, by: str, on: dt.date) -> requests.Record:
    """``by`` answers or refuses the request on ``on`` (it closes)."""
    state = INQUIRY.transitions[action][1]
    with transaction(settings) as session:
        before = requests.find(session, INQUIRY.type, request_id)
        after = {**before, "state": state, "closed_on": on, "closed_by": by, "close_reason": action}
        event = _event(
            request_id,
            action,
            before["state"],
            state,
            by,
            STAFF[by][0],
            on,
            before["due_on"],
            settings.now(),
        )
        requests.move(session, INQUIRY, before, after, event)
    return after
