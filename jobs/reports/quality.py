"""Quality scorecard report (质量评分卡): per department and resource, six dimensions over time.

Pure: rows of ``governance/quality_scorecards`` (one per department, resource and batch) and
``governance/rectification_tasks`` (one per task) in, a view model out. The latest batch of a
resource gives its current scores; every batch, in scoring order, gives the trend.

A department "needs rectification" (需整改) when the latest batch of one of its resources was
held by the quality gate or one of its rectification tasks (整改任务) is past its deadline: the
two things a quality team has to chase.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup

from jobs.quality.rules import DIMENSIONS
from jobs.reports import charts
from jobs.reports.labels import (
    BATCH_STATUS_LABELS,
    DIMENSION_LABELS,
    TASK_STATUS_LABELS,
    DepartmentName,
    Directory,
)

#: Below this a score is drawn in the warning colour. A reading aid, not a gate: the gates
#: are the suites' thresholds (jobs/quality/gates.py).
LOW_SCORE = 0.9
#: Batches shown on a trend line: the most recent ones (older ones stay in the table's history).
TREND_POINTS = 12
SCORE_KEYS: tuple[str, ...] = (*DIMENSIONS, "overall")


def mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _day(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "—"
    return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()


def trend_floor(values: Iterable[float | None]) -> float:
    """The trend axis' lower end: the lowest score rounded down to 10%, so that differences of a
    few points between batches are visible (scores mostly sit above 90%)."""
    present = [v for v in values if v is not None]
    return max(0.0, math.floor(min(present, default=0.0) * 10) / 10)


def _score_classes(values: Iterable[float | None]) -> list[str]:
    return ["low" if v is not None and v < LOW_SCORE else "" for v in values]


@dataclass(frozen=True)
class ResourceScorecard:
    resource_id: str
    label: str
    batches: int
    latest_batch_id: str
    latest_scored_on: str
    latest_status: str
    latest_status_label: str
    latest_rows: int
    checks_run: int
    checks_failed: int
    scores: dict[str, float | None]  # SCORE_KEYS → latest score
    held_batches: int
    dimension_chart: Markup
    trend_chart: Markup


@dataclass(frozen=True)
class TaskLine:
    resource_id: str
    expectation: str
    dimension: str
    severity: str
    status: str
    status_label: str
    detected_on: str
    deadline: str
    deadline_provisional: bool
    message: str


@dataclass(frozen=True)
class DepartmentQuality:
    department: DepartmentName
    resources: list[ResourceScorecard]
    mean_scores: dict[str, float | None]  # SCORE_KEYS → mean over its resources' latest
    tasks_open: int
    tasks_overdue: int
    tasks_closed: int
    unresolved_tasks: list[TaskLine]
    held_latest: list[str]  # resources whose latest batch is held
    dimension_chart: Markup

    @property
    def needs_rectification(self) -> bool:
        return bool(self.held_latest) or self.tasks_overdue > 0

    @property
    def has_scores(self) -> bool:
        return bool(self.resources)


@dataclass(frozen=True)
class QualityReport:
    departments: list[DepartmentQuality]
    overview_chart: Markup
    resources_scored: int
    batches_scored: int
    tasks_by_status: dict[str, int] = field(default_factory=dict)
    dimension_labels: Mapping[str, str] = field(default_factory=lambda: DIMENSION_LABELS)

    @property
    def tasks_total(self) -> int:
        return sum(self.tasks_by_status.values())


def _resource_scorecard(label: str, history: list[dict]) -> ResourceScorecard:
    history = sorted(history, key=lambda r: (r["scored_at"], r["batch_id"]))
    latest = history[-1]
    scores = {k: latest.get(k) for k in SCORE_KEYS}
    recent = history[-TREND_POINTS:]
    values = [scores[d] for d in DIMENSIONS]
    return ResourceScorecard(
        resource_id=f"{latest['department']}.{latest['resource']}",
        label=label,
        batches=len(history),
        latest_batch_id=latest["batch_id"],
        latest_scored_on=_day(latest["scored_at"]),
        latest_status=latest["status"],
        latest_status_label=BATCH_STATUS_LABELS.get(latest["status"], latest["status"]),
        latest_rows=int(latest.get("row_count") or 0),
        checks_run=int(latest.get("checks_run") or 0),
        checks_failed=int(latest.get("checks_failed") or 0),
        scores=scores,
        held_batches=sum(1 for r in history if r["status"] == "held"),
        dimension_chart=charts.bar_chart(
            [DIMENSION_LABELS[d] for d in DIMENSIONS],
            values,
            title=f"{label}: scores per dimension, batch {latest['batch_id']}",
            classes=_score_classes(values),
        ),
        trend_chart=charts.line_chart(
            [r["batch_id"] for r in recent],
            [
                ("总分 overall", "overall", [r.get("overall") for r in recent]),
                *[(DIMENSION_LABELS[d], d, [r.get(d) for r in recent]) for d in DIMENSIONS],
            ],
            title=f"{label}: scores over the last {len(recent)} batches",
            min_value=trend_floor(r.get(k) for r in recent for k in SCORE_KEYS),
        ),
    )


def _task_line(task: Mapping) -> TaskLine:
    return TaskLine(
        resource_id=f"{task['department']}.{task['resource']}",
        expectation=task["expectation"],
        dimension=DIMENSION_LABELS.get(task.get("dimension") or "", task.get("dimension") or "—"),
        severity=task.get("severity") or "",
        status=task["status"],
        status_label=TASK_STATUS_LABELS.get(task["status"], task["status"]),
        detected_on=_day(task.get("detected_on")),
        deadline=_day(task.get("deadline")),
        deadline_provisional=bool(task.get("deadline_provisional")),
        message=task.get("message") or "",
    )


def task_status_on(task: Mapping, today: dt.date) -> str:
    """A task's status as of ``today``: an open task past its deadline is overdue even if the
    pipeline has not run since the deadline passed (the stored status is as of the last run)."""
    status = task["status"]
    deadline = task.get("deadline")
    if status == "open" and deadline is not None and deadline < today:
        return "overdue"
    return status


def build_quality_report(
    scorecards: Iterable[Mapping],
    tasks: Iterable[Mapping],
    directory: Directory,
    today: dt.date,
) -> QualityReport:
    """The quality report's view model.

    Args:
        scorecards: rows of ``governance/quality_scorecards``.
        tasks: rows of ``governance/rectification_tasks``.
        directory: department and resource names (catalog).
        today: the day overdue is judged on.
    """
    by_resource: dict[tuple[str, str], list[dict]] = {}
    for row in scorecards:
        by_resource.setdefault((row["department"], row["resource"]), []).append(dict(row))
    tasks = [{**t, "status": task_status_on(t, today)} for t in tasks]
    codes = directory.department_codes(
        *(d for d, _ in by_resource), *(t["department"] for t in tasks)
    )
    departments = []
    for code in codes:
        resources = [
            _resource_scorecard(directory.resource(dept, res).label, history)
            for (dept, res), history in sorted(by_resource.items())
            if dept == code
        ]
        mine = [t for t in tasks if t["department"] == code]
        unresolved = sorted(
            (t for t in mine if t["status"] in ("open", "overdue")),
            key=lambda t: (t.get("deadline") or dt.date.max, t["resource"], t["expectation"]),
        )
        means = {k: mean(r.scores[k] for r in resources) for k in SCORE_KEYS}
        dim_values = [means[d] for d in DIMENSIONS]
        name = directory.department(code)
        departments.append(
            DepartmentQuality(
                department=name,
                resources=resources,
                mean_scores=means,
                tasks_open=sum(1 for t in mine if t["status"] == "open"),
                tasks_overdue=sum(1 for t in mine if t["status"] == "overdue"),
                tasks_closed=sum(1 for t in mine if t["status"] == "closed"),
                unresolved_tasks=[_task_line(t) for t in unresolved],
                held_latest=[r.resource_id for r in resources if r.latest_status == "held"],
                dimension_chart=charts.bar_chart(
                    [DIMENSION_LABELS[d] for d in DIMENSIONS],
                    dim_values,
                    title=f"{name.label}: mean score per dimension",
                    classes=_score_classes(dim_values),
                )
                if resources
                else Markup(""),
            )
        )
    overall = [d.mean_scores["overall"] for d in departments]
    tasks_by_status: dict[str, int] = {}
    for t in tasks:
        tasks_by_status[t["status"]] = tasks_by_status.get(t["status"], 0) + 1
    return QualityReport(
        departments=departments,
        overview_chart=charts.bar_chart(
            [d.department.short for d in departments],
            overall,
            title="Overall quality score per department (mean of its resources' latest batch)",
            classes=_score_classes(overall),
        ),
        resources_scored=len(by_resource),
        batches_scored=sum(len(h) for h in by_resource.values()),
        tasks_by_status=dict(sorted(tasks_by_status.items())),
    )
