"""Error feedback (数据纠错) becomes a rectification task (整改) for the providing department.

镇海 002 §18: the provider is responsible for its data's quality and handles the errors and
omissions its users report within 5 working days of the report; 泰州 001 §12 gives a
rectification task 7. A department that received data through a share grant flags one value
(dataset, record key, field, what is wrong, the value it expects); the department that provides
the dataset (the bureau for a base database) must answer within the profile's
``rectification_workdays``, the same rule, with the same fallback where a profile is silent, as
the rectification tasks of the quality checks (:func:`jobs.quality.rectification.rectification_rule`).
It answers ``fixed`` (已更正: what it changed) or ``not_an_error`` (非错误: why the value stands);
either needs its reason.

States (type ``feedback`` of the request model, :mod:`jobs.store.requests`)::

    open ──fixed──────▶ fixed
      └──not_an_error──▶ not_an_error

Overdue and escalation are the request model's, over every procedure; this module does not
count them. :func:`as_rectification_tasks` shows the requests as rows of the quality checks'
rectification tasks, so the quality report lists both alike, and :func:`feedback_counts` gives the
yearly evaluation its per-department figures (received, fixed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobs.govern import procedure
from jobs.govern.procedure import ProcedureError
from jobs.policy import load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.quality.rectification import rectification_rule
from jobs.settings import Settings
from jobs.share.grants import is_active, provider_of, read_grants
from jobs.store import requests
from jobs.store.requests import Machine
from jobs.store.roles import BUREAU, Actor, require

OPEN, FIXED, NOT_AN_ERROR = "open", "fixed", "not_an_error"
ANSWERS = (FIXED, NOT_AN_ERROR)

#: Error feedback's transitions: action → (states it may start from, state it leads to).
FEEDBACK = Machine(
    type="feedback",
    transitions={
        "filed": ((), OPEN),
        FIXED: ((OPEN,), FIXED),
        NOT_AN_ERROR: ((OPEN,), NOT_AN_ERROR),
    },
    open_states=(OPEN,),
    closed_states=ANSWERS,
)

MAX_TEXT = 500


@dataclass(frozen=True)
class Flag:
    """What a consumer flags: one value of one record of a dataset it received."""

    dataset: str
    record_key: str
    field: str
    problem: str
    suggested_value: str | None = None


def _granted_fields(settings: Settings, department: str, dataset: str, today: dt.date) -> set[str]:
    grants = read_grants(settings, [("consumer", "=", department), ("dataset", "=", dataset)])
    return {f for g in grants if is_active(g, today) for f in g["fields"]}


def file_feedback(settings: Settings, flag: Flag, *, by: Actor) -> requests.Record:
    """Files the feedback of ``by``'s department and opens the provider's rectification task,
    due the profile's rectification working days after today.

    Raises:
        Forbidden: ``by`` may not file feedback for its department.
        ProcedureError: its department holds no active grant of the dataset with that field, or
            something is missing.
    """
    require(by, "feedback.file", by.department)
    problem = procedure.require_reason(flag.problem, "what is wrong")
    if not flag.record_key.strip():
        raise ProcedureError("say which record (its key)")
    today, now = settings.today(), settings.now()
    if flag.field not in _granted_fields(settings, by.department, flag.dataset, today):
        raise ProcedureError(
            f"{by.department} holds no active grant of {flag.dataset} with the field "
            f"{flag.field!r}: feedback is given on data received"
        )
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    rule = rectification_rule(profile)
    calendar = get_calendar(default_override_paths(settings))
    provider = provider_of(settings, flag.dataset)
    record = procedure.new_record(
        FEEDBACK,
        by=by,
        departments=[provider],
        subject={"dataset": flag.dataset, "record_key": flag.record_key, "field": flag.field},
        facts={
            "problem": problem,
            "suggested_value": flag.suggested_value,
            "workdays": rule.workdays,
            "workdays_source": rule.source,
            "profile": profile.name,
        },
        state=OPEN,
        today=today,
        now=now,
        due_on=procedure.due(calendar, today, rule.workdays),
    )
    first = procedure.event(record, "filed", None, by=by, why=problem, now=now, on=today)
    return procedure.file(settings, FEEDBACK, record, first)


def answer_feedback(
    settings: Settings, request_id: str, answer: str, *, by: Actor, why: str
) -> requests.Record:
    """The provider's answer: ``fixed`` or ``not_an_error``, with its reason.

    Raises:
        Forbidden: ``by`` does not act for the providing department.
        ProcedureError: an unknown answer, no reason, or the feedback is answered already.
    """
    if answer not in ANSWERS:
        raise ProcedureError(f"answer {' or '.join(ANSWERS)}, not {answer!r}")
    reason = procedure.require_reason(why)
    today, now = settings.today(), settings.now()

    def decision(record: requests.Record) -> tuple[requests.Record, requests.Event]:
        if record["state"] != OPEN:
            raise ProcedureError(f"feedback {record['id']} is answered already ({record['state']})")
        after = procedure.closed(record, answer, by=by, why=reason, now=now, on=today)
        return after, procedure.event(after, answer, OPEN, by=by, why=reason, now=now, on=today)

    return procedure.decide(
        settings,
        FEEDBACK,
        request_id,
        by=by,
        permission="feedback.answer",
        decision=decision,
    )


def feedback_of(settings: Settings, department: str) -> dict[str, list[requests.Record]]:
    """What a department filed (``filed``) and what it must answer (``received``), newest first;
    the bureau sees every request in ``received``."""
    records = list(reversed(procedure.load(settings, FEEDBACK)))
    return {
        "filed": [r for r in records if r["requester_department"] == department],
        "received": [r for r in records if department == BUREAU or department in r["departments"]],
    }


# --- what the reports read (pure) -------------------------------------------------------------


def as_rectification_tasks(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Feedback requests as rows of ``governance/rectification_tasks`` (the quality checks'
    tasks): department and resource of the dataset, status ``open`` or ``closed``."""
    rows = []
    for r in records:
        dataset = r["subject"]["dataset"]
        department, _, resource = dataset.rpartition(".")
        facts = r["facts"]
        rows.append(
            {
                "task_id": r["id"],
                "department": r["departments"][0] if r["departments"] else department,
                "resource": resource,
                "expectation": f"数据纠错 feedback: {r['subject']['field']}",
                "dimension": "accuracy",
                "severity": "feedback",
                "status": OPEN if r["state"] == OPEN else "closed",
                "detected_on": r["opened_on"],
                "deadline": r["due_on"],
                "deadline_provisional": r["due_provisional"],
                "workdays": facts.get("workdays"),
                "workdays_source": facts.get("workdays_source"),
                "message": f"{r['requester_department']}: {facts.get('problem', '')}",
                "closed_on": r["closed_on"],
                "closed_late": None
                if r["closed_on"] is None or r["due_on"] is None
                else r["closed_on"] > r["due_on"],
            }
        )
    return rows


@dataclass(frozen=True)
class FeedbackCounts:
    """One providing department's feedback of a year: received, and how it was answered."""

    received: int = 0
    fixed: int = 0
    not_an_error: int = 0
    answered_on_time: int = 0


def feedback_counts(
    records: Iterable[Mapping[str, Any]], year: int, as_of: dt.date
) -> dict[str, FeedbackCounts]:
    """Per providing department: feedback received in ``year`` up to ``as_of``, and of it how
    much was fixed, found not to be an error, and answered by its due date."""

    def tally(r: Mapping[str, Any]) -> list[str]:
        if r["state"] not in ANSWERS:
            return []
        return [r["state"], *(["answered_on_time"] if procedure.answered_on_time(r) else [])]

    counts = procedure.yearly_tally(records, year, as_of, FeedbackCounts.__annotations__, tally)
    return {d: FeedbackCounts(**c) for d, c in counts.items()}
