"""What a department must act on (待办): its inbox and the departments' dashboard.

Every open request whose acting departments include the account's department, overdue first,
then by due date, with the working days left on the official calendar (negative once past). The
bureau's inbox also holds what was escalated to it (a deadline that passed), and its dashboard
shows every department; another department's dashboard shows its own line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.govern.ticket_policy import load_verification_settings
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading
from jobs.store.roles import BUREAU

#: What an inbox line says a request is about, by type: the subject's fields, in this order.
TOPIC_FIELDS: dict[str, tuple[str, ...]] = {
    "verification": ("base", "element", "rule", "key_kind", "key"),
    "share": ("dataset", "consumer", "purpose"),
    "feedback": ("dataset", "field", "record_key"),
    "demand": ("description",),
    "open_request": ("dataset", "title"),
    "catalog_change": ("resource",),
}


def line_of(record: requests.Record) -> dict[str, Any]:
    """A request as an inbox or dashboard line (JSON-ready), with what it is about."""
    subject = record["subject"]
    topic = [str(subject[f]) for f in TOPIC_FIELDS.get(record["type"], ()) if subject.get(f)]
    return {
        "id": record["id"],
        "type": record["type"],
        "state": record["state"],
        "topic": " · ".join(topic),
        "subject": subject,
        "departments": record["departments"],
        "opened_on": record["opened_on"],
        "due_on": record["due_on"],
        "due_provisional": record["due_provisional"],
        "workdays_left": record["workdays_left"],
        "is_overdue": record["is_overdue"],
        "extensions": record["extensions"],
        "escalated_to": record["escalated_to"],
        # an extension the department asked, waiting for the bureau (verification)
        "extension_asked": record["type"] == "verification"
        and bool((record["facts"].get("workflow") or {}).get("extension_request")),
    }


def inbox_of(settings: Settings, department: str, today: dt.date | None = None) -> list[dict]:
    """The open requests ``department`` must act on (see the module doc), as JSON-ready dicts."""
    calendar = get_calendar(default_override_paths(settings))
    escalated_to = (load_verification_settings(settings.schemas_root).escalate_to,)
    with reading(settings) as session:
        records = requests.inbox(
            session,
            department,
            today=today or settings.today(),
            calendar=calendar,
            escalated_to=escalated_to,
        )
    return [line_of(r) for r in records]


def dashboard_of(
    settings: Settings, department: str, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Open and overdue requests per department: every department for the bureau, its own line
    for any other."""
    with reading(settings) as session:
        return requests.dashboard(
            session,
            today=today or settings.today(),
            departments=None if department == BUREAU else [department],
        )
