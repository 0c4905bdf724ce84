"""Rectification tasks (整改任务) to the providing department, with working-day deadlines.

When a batch fails an expectation (beyond its threshold, critical or warning), the department
that delivered the resource gets a task: fix the problem data and deliver it again within the
policy profile's rectification working days (泰州 7 wd, 001 §12; 镇海 5 wd, 002 §18), counted on
the official calendar from the day the problem was detected (that day does not count). Where
the regulation is silent (鹤壁, 云阳, 抚顺) govlake uses the same profile's verification
deadline (校核, 10 wd), the closest rule in force for a department answering for its own data;
the task says which rule gave its deadline. A deadline over a year without an official holiday
schedule is marked provisional, and counted again from ``detected_on`` (the task keeps its
``workdays``) once the official calendar covers it (:func:`recount_provisional`): at the next
batch of the resource, audited, and in ``govlake quality tasks`` as it is shown.

One task per (resource, expectation) is open at a time: later failures of the same expectation
are added to it (``failures``, ``last_failed_batch_id``). Status: ``open`` → ``overdue`` once the
deadline has passed → ``closed`` when a later batch of the same resource passes the same
expectation (``closed_late`` says whether that came after the deadline).

``governance/rectification_tasks``: one row per task, rewritten per resource on every run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

import pyarrow as pa

from jobs.lake import ledger
from jobs.lake.registry import RECTIFICATION_TASKS
from jobs.policy import PolicyProfile
from jobs.policy.workdays import WorkdayCalendar
from jobs.quality.metrics import Outcome
from jobs.settings import Settings

UNRESOLVED = frozenset({"open", "overdue"})

TASKS_SCHEMA = pa.schema(
    [
        ("task_id", pa.string()),
        ("department", pa.string()),
        ("resource", pa.string()),
        ("expectation", pa.string()),
        ("dimension", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),  # open | overdue | closed
        ("opened_batch_id", pa.string()),
        ("last_failed_batch_id", pa.string()),
        ("failures", pa.int64()),
        ("unexpected", pa.int64()),
        ("message", pa.string()),
        ("detected_on", pa.date32()),
        ("deadline", pa.date32()),
        ("deadline_provisional", pa.bool_()),
        ("workdays", pa.int64()),
        ("workdays_source", pa.string()),
        ("profile", pa.string()),
        ("closed_batch_id", pa.string()),
        ("closed_on", pa.date32()),
        ("closed_late", pa.bool_()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclasses.dataclass(frozen=True)
class Rule:
    """How many working days a department has, and where the number comes from."""

    workdays: int
    source: str


def rectification_rule(profile: PolicyProfile) -> Rule:
    """The profile's rectification working days, or its verification days where it is silent."""
    if profile.rectification_workdays is not None:
        provision = profile.provision("rectification_workdays")
        return Rule(profile.rectification_workdays, provision.source or f"profile {profile.name}")
    return Rule(
        profile.verification_workdays,
        f"profile {profile.name} sets no rectification deadline; "
        "its verification deadline (校核) is used",
    )


def task_id(resource_id: str, expectation: str, batch_id: str) -> str:
    """Stable id: the same failure detected again (a re-run) is the same task."""
    return hashlib.sha256(f"{resource_id}|{expectation}|{batch_id}".encode()).hexdigest()[:16]


def _failure_text(resource_id: str, batch_id: str, outcome: Outcome) -> str:
    if outcome.level == "table":
        what = f"observed {outcome.observed}"
    else:
        fraction = outcome.unexpected_fraction or 0.0
        what = f"{outcome.unexpected}/{outcome.considered} rows ({fraction:.2%})"
    return f"{resource_id}: {outcome.name} failed in batch {batch_id}: {what}"


def plan_tasks(
    existing: Sequence[dict],
    resource_id: str,
    batch_id: str,
    outcomes: Iterable[Outcome],
    detected_on: dt.date,
    now: dt.datetime,
    profile: PolicyProfile,
    calendar: WorkdayCalendar,
) -> list[dict]:
    """The resource's tasks after one batch: new tasks for new failures, repeated failures
    added to their open task, tasks closed where the batch passed their expectation, then
    overdue refreshed as of ``detected_on``. Pure: no I/O, so deadlines are testable alone.
    """
    department, resource = resource_id.split(".", 1)
    rule = rectification_rule(profile)
    tasks = recount_provisional(existing, calendar, now)
    unresolved = {t["expectation"]: t for t in tasks if t["status"] in UNRESOLVED}
    for outcome in outcomes:
        task = unresolved.get(outcome.name)
        if outcome.failed:
            if task is not None:
                if task["last_failed_batch_id"] != batch_id:
                    task["failures"] += 1
                task.update(
                    last_failed_batch_id=batch_id,
                    unexpected=outcome.unexpected,
                    message=_failure_text(resource_id, batch_id, outcome),
                    updated_at=now,
                )
                continue
            deadline = calendar.add_workdays(detected_on, rule.workdays)
            new = {
                "task_id": task_id(resource_id, outcome.name, batch_id),
                "department": department,
                "resource": resource,
                "expectation": outcome.name,
                "dimension": outcome.dimension,
                "severity": outcome.severity,
                "status": "open",
                "opened_batch_id": batch_id,
                "last_failed_batch_id": batch_id,
                "failures": 1,
                "unexpected": outcome.unexpected,
                "message": _failure_text(resource_id, batch_id, outcome),
                "detected_on": detected_on,
                "deadline": deadline.date,
                "deadline_provisional": deadline.provisional,
                "workdays": rule.workdays,
                "workdays_source": rule.source,
                "profile": profile.name,
                "closed_batch_id": None,
                "closed_on": None,
                "closed_late": None,
                "updated_at": now,
            }
            if all(t["task_id"] != new["task_id"] for t in tasks):
                tasks.append(new)
                unresolved[outcome.name] = new
        elif (
            outcome.status == "passed" and task is not None and task["opened_batch_id"] != batch_id
        ):
            task.update(
                status="closed",
                closed_batch_id=batch_id,
                closed_on=detected_on,
                closed_late=detected_on > task["deadline"],
                updated_at=now,
            )
            del unresolved[outcome.name]
    return refresh_overdue(tasks, detected_on, now)


def recount_provisional(
    tasks: Sequence[dict], calendar: WorkdayCalendar, now: dt.datetime | None = None
) -> list[dict]:
    """Unresolved tasks whose provisional deadline the official ``calendar`` now covers, counted
    again: ``workdays`` after ``detected_on``, no longer provisional. A task overdue only under
    the provisional date is open again (its status is a view of its deadline, which
    :func:`refresh_overdue` renews); the others are returned as they are."""
    out = []
    for task in tasks:
        task = dict(task)
        if task["status"] in UNRESOLVED and task["deadline_provisional"]:
            deadline = calendar.add_workdays(task["detected_on"], task["workdays"])
            if not deadline.provisional:
                task.update(deadline=deadline.date, deadline_provisional=False, status="open")
                if now is not None:
                    task["updated_at"] = now
        out.append(task)
    return out


def recount_entries(before: Sequence[dict], after: Sequence[dict]) -> list[dict]:
    """Audit entries for the tasks whose provisional deadline in ``before`` ``after`` counted
    again on the official calendar (:func:`recount_provisional`): a date a department sees never
    changes silently."""
    provisional = {t["task_id"]: t for t in before if t["deadline_provisional"]}
    return [
        {
            "action": "rectification_deadline_recounted",
            "actor": "system",
            "target": f"{RECTIFICATION_TASKS.path}/{t['task_id']}",
            "detail": {
                "from": provisional[t["task_id"]]["deadline"].isoformat(),
                "to": t["deadline"].isoformat(),
                "why": f"{t['workdays']} working day(s) after {t['detected_on']} on the "
                "official calendar",
            },
        }
        for t in after
        if t["task_id"] in provisional and not t["deadline_provisional"]
    ]


def refresh_overdue(
    tasks: Sequence[dict], today: dt.date, now: dt.datetime | None = None
) -> list[dict]:
    """Open tasks whose deadline has passed become ``overdue`` (the deadline day itself is
    still on time)."""
    out = []
    for task in tasks:
        task = dict(task)
        if task["status"] == "open" and today > task["deadline"]:
            task["status"] = "overdue"
            if now is not None:
                task["updated_at"] = now
        out.append(task)
    return out


def read_tasks(
    settings: Settings, department: str | None = None, resource: str | None = None
) -> list[dict]:
    """Tasks as dicts (all, or one department's, or one resource's), read with delta-rs."""
    filters = [("department", "=", department)] if department else []
    if resource:
        filters.append(("resource", "=", resource))
    return ledger.read_rows(RECTIFICATION_TASKS.uri(settings), filters=filters or None)


def write_tasks(settings: Settings, resource_id: str, tasks: list[dict]) -> None:
    """Replaces the resource's tasks with ``tasks`` in one delta-rs commit (idempotent)."""
    department, resource = resource_id.split(".", 1)
    for task in tasks:
        if task["department"] != department or task["resource"] != resource:
            raise ValueError(f"task {task['task_id']} is not a task of {resource_id}")
    ledger.overwrite_where(
        RECTIFICATION_TASKS.uri(settings),
        pa.Table.from_pylist(tasks, schema=TASKS_SCHEMA),
        f"department = '{department}' AND resource = '{resource}'",
    )
