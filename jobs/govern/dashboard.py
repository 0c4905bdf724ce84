"""The department dashboard (部门看板): per department, its open requests by type, the working
days left and the overdue ones first; the bureau sees every department, any other department
only its own.

Generic over the request model: a new procedure's requests show here by their ``type`` without
a line of code. Working days are counted on the official calendar from the bureau's today; a due
date in a year without an announced calendar is flagged provisional (``due_provisional``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.govern.inbox import line_of
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.store import requests
from jobs.store.db import reading
from jobs.store.roles import BUREAU


def _urgency(line: dict[str, Any]) -> tuple:
    return (not line["is_overdue"], line["due_on"] or dt.date.max, line["opened_on"], line["id"])


def _by_type(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per request type: open, overdue, escalated and provisional counts, the nearest
    due date and the fewest working days left."""
    rows: dict[str, dict[str, Any]] = {}
    for line in lines:
        row = rows.setdefault(
            line["type"],
            {
                "type": line["type"],
                "open": 0,
                "overdue": 0,
                "escalated": 0,
                "provisional": 0,
                "next_due_on": None,
                "fewest_workdays_left": None,
            },
        )
        row["open"] += 1
        row["overdue"] += line["is_overdue"]
        row["escalated"] += line["escalated_to"] is not None
        row["provisional"] += bool(line["due_provisional"])
        if line["due_on"] is not None and (
            row["next_due_on"] is None or line["due_on"] < row["next_due_on"]
        ):
            row["next_due_on"] = line["due_on"]
            row["fewest_workdays_left"] = line["workdays_left"]
    return sorted(rows.values(), key=lambda r: (-r["overdue"], -r["open"], r["type"]))


def department_dashboard(
    settings: Settings, department: str, today: dt.date | None = None
) -> dict[str, Any]:
    """The dashboard as ``department`` sees it (see the module doc), JSON-ready: ``departments``
    most overdue first, each with ``by_type`` and its ``requests`` overdue first, then by due date."""
    today = today or settings.today()
    calendar = get_calendar(default_override_paths(settings))
    shown = None if department == BUREAU else {department}
    with reading(settings) as session:
        records = requests.open_requests(session, shown)
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        due = record["due_on"]
        record["workdays_left"] = None if due is None else calendar.workdays_between(today, due)
        record["is_overdue"] = due is not None and today > due
        line = line_of(record)
        for code in record["departments"] or [BUREAU]:
            if shown is None or code in shown:
                lines_of.setdefault(code, []).append(line)
    departments = [
        {
            "department": code,
            "open": len(lines),
            "overdue": sum(1 for line in lines if line["is_overdue"]),
            "by_type": _by_type(lines),
            "requests": sorted(lines, key=_urgency),
        }
        for code, lines in lines_of.items()
    ]
    departments.sort(key=lambda d: (-d["overdue"], -d["open"], d["department"]))
    return {
        "department": department,
        "today": today,
        "sees_all_departments": shown is None,
        "departments": departments,
    }
