"""The demand list (需求清单) as a report: every data demand, who asked whom, and where it stands.

鹤壁 000 §8: the bureau reviews and collects the departments' demand lists; 泰州 001 §11: a demand
is answered within the profile's working days and, accepted, delivered within the next ones. Pure:
the demands of the request model (:mod:`jobs.share.demands`) in, a view model out; a demand whose
due date has passed unanswered or undelivered is shown as overdue (the deadline check of the
request model marks and escalates it; this report only reads the dates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobs.reports.labels import DepartmentName, Directory
from jobs.share.demands import DemandCounts, demand_counts

DEMAND_STATE_LABELS: dict[str, str] = {
    "submitted": "待答复 awaiting answer",
    "accepted": "待交付 accepted, awaiting delivery",
    "delivered": "已交付 delivered",
    "refused": "不予提供 refused",
}


@dataclass(frozen=True)
class DemandLine:
    request_id: str
    requester: DepartmentName
    holder: DepartmentName
    description: str
    fields: list[str]
    purpose: str
    legal_basis: str
    state: str
    state_label: str
    opened_on: str
    due_on: str
    due_provisional: bool
    is_overdue: bool
    outcome: str


@dataclass(frozen=True)
class DemandReport:
    lines: list[DemandLine]
    by_state: dict[str, int]
    per_holder: list[tuple[DepartmentName, DemandCounts]]
    year: int

    @property
    def total(self) -> int:
        return len(self.lines)

    @property
    def overdue(self) -> int:
        return sum(1 for line in self.lines if line.is_overdue)


def _outcome(record: Mapping[str, Any]) -> str:
    facts = record["facts"]
    if record["state"] == "delivered":
        link = facts.get("delivered_as") or {}
        return f"{link.get('kind', '')} {link.get('id', '')}: {record['close_reason'] or ''}"
    if record["state"] == "refused":
        return f"{record['close_reason'] or ''} ({facts.get('refusal_legal_basis') or '—'})"
    return "—"


def build_demand_report(
    records: Iterable[Mapping[str, Any]], directory: Directory, today: dt.date
) -> DemandReport:
    """The demand list's view model: newest demand first, counts per state and per holder for
    ``today``'s year."""
    records = sorted(records, key=lambda r: (r["opened_on"], r["id"]), reverse=True)
    lines = []
    by_state = dict.fromkeys(DEMAND_STATE_LABELS, 0)
    for r in records:
        by_state[r["state"]] = by_state.get(r["state"], 0) + 1
        due = r["due_on"]
        lines.append(
            DemandLine(
                request_id=r["id"],
                requester=directory.department(r["requester_department"] or ""),
                holder=directory.department(r["departments"][0] if r["departments"] else ""),
                description=r["subject"]["description"],
                fields=list(r["subject"].get("fields") or []),
                purpose=r["facts"].get("purpose", ""),
                legal_basis=r["facts"].get("legal_basis", ""),
                state=r["state"],
                state_label=DEMAND_STATE_LABELS.get(r["state"], r["state"]),
                opened_on=r["opened_on"].isoformat(),
                due_on=due.isoformat() if due else "—",
                due_provisional=bool(r["due_provisional"]),
                is_overdue=r["closed_on"] is None and due is not None and today > due,
                outcome=_outcome(r),
            )
        )
    counts = demand_counts(records, today.year, today)
    return DemandReport(
        lines=lines,
        by_state=by_state,
        per_holder=[(directory.department(code), c) for code, c in counts.items()],
        year=today.year,
    )
