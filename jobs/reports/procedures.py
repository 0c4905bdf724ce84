"""Requests answered on time, per department and procedure, for the yearly evaluation
(000 §17, 003 §45–46): computed from the request model alone (type, acting departments, due
date, events), so a new procedure's requests count without a line of code.

A request is the acting departments' to answer. Its **answer** is the first event that moves it
to another state taken by an account of one of them (a share granted or refused, a ticket
confirmed, corrected or disputed, feedback fixed, a demand accepted …); what govlake does by rule
(``system``) and what another department does (the bureau resolving, approving an extension) are
not the department's answer. It is **on time** when given on or before the due date in force
just before it (an extension granted earlier counts). A **correction** is an answer of any
request that corrects the department's own data (state :data:`CORRECTION_STATES`).

Pure: the store's requests and events in, counts out. Requests are counted in the year they were
received, corrections in the year they were made, both up to ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Answers that correct the answering department's data (a verification ticket corrected).
CORRECTION_STATES = frozenset({"corrected"})
#: Who acts by rule (jobs.store.requests.SYSTEM): never a department's answer.
SYSTEM = "system"


@dataclass(frozen=True)
class ProcedureCounts:
    """One department's requests of one type, received in the year."""

    type: str
    received: int = 0
    answered: int = 0
    #: Answered on or before the due date (of those with one).
    answered_on_time: int = 0
    #: Answered where a due date was set (the base of the on-time rate).
    answered_with_due: int = 0
    #: Not answered, not closed, and past the due date on ``as_of``.
    open_past_due: int = 0
    escalated: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.answered_on_time / self.answered_with_due if self.answered_with_due else None


def first_answer(
    record: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, dt.date | None]:
    """The request's answer (see the module doc) and the due date in force just before it;
    (None, the request's due date) when it has none. ``events`` oldest first."""
    acting = set(record["departments"])
    due = None
    for event in events:
        is_answer = (
            event["from_state"] is not None
            and event["from_state"] != event["to_state"]
            and event["by"] != SYSTEM
            and event["by_department"] in acting
        )
        if is_answer:
            return event, due
        due = event["due_on"]
    return None, record["due_on"]


def _in_year(day: dt.date | None, year: int, as_of: dt.date) -> bool:
    return day is not None and day.year == year and day <= as_of


def procedure_counts(
    records: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    year: int,
    as_of: dt.date,
) -> dict[str, list[ProcedureCounts]]:
    """Department code → its :class:`ProcedureCounts`, one per request type, by type."""
    by_request: dict[str, list[Mapping[str, Any]]] = {}
    for event in sorted(events, key=lambda e: (e["at"], e.get("id") or 0)):
        if event["on"] <= as_of:
            by_request.setdefault(event["request_id"], []).append(event)
    tallies: dict[tuple[str, str], dict[str, int]] = {}
    for record in records:
        if not _in_year(record["opened_on"], year, as_of):
            continue
        answer, due = first_answer(record, by_request.get(record["id"], []))
        closed = record["closed_on"] is not None and record["closed_on"] <= as_of
        past_due = record["due_on"] is not None and record["due_on"] < as_of
        for code in record["departments"]:
            tally = tallies.setdefault((code, record["type"]), dict.fromkeys(_FIELDS, 0))
            tally["received"] += 1
            tally["escalated"] += record["escalated_to"] is not None
            if answer is None:
                tally["open_past_due"] += not closed and past_due
                continue
            tally["answered"] += 1
            if due is not None:
                tally["answered_with_due"] += 1
                tally["answered_on_time"] += answer["on"] <= due
    counts: dict[str, list[ProcedureCounts]] = {}
    for (code, type_), tally in sorted(tallies.items()):
        counts.setdefault(code, []).append(ProcedureCounts(type_, **tally))
    return counts


_FIELDS = (
    "received",
    "answered",
    "answered_on_time",
    "answered_with_due",
    "open_past_due",
    "escalated",
)


def corrections_made(
    events: Iterable[Mapping[str, Any]], year: int, as_of: dt.date
) -> dict[str, int]:
    """Department code → how many corrections its accounts made in the year (every one, also a
    second correction of a ticket found again)."""
    counts: dict[str, int] = {}
    for event in events:
        if (
            event["to_state"] in CORRECTION_STATES
            and event["from_state"] != event["to_state"]
            and event["by"] != SYSTEM
            and event["by_department"]
            and _in_year(event["on"], year, as_of)
        ):
            counts[event["by_department"]] = counts.get(event["by_department"], 0) + 1
    return counts
