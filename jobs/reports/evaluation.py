"""Yearly evaluation per department (年度评估): provision, freshness, quality, conflicts,
verification on time and shares served.

鹤壁 000 §17 asks the bureau to evaluate every year how each department provides and uses shared
data; 云阳 003 §45–46 adds collection (汇聚), sharing, use and security, with a yearly report by
mid-January. The evaluation method (评价办法) and its weights are the bureau's, so this report
shows the measures side by side and invents no composite score or ranking.

Pure: ledger rows in, a view model out. Measures for year Y count what happened in Y up to the
report's date (``as_of``), so a report built mid-year is a year-to-date view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from jobs.ingest.accounting import latest_outcomes
from jobs.reports import charts
from jobs.reports.labels import (
    UPDATE_FREQUENCY_DAYS,
    UPDATE_FREQUENCY_LABELS,
    DepartmentName,
    Directory,
)
from jobs.reports.procedures import ProcedureCounts, corrections_made, procedure_counts
from jobs.reports.quality import mean
from jobs.reports.verification import is_past_deadline, was_closed_on_time
from jobs.share.demands import DemandCounts, demand_counts
from jobs.share.feedback import FeedbackCounts, feedback_counts

#: Columns that may name the providing department in a share table, in order of preference.
SHARE_DEPARTMENT_COLUMNS = (
    "provider_department",
    "providing_department",
    "source_department",
    "department",
)
#: Columns that may hold a resource id ``dept.resource``, from which the provider follows.
SHARE_RESOURCE_COLUMNS = ("resource_id", "resource", "dataset")
SHARE_STATUS_COLUMNS = ("status", "state", "decision")
#: Statuses that mean a share was actually served (a grant in force or delivered).
#: When a share was decided; rows decided outside the evaluation year are not counted.
SHARE_TIME_COLUMNS = ("decided_on", "decided_at", "granted_at", "created_at")
SERVED_STATUSES = frozenset({"granted", "approved", "active", "served", "delivered"})


def _on(value: dt.datetime | dt.date | None) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def _in_year(value: dt.datetime | dt.date | None, year: int, as_of: dt.date) -> bool:
    day = _on(value)
    return day is not None and day.year == year and day <= as_of


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ShareCounts:
    """Shares served per providing department, or why there are none to show."""

    by_department: dict[str, int] | None  # None: no usable share data
    source: str  # which table(s) and rule gave the numbers, or why there are none


def count_shares_served(
    share_tables: Mapping[str, Sequence[Mapping]], year: int, as_of: dt.date
) -> ShareCounts:
    """Counts served shares per providing department from whatever share tables exist.

    The share area (issue 7) owns the table layout; this reads it by column names it is likely
    to use, prefers a table named ``*grant*``, and says exactly what it counted. A row with a
    time column (``decided_at``, ``granted_at``, ``created_at``) outside the year is skipped.
    """
    if not share_tables:
        return ShareCounts(None, "暂无共享数据 no share data yet (no governance/share* table)")
    names = sorted(share_tables, key=lambda n: (0 if "grant" in n else 1, n))
    for name in names:
        rows = list(share_tables[name])
        columns = set().union(*(r.keys() for r in rows)) if rows else set()
        dept_col = next((c for c in SHARE_DEPARTMENT_COLUMNS if c in columns), None)
        res_col = next((c for c in SHARE_RESOURCE_COLUMNS if c in columns), None)
        if dept_col is None and res_col is None:
            continue
        status_col = next((c for c in SHARE_STATUS_COLUMNS if c in columns), None)
        time_col = next((c for c in SHARE_TIME_COLUMNS if c in columns), None)
        counts: dict[str, int] = {}
        bases = 0
        for row in rows:
            if status_col and str(row.get(status_col) or "").lower() not in SERVED_STATUSES:
                continue
            if (
                time_col
                and row.get(time_col) is not None
                and not _in_year(row[time_col], year, as_of)
            ):
                continue
            if dept_col:
                dept = row.get(dept_col)
            else:
                # A resource id names its department (dept.resource); a base database
                # (population, …) is shared by the bureau, not by one department.
                dataset = str(row.get(res_col) or "")
                dept = dataset.split(".", 1)[0] if "." in dataset else None
                bases += dept is None and bool(dataset)
            if dept:
                counts[dept] = counts.get(dept, 0) + 1
        rule = f"rows of governance/{name}" + (
            f" with {status_col} in {sorted(SERVED_STATUSES)}" if status_col else ""
        )
        rule += f", by {dept_col or res_col}"
        if bases:
            rule += f"; {bases} share(s) of base databases belong to no single department"
        return ShareCounts(counts, rule)
    return ShareCounts(
        None,
        "share tables found (" + ", ".join(names) + ") but none names a providing department; "
        "shares are not counted",
    )


@dataclass(frozen=True)
class ResourceFreshness:
    resource_id: str
    label: str
    update_frequency: str
    last_delivered_on: str
    days_since: int | None
    is_fresh: bool


@dataclass(frozen=True)
class DepartmentEvaluation:
    department: DepartmentName
    resources_in_catalog: int
    resources_provided: int
    files_delivered: int
    files_quarantined: int
    rows_delivered: int
    rows_to_pool: int
    rows_quarantined: int
    rows_duplicate: int
    rows_held: int
    freshness: list[ResourceFreshness]
    quality_mean: float | None
    batches_scored: int
    batches_held: int
    rectification_tasks: int
    tickets_opened: int
    tickets_closed: int
    tickets_closed_on_time: int
    tickets_past_deadline: int
    shares_served: int | None
    #: Error feedback (数据纠错) on its data, and data demands (需求清单) it was asked.
    feedback: FeedbackCounts = field(default_factory=FeedbackCounts)
    demands: DemandCounts = field(default_factory=DemandCounts)
    #: Requests of every procedure it had to answer, by type (jobs.reports.procedures).
    procedures: list[ProcedureCounts] = field(default_factory=list)
    #: Corrections of its own data it made (a verification ticket corrected).
    corrections: int = 0

    @property
    def resources_fresh(self) -> int:
        return sum(1 for r in self.freshness if r.is_fresh)

    @property
    def freshness_rate(self) -> float | None:
        return ratio(self.resources_fresh, len(self.freshness))

    @property
    def provision_rate(self) -> float | None:
        return ratio(self.resources_provided, self.resources_in_catalog)

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.tickets_closed_on_time, self.tickets_closed)

    @property
    def rows_accounted(self) -> int:
        return self.rows_to_pool + self.rows_quarantined + self.rows_duplicate + self.rows_held

    @property
    def has_activity(self) -> bool:
        return bool(
            self.files_delivered
            or self.batches_scored
            or self.tickets_opened
            or self.feedback.received
            or self.demands.received
            or self.procedures
        )


@dataclass(frozen=True)
class EvaluationReport:
    year: int
    as_of: str
    departments: list[DepartmentEvaluation]
    shares: ShareCounts
    provision_chart: Markup
    quality_chart: Markup
    on_time_chart: Markup


def _freshness(
    resource_id: str, label: str, frequency: str, deliveries: list[dt.date], as_of: dt.date
) -> ResourceFreshness:
    last = max(deliveries, default=None)
    days_since = None if last is None else (as_of - last).days
    allowed = UPDATE_FREQUENCY_DAYS.get(frequency)
    return ResourceFreshness(
        resource_id=resource_id,
        label=label,
        update_frequency=UPDATE_FREQUENCY_LABELS.get(frequency, frequency or "—"),
        last_delivered_on=last.isoformat() if last else "—",
        days_since=days_since,
        is_fresh=days_since is not None and allowed is not None and days_since <= allowed,
    )


def build_evaluation_report(
    *,
    ingest_files: Iterable[Mapping],
    pool_batches: Iterable[Mapping],
    scorecards: Iterable[Mapping],
    rectification_tasks: Iterable[Mapping],
    tickets: Iterable[Mapping],
    share_tables: Mapping[str, Sequence[Mapping]],
    directory: Directory,
    year: int,
    as_of: dt.date,
    feedback: Iterable[Mapping] = (),
    demands: Iterable[Mapping] = (),
    requests: Iterable[Mapping] = (),
    request_events: Sequence[Mapping] = (),
) -> EvaluationReport:
    """The yearly evaluation's view model (see the module docstring); ``feedback`` and
    ``demands`` are requests of the request model (jobs.share.feedback, jobs.share.demands),
    ``requests`` and ``request_events`` every request and event of it (counted per procedure:
    jobs.reports.procedures)."""
    as_of = min(as_of, dt.date(year, 12, 31))
    files = [
        f
        for f in ingest_files
        # rejected entries were never read; a destroyed mark repeats a file already counted
        if f["status"] not in {"rejected", "destroyed"} and _in_year(f["ingested_at"], year, as_of)
    ]
    outcomes = latest_outcomes(
        o for o in pool_batches if _in_year(o["decided_at"], year, as_of)
    ).values()
    # Freshness looks at every delivery up to the report date: a yearly resource delivered
    # last December is still fresh in March.
    delivered_on: dict[str, list[dt.date]] = {}
    for f in ingest_files:
        day = _on(f["ingested_at"])
        if f["status"] == "ingested" and day is not None and day <= as_of:
            delivered_on.setdefault(f"{f['department']}.{f['resource']}", []).append(day)
    cards = [s for s in scorecards if _in_year(s["scored_at"], year, as_of)]
    tasks = [t for t in rectification_tasks if _in_year(t.get("detected_on"), year, as_of)]
    year_tickets = [t for t in tickets if _in_year(t.get("opened_on"), year, as_of)]
    shares = count_shares_served(share_tables, year, as_of)
    feedback_of = feedback_counts(feedback, year, as_of)
    demands_of = demand_counts(demands, year, as_of)
    procedures_of = procedure_counts(requests, request_events, year, as_of)
    corrections_of = corrections_made(request_events, year, as_of)

    codes = directory.department_codes(
        *feedback_of,
        *demands_of,
        *procedures_of,
        *corrections_of,
        *(f["department"] for f in files),
        *(s["department"] for s in cards),
        *(d for t in year_tickets for d in t.get("assigned_departments") or []),
    )
    departments = []
    for code in codes:
        my_files = [f for f in files if f["department"] == code]
        my_outcomes = [o for o in outcomes if o["department"] == code]
        my_cards = [s for s in cards if s["department"] == code]
        my_tickets = [t for t in year_tickets if code in (t.get("assigned_departments") or [])]
        catalog_resources = directory.resources_of(code)
        seen = sorted(
            {f"{f['department']}.{f['resource']}" for f in my_files}
            - {r.resource_id for r in catalog_resources}
        )
        freshness = [
            _freshness(
                r.resource_id,
                r.label,
                r.update_frequency,
                delivered_on.get(r.resource_id, []),
                as_of,
            )
            for r in catalog_resources
        ] + [_freshness(rid, rid, "", delivered_on.get(rid, []), as_of) for rid in seen]
        closed = [c for c in (was_closed_on_time(t) for t in my_tickets) if c is not None]
        departments.append(
            DepartmentEvaluation(
                department=directory.department(code),
                resources_in_catalog=len(catalog_resources) or len(seen),
                resources_provided=len(
                    {f["resource"] for f in my_files if f["status"] == "ingested"}
                ),
                files_delivered=len(my_files),
                files_quarantined=sum(1 for f in my_files if f["status"] == "quarantined"),
                rows_delivered=sum(
                    int(f.get("bronze_rows") or 0) for f in my_files if f["status"] == "ingested"
                ),
                rows_to_pool=sum(int(o.get("pool_rows") or 0) for o in my_outcomes),
                rows_quarantined=sum(int(o.get("quarantined_rows") or 0) for o in my_outcomes),
                rows_duplicate=sum(int(o.get("duplicate_rows") or 0) for o in my_outcomes),
                rows_held=sum(int(o.get("held_rows") or 0) for o in my_outcomes),
                freshness=freshness,
                quality_mean=mean(s.get("overall") for s in my_cards),
                batches_scored=len(my_cards),
                batches_held=sum(1 for s in my_cards if s["status"] == "held"),
                rectification_tasks=sum(1 for t in tasks if t["department"] == code),
                tickets_opened=len(my_tickets),
                tickets_closed=len(closed),
                tickets_closed_on_time=sum(closed),
                tickets_past_deadline=sum(1 for t in my_tickets if is_past_deadline(t, as_of)),
                shares_served=None
                if shares.by_department is None
                else shares.by_department.get(code, 0),
                feedback=feedback_of.get(code, FeedbackCounts()),
                demands=demands_of.get(code, DemandCounts()),
                procedures=procedures_of.get(code, []),
                corrections=corrections_of.get(code, 0),
            )
        )
    labels = [d.department.short for d in departments]
    return EvaluationReport(
        year=year,
        as_of=as_of.isoformat(),
        departments=departments,
        shares=shares,
        provision_chart=charts.bar_chart(
            labels,
            [d.provision_rate for d in departments],
            title=f"{year}: share of catalog resources delivered",
        ),
        quality_chart=charts.bar_chart(
            labels,
            [d.quality_mean for d in departments],
            title=f"{year}: mean overall quality score of scored batches",
        ),
        on_time_chart=charts.bar_chart(
            labels,
            [d.on_time_rate for d in departments],
            title=f"{year}: verification tickets answered on time",
        ),
    )
