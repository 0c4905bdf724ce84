"""Conflicts and verification deadlines report (数据冲突与校核时限).

Pure: rows of ``governance/verification_tickets`` (one per ticket) and ``governance/conflicts``
(one per issue of the latest build) in, a view model out. Working days are counted on the
official calendar handed in (:class:`jobs.policy.workdays.WorkdayCalendar`).

A ticket is assigned to one or more departments (those whose value differs from the surviving
one), so per-department counts add up to each department's own total, and the sum over
departments can exceed the number of tickets; the page says how many tickets have more than
one department.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup

from jobs.govern.tickets import CLOSED_STATES, OPEN_STATES
from jobs.policy.workdays import WorkdayCalendar
from jobs.reports import charts
from jobs.reports.labels import TICKET_STATE_LABELS, DepartmentName, Directory

STATES: tuple[str, ...] = (*OPEN_STATES, *CLOSED_STATES)
#: Rows in the upcoming-deadline table and timeline; the rest are counted, not listed.
UPCOMING_LIMIT = 20
TIMELINE_LIMIT = 25


def is_past_deadline(ticket: Mapping, today: dt.date) -> bool:
    """Unanswered and its deadline has passed: late, whether or not the daily deadline check
    has already moved it to ``overdue``."""
    deadline = ticket.get("deadline")
    return ticket["state"] in OPEN_STATES and deadline is not None and deadline < today


def was_closed_on_time(ticket: Mapping) -> bool | None:
    """True/False for a closed ticket (answered by its deadline, extensions included); None
    while it is still open or for a ticket without a deadline."""
    if ticket["state"] not in CLOSED_STATES or ticket.get("deadline") is None:
        return None
    closed_on = ticket.get("closed_on")
    return closed_on is not None and closed_on <= ticket["deadline"]


@dataclass(frozen=True)
class DepartmentTickets:
    department: DepartmentName
    by_state: dict[str, int]  # every state in STATES
    past_deadline: int
    ever_extended: int
    closed_on_time: int
    closed_late: int

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def unanswered(self) -> int:
        return sum(self.by_state[s] for s in OPEN_STATES)


@dataclass(frozen=True)
class DeadlineLine:
    ticket_id: str
    departments: str
    subject: str  # base · element (or rule) · key
    state: str
    state_label: str
    opened_on: str
    deadline: str
    deadline_provisional: bool
    extensions: int
    workdays_left: int  # negative: working days late


@dataclass(frozen=True)
class DisputedLine:
    base: str
    topic: str  # the disputed data element, or the anomaly rule
    issue_type: str
    issues: int
    with_open_ticket: int


@dataclass(frozen=True)
class VerificationReport:
    today: str
    tickets_total: int
    tickets_by_state: dict[str, int]
    multi_department_tickets: int
    departments: list[DepartmentTickets]
    overdue: list[DeadlineLine]
    upcoming: list[DeadlineLine]
    upcoming_not_listed: int
    disputed: list[DisputedLine]
    issues_total: int
    state_chart: Markup
    timeline_chart: Markup
    disputed_chart: Markup
    state_labels: Mapping[str, str]


def _subject(ticket: Mapping) -> str:
    topic = ticket.get("element") or ticket.get("rule") or "—"
    return f"{ticket.get('base') or '—'} · {topic} · {ticket.get('key') or '—'}"


def _line(ticket: Mapping, today: dt.date, calendar: WorkdayCalendar) -> DeadlineLine:
    deadline = ticket["deadline"]
    return DeadlineLine(
        ticket_id=ticket["ticket_id"],
        departments=", ".join(ticket.get("assigned_departments") or []) or "—",
        subject=_subject(ticket),
        state=ticket["state"],
        state_label=TICKET_STATE_LABELS.get(ticket["state"], ticket["state"]),
        opened_on=ticket["opened_on"].isoformat() if ticket.get("opened_on") else "—",
        deadline=deadline.isoformat(),
        deadline_provisional=bool(ticket.get("deadline_provisional")),
        extensions=int(ticket.get("extensions") or 0),
        workdays_left=calendar.workdays_between(today, deadline),
    )


def _department_tickets(
    name: DepartmentName, tickets: list[Mapping], today: dt.date
) -> DepartmentTickets:
    by_state = dict.fromkeys(STATES, 0)
    for t in tickets:
        by_state[t["state"]] = by_state.get(t["state"], 0) + 1
    closed = [was_closed_on_time(t) for t in tickets]
    return DepartmentTickets(
        department=name,
        by_state=by_state,
        past_deadline=sum(1 for t in tickets if is_past_deadline(t, today)),
        ever_extended=sum(1 for t in tickets if (t.get("extensions") or 0) > 0),
        closed_on_time=sum(1 for c in closed if c is True),
        closed_late=sum(1 for c in closed if c is False),
    )


def _disputed(conflicts: Iterable[Mapping], tickets: list[Mapping]) -> list[DisputedLine]:
    """Issues of the latest build by base and topic; without a conflicts table (not built yet)
    the tickets stand in, since every issue has a ticket."""
    rows = list(conflicts) or [
        {**t, "ticket_state": t["state"], "issue_type": t.get("issue_type")} for t in tickets
    ]
    grouped: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        topic = row.get("element") if row.get("issue_type") == "conflict" else row.get("rule")
        key = (
            row.get("base") or "—",
            topic or row.get("element") or "—",
            row.get("issue_type") or "—",
        )
        counts = grouped.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += row.get("ticket_state") in OPEN_STATES
    lines = [DisputedLine(b, t, i, n, o) for (b, t, i), (n, o) in grouped.items()]
    return sorted(lines, key=lambda d: (-d.with_open_ticket, -d.issues, d.base, d.topic))


def build_verification_report(
    tickets: Iterable[Mapping],
    conflicts: Iterable[Mapping],
    directory: Directory,
    today: dt.date,
    calendar: WorkdayCalendar,
) -> VerificationReport:
    """The conflicts and verification report's view model (see the module docstring)."""
    tickets = [dict(t) for t in tickets]
    assigned: dict[str, list[Mapping]] = {}
    for t in tickets:
        for code in t.get("assigned_departments") or ["—"]:
            assigned.setdefault(code, []).append(t)
    codes = directory.department_codes(*assigned)
    departments = [
        _department_tickets(directory.department(c), assigned.get(c, []), today) for c in codes
    ]
    unanswered = sorted(
        (t for t in tickets if t["state"] in OPEN_STATES and t.get("deadline") is not None),
        key=lambda t: (t["deadline"], t["ticket_id"]),
    )
    upcoming_all = [t for t in unanswered if t["deadline"] >= today]
    upcoming = [_line(t, today, calendar) for t in upcoming_all[:UPCOMING_LIMIT]]
    by_state = dict.fromkeys(STATES, 0)
    for t in tickets:
        by_state[t["state"]] = by_state.get(t["state"], 0) + 1
    disputed = _disputed(conflicts, tickets)
    overdue_tickets = [t for t in unanswered if t["deadline"] < today]
    spans = [
        charts.Span(
            label=f"{', '.join(t.get('assigned_departments') or []) or '—'} · "
            f"{t.get('element') or t.get('rule') or '—'}",
            start=t.get("opened_on") or today,
            end=t["deadline"],
            css="overdue"
            if t["deadline"] < today
            else ("extended" if t.get("extensions") else "due"),
            note=TICKET_STATE_LABELS.get(t["state"], t["state"]),
        )
        for t in (overdue_tickets + upcoming_all)[:TIMELINE_LIMIT]
    ]
    state_css = {
        "open": "open",
        "extended": "extended",
        "overdue": "overdue",
        "escalated": "escalated",
        "resolved": "resolved",
        "confirmed": "confirmed",
        # answered, waiting for the build (corrected) or the bureau (disputed)
        "corrected": "extended",
        "disputed": "escalated",
    }
    return VerificationReport(
        today=today.isoformat(),
        tickets_total=len(tickets),
        tickets_by_state=by_state,
        multi_department_tickets=sum(
            1 for t in tickets if len(t.get("assigned_departments") or []) > 1
        ),
        departments=departments,
        overdue=[_line(t, today, calendar) for t in overdue_tickets],
        upcoming=upcoming,
        upcoming_not_listed=max(len(upcoming_all) - UPCOMING_LIMIT, 0),
        disputed=disputed,
        issues_total=sum(d.issues for d in disputed),
        state_chart=charts.stacked_bar_chart(
            [
                (
                    d.department.short,
                    [
                        charts.Segment(TICKET_STATE_LABELS[s], d.by_state[s], state_css[s])
                        for s in STATES
                    ],
                )
                for d in departments
            ],
            title="Verification tickets per department by state",
        )
        if tickets
        else Markup(""),
        timeline_chart=charts.timeline(spans, today=today, title="Verification deadlines"),
        disputed_chart=charts.bar_chart(
            [f"{d.base} · {d.topic}" for d in disputed[:15]],
            [float(d.with_open_ticket) for d in disputed[:15]],
            title="Disputed attributes: issues with an open ticket",
            max_value=float(max((d.with_open_ticket for d in disputed), default=0)) or 1.0,
            fmt=lambda v: "—" if v is None else f"{v:.0f}",
        )
        if disputed
        else Markup(""),
        state_labels=TICKET_STATE_LABELS,
    )
